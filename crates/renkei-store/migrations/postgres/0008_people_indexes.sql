-- Fewer index writes per imported person (postgres). Keep in step with
-- ../sqlite/0008_people_indexes.sql, which says why. The change feed is rebuilt as there, so
-- that both backends keep one history of their schemas; PostgreSQL has no WITHOUT ROWID, and
-- its table stays a heap with its primary key.
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
    seq        BIGINT NOT NULL,
    person_id  BIGINT NOT NULL,
    kind       TEXT NOT NULL,
    at         BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, seq)
);
INSERT INTO person_changes_new (tenant_id, seq, person_id, kind, at)
    SELECT tenant_id, seq, person_id, kind, at FROM person_changes;
DROP TABLE person_changes;
ALTER TABLE person_changes_new RENAME TO person_changes;
ALTER INDEX person_changes_new_pkey RENAME TO person_changes_pkey;
