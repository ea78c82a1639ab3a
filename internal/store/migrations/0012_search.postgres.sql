-- The catalog's search index (internal/search): one row per indexed
-- document with its facets, postings per (term, document) with the term's
-- frequency in each field, and facet counts kept current at index time so an
-- unfiltered browse does not scan every document. The postings key
-- includes the frequencies so a term's postings come from the index alone.
CREATE TABLE search_docs (
    kind TEXT NOT NULL,
    id BIGINT NOT NULL,
    code TEXT NOT NULL,
    name TEXT NOT NULL,
    public BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    department TEXT NOT NULL,
    domain TEXT NOT NULL,
    grade TEXT NOT NULL,
    region TEXT NOT NULL,
    frequency TEXT NOT NULL,
    name_len BIGINT NOT NULL,
    cols_len BIGINT NOT NULL,
    desc_len BIGINT NOT NULL,
    PRIMARY KEY (kind, id)
);
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
    doc_id BIGINT NOT NULL,
    tf_name BIGINT NOT NULL,
    tf_cols BIGINT NOT NULL,
    tf_desc BIGINT NOT NULL,
    PRIMARY KEY (term, kind, doc_id) INCLUDE (tf_name, tf_cols, tf_desc)
);
-- ;
CREATE INDEX search_postings_doc ON search_postings (kind, doc_id);
-- ;
CREATE TABLE search_facets (
    kind TEXT NOT NULL,
    public BIGINT NOT NULL,
    facet TEXT NOT NULL,
    value TEXT NOT NULL,
    n BIGINT NOT NULL,
    PRIMARY KEY (kind, public, facet, value)
);
