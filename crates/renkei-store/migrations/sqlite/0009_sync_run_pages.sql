-- Staged import pages (sqlite). Keep in step with ../postgres/0009_sync_run_pages.sql.
--
-- A run whose provider answers in small pages (HubSpot 100, Zoho 200) stages each page's
-- converted people here, in the transaction of the page's checkpoint, and merges them into
-- `people` once some 2,000 have gathered (docs/benchmarks.md, "People import"). One row is
-- one page, appended at the end of the table's B-tree: a page costs a few written database
-- pages instead of one for every index leaf its people touch. The merge deletes the run's rows
-- in its own transaction, so a crash leaves either the rows or the people, never both or
-- neither.
CREATE TABLE sync_run_pages (
    run_id  INTEGER NOT NULL REFERENCES sync_runs (id) ON DELETE CASCADE,
    seq     INTEGER NOT NULL,
    items   TEXT NOT NULL,
    PRIMARY KEY (run_id, seq)
);
