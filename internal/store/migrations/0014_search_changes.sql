-- The catalog search answers from memory (internal/search.Index); these
-- tables keep every process's copy equal to the store. search_meta.gen is
-- bumped by each transaction that changes the index, under the row's lock,
-- so generations commit in order; search_changes names the documents each
-- generation touched, so a process catches up by reloading just those.
-- The facet counts and facet indexes served the SQL-side search, which
-- the in-memory one replaces.
CREATE TABLE search_meta (
    id INTEGER PRIMARY KEY,
    gen BIGINT NOT NULL
);
-- ;
INSERT INTO search_meta (id, gen) VALUES (1, 0);
-- ;
CREATE TABLE search_changes (
    gen BIGINT NOT NULL,
    kind TEXT NOT NULL,
    doc_id BIGINT NOT NULL,
    PRIMARY KEY (gen, kind, doc_id)
);
-- ;
DROP TABLE search_facets;
-- ;
DROP INDEX search_docs_updated;
-- ;
DROP INDEX search_docs_department;
-- ;
DROP INDEX search_docs_domain;
-- ;
DROP INDEX search_docs_grade;
-- ;
DROP INDEX search_docs_region;
-- ;
DROP INDEX search_docs_frequency;
