//! The two migration sets must describe the same schema.

use std::collections::BTreeMap;

use renkei_store::testing::TestDb;

/// Table → column → NOT NULL, read from a migration file, and each index as the table
/// `index NAME` with its definition as the one column. Good enough for our DDL, which keeps one
/// column per line and one index per line (whose syntax the two backends share).
fn columns(sql: &str) -> BTreeMap<String, BTreeMap<String, bool>> {
    let mut out: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
    let mut table: Option<String> = None;
    for line in sql.lines().map(str::trim) {
        if let Some(rest) = line
            .strip_prefix("CREATE INDEX ")
            .or_else(|| line.strip_prefix("CREATE UNIQUE INDEX "))
        {
            let name = rest.split_whitespace().next().unwrap().to_owned();
            out.entry(format!("index {name}"))
                .or_default()
                .insert(line.to_owned(), line.starts_with("CREATE UNIQUE"));
            continue;
        }
        // `ALTER TABLE t ADD COLUMN c …` adds one column to an earlier table.
        if let Some(rest) = line.strip_prefix("ALTER TABLE ") {
            let mut words = rest.split_whitespace();
            let t = words.next().unwrap().to_owned();
            let col = words.nth(2).unwrap().to_owned();
            out.entry(t)
                .or_default()
                .insert(col, line.contains("NOT NULL"));
            continue;
        }
        if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
            table = Some(rest.split_whitespace().next().unwrap().to_owned());
            continue;
        }
        if line.starts_with(')') {
            table = None;
            continue;
        }
        let Some(t) = &table else { continue };
        let first = line.split_whitespace().next().unwrap_or("");
        if first.is_empty()
            || first.starts_with("--")
            || matches!(first, "PRIMARY" | "UNIQUE" | "FOREIGN")
        {
            continue;
        }
        let not_null = line.contains("NOT NULL") || line.contains("PRIMARY KEY");
        out.entry(t.clone())
            .or_default()
            .insert(first.to_owned(), not_null);
    }
    out
}

#[test]
fn sqlite_and_postgres_migrations_agree() {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/migrations");
    let mut names: Vec<_> = std::fs::read_dir(format!("{dir}/sqlite"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let lite = std::fs::read_to_string(format!("{dir}/sqlite/{name}")).unwrap();
        let pg = std::fs::read_to_string(format!("{dir}/postgres/{name}"))
            .unwrap_or_else(|_| panic!("migrations/postgres/{name} is missing"));
        let (a, b) = (columns(&lite), columns(&pg));
        assert!(!a.is_empty(), "{name}: parsed no tables and no indexes");
        assert_eq!(
            a, b,
            "{name}: tables, columns, NOT NULL or indexes differ between backends"
        );
    }
}

#[tokio::test]
async fn migrations_apply_and_are_idempotent() {
    let db = TestDb::new_unmigrated().await;
    db.store.migrate().await.unwrap();
    db.store.migrate().await.unwrap();
    db.store.ping().await.unwrap();
    db.cleanup().await;
}
