-- The catalog's search index (internal/search): one row per indexed
-- document with its facets, postings per (term, document) with the term's
-- frequency in each field, and facet counts kept current at index time so an
-- unfiltered browse does not scan every document. WITHOUT ROWID keeps
-- postings clustered by term: a term's postings are one range read.
CREATE TABLE search_docs (
    kind TEXT NOT NULL,
    id INTEGER NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    public INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    department TEXT NOT NULL,
    domain TEXT NOT NULL,
    grade TEXT NOT NULL,
    region TEXT NOT NULL,
    frequency TEXT NOT NULL,
    name_len INTEGER NOT NULL,
    cols_len INTEGER NOT NULL,
    desc_len INTEGER NOT NULL,
    PRIMARY KEY (kind, id)
) WITHOUT ROWID;
-- ;
CREATE INDEX search_docs_updated ON search_docs (public, updated_at);
-- ;
CREATE INDEX search_docs_department ON search_docs (department);
-- ;
CREATE INDEX search_docs_domain ON search_docs (domain);
-- ;
CREATE INDEX search_docs_grade ON search_docs (grade);
-- ;
CREATE INDEX search_docs_region ON search_docs (region);
-- ;
CREATE INDEX search_docs_frequency ON search_docs (frequency);
-- ;
CREATE TABLE search_postings (
    term TEXT NOT NULL,
    kind TEXT NOT NULL,
    doc_id INTEGER NOT NULL,
    tf_name INTEGER NOT NULL,
    tf_cols INTEGER NOT NULL,
    tf_desc INTEGER NOT NULL,
    PRIMARY KEY (term, kind, doc_id)
) WITHOUT ROWID;
-- ;
CREATE INDEX search_postings_doc ON search_postings (kind, doc_id);
-- ;
CREATE TABLE search_facets (
    kind TEXT NOT NULL,
    public INTEGER NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    n INTEGER NOT NULL,
    PRIMARY KEY (kind, public, facet, value)
) WITHOUT ROWID;
