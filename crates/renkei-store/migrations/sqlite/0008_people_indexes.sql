-- Fewer index writes per imported person (sqlite). Keep in step with
-- ../postgres/0008_people_indexes.sql.
--
-- An import writes every person into each index of `people`, and on SQLite that work runs on
-- the one writer thread that bounds its throughput (docs/benchmarks.md, "People import").
--
-- * `people_remote` goes: a page is now looked up by (object, remote id), which the unique key
--   serves.
-- * The matching keys are indexed only where they are set. Every lookup names a value
--   (`= ?` or `IN (…)`), which implies NOT NULL, so the partial indexes serve them; a person
--   without a second phone, an email or a company no longer costs an index entry for it.
-- * `people_identity` carries `chosen`, so that the chosen row of a key is found without
--   reading the key's other rows from the table: a key shared by a whole company's people
--   (its main number) was read again, row by row, on every page that added to it.
-- * The change feed's rows live in their primary key's B-tree (WITHOUT ROWID), one B-tree
--   written per change instead of two.
DROP INDEX people_remote;
DROP INDEX people_identity;
CREATE INDEX people_identity ON people (tenant_id, provider, identity_key, chosen)
    WHERE identity_key IS NOT NULL;
DROP INDEX people_phone;
CREATE INDEX people_phone ON people (tenant_id, phone_key) WHERE phone_key IS NOT NULL;
DROP INDEX people_phone2;
CREATE INDEX people_phone2 ON people (tenant_id, phone2_key) WHERE phone2_key IS NOT NULL;
DROP INDEX people_email;
CREATE INDEX people_email ON people (tenant_id, email_key) WHERE email_key IS NOT NULL;
DROP INDEX people_company;
CREATE INDEX people_company ON people (tenant_id, company_key) WHERE company_key IS NOT NULL;

CREATE TABLE person_changes_new (
    tenant_id  TEXT NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    seq        INTEGER NOT NULL,
    person_id  INTEGER NOT NULL,
    kind       TEXT NOT NULL,
    at         INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, seq)
) WITHOUT ROWID;
INSERT INTO person_changes_new (tenant_id, seq, person_id, kind, at)
    SELECT tenant_id, seq, person_id, kind, at FROM person_changes;
DROP TABLE person_changes;
ALTER TABLE person_changes_new RENAME TO person_changes;
