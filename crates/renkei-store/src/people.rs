//! People imported from the CRMs, their identity choice, and the tenant's change feed.
//!
//! A page of an import, or a [`PageGroup`] of staged pages as one (see
//! [`Store::stage_sync_pages`]), is applied by [`Store::apply_people`] inside the caller's
//! transaction (which also writes the run's checkpoint): one read of the rows the page names,
//! multi-row inserts for new people, updates only where the content hash differs and the
//! incoming version is not older than the live row's, then the identity
//! choice for every identity key the page touched, and finally one change-feed entry per
//! person whose visibility or content changed for the host app. A person is *visible* when it
//! is live and `chosen`; the change feed speaks only of visible people: `created` when one
//! becomes visible, `updated` when a visible one changes, `deleted` when one stops being
//! visible (deleted at the CRM, no longer importable, or shadowed by another record with the
//! same identity key).
//!
//! The identity choice is deterministic (PRODUCT.md 4.3: "exactly one is chosen"): a Contact
//! before a Lead (a contact is the qualified form of a person), then the earliest created at
//! the CRM, then the smallest remote id. It does not depend on modification times, so editing
//! one of two duplicates does not flip which one the host app sees.
//!
//! The page's lookups by a list of keys are written once per backend. SQLite takes
//! `col IN (?, ?, …)` as a list to probe an index with. PostgreSQL plans such a list from the
//! table's statistics, and without fresh ones (autovacuum off, or an import that has grown
//! the table since it last ran) it judged that 500 remote ids match the whole table, scanned
//! every row of the tenant's provider and compared each with the 500 values one by one: a page
//! cost O(stored × page) comparisons, and a 100,000-person import ran at 218 people/s
//! (docs/benchmarks.md). There the keys are joined as a table (`unnest($3::text[])`), which is
//! planned as index probes or a hash join whatever the statistics say, and bound as one array
//! instead of hundreds of parameters.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::sync::OnceLock;

use renkei_core::{Millis, TenantId};
use serde::{Deserialize, Serialize};

use crate::{DbRow, Marks, Store, StoreError, Tx, TxInner, decode_err, on_pool, on_tx};

/// A person as an import page delivers it, already normalised by the engine.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonUpsert {
    pub object: String,
    pub remote_id: String,
    pub display_name: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub company: Option<String>,
    pub emails: Vec<String>,
    /// The JSON text of the phones' array (raw value, E.164, extension, which field), as
    /// stored. Text rather than a `serde_json::Value`: the engine writes it while it converts a
    /// page, off the writer's path, and the store binds it as it is.
    pub phones: String,
    /// The JSON text of the postal address, as stored.
    pub address: Option<String>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub owner_id: Option<String>,
    pub remote_created_at: Option<Millis>,
    pub remote_updated_at: Millis,
    pub phone_key: Option<String>,
    pub phone2_key: Option<String>,
    pub email_key: Option<String>,
    pub company_key: Option<String>,
    pub name_key: Option<String>,
    /// The key of the connection's identity rule; `None` makes the person its own identity.
    pub identity_key: Option<String>,
    pub content_hash: String,
}

/// One item of an import page. Serialised when a run stages the page
/// ([`Store::stage_sync_pages`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum PageItem {
    Upsert(Box<PersonUpsert>),
    /// The record was deleted at the CRM, or no longer qualifies for import (`reason`).
    Remove {
        object: String,
        remote_id: String,
        at: Millis,
    },
}

impl PageItem {
    /// The record it is about: (object, remote id).
    pub fn key(&self) -> (&str, &str) {
        match self {
            PageItem::Upsert(p) => (&p.object, &p.remote_id),
            PageItem::Remove {
                object, remote_id, ..
            } => (object, remote_id),
        }
    }
}

/// Consecutive pages of an import, to be applied as one by [`Store::apply_people`], which
/// takes each record once: a record that several pages name keeps its last occurrence (the
/// newest the provider answered).
#[derive(Debug, Default)]
pub struct PageGroup {
    pages: Vec<Vec<PageItem>>,
    items: usize,
}

impl PageGroup {
    /// Adds a page whose records are each named once.
    pub fn push(&mut self, page: Vec<PageItem>) {
        self.items += page.len();
        self.pages.push(page);
    }

    /// Items in the group, a record named by two pages counted twice.
    pub fn items(&self) -> usize {
        self.items
    }

    /// The group's pages, in order.
    pub fn pages(&self) -> &[Vec<PageItem>] {
        &self.pages
    }

    /// The group's items, each record once, leaving it empty.
    pub fn take(&mut self) -> Vec<PageItem> {
        self.items = 0;
        let mut pages = std::mem::take(&mut self.pages);
        if pages.len() <= 1 {
            return pages.pop().unwrap_or_default();
        }
        // Which occurrences are the last of their record, found from the newest page back.
        let keep: Vec<Vec<bool>> = {
            let mut seen: HashSet<(&str, &str)> = HashSet::new();
            let mut keep: Vec<Vec<bool>> = pages
                .iter()
                .rev()
                .map(|p| p.iter().rev().map(|i| seen.insert(i.key())).collect())
                .collect();
            keep.reverse();
            for k in &mut keep {
                k.reverse();
            }
            keep
        };
        pages
            .into_iter()
            .zip(keep)
            .flat_map(|(page, keep)| page.into_iter().zip(keep).filter(|(_, k)| *k))
            .map(|(item, _)| item)
            .collect()
    }
}

/// What applying a page did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageOutcome {
    /// Rows inserted.
    pub inserted: u64,
    /// Rows whose content changed.
    pub updated: u64,
    /// Rows fetched again with the same content.
    pub unchanged: u64,
    /// Rows marked deleted.
    pub removed: u64,
    /// Change-feed entries written.
    pub changes: u64,
}

/// A stored person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Person {
    pub id: i64,
    pub tenant_id: TenantId,
    pub provider: String,
    pub object: String,
    pub remote_id: String,
    pub display_name: Option<String>,
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub company: Option<String>,
    pub emails: Vec<String>,
    pub phones: serde_json::Value,
    pub address: Option<serde_json::Value>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    pub owner_id: Option<String>,
    pub remote_created_at: Option<Millis>,
    pub remote_updated_at: Millis,
    pub deleted: bool,
    pub phone_key: Option<String>,
    pub phone2_key: Option<String>,
    pub email_key: Option<String>,
    pub company_key: Option<String>,
    pub name_key: Option<String>,
    pub identity_key: Option<String>,
    pub chosen: bool,
    pub duplicate_of: Option<i64>,
    pub created_at: Millis,
    pub updated_at: Millis,
}

impl Person {
    /// Live and chosen: what the host app sees as a customer.
    pub fn visible(&self) -> bool {
        !self.deleted && self.chosen
    }
}

/// One entry of the change feed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub seq: i64,
    pub person_id: i64,
    /// `created`, `updated` or `deleted`.
    pub kind: String,
    pub at: Millis,
    /// The person as it is now (also for `deleted`, so the host app knows which record left).
    pub person: Option<Person>,
}

/// A people lookup. Every given criterion must hold.
#[derive(Debug, Clone, Default)]
pub struct PeopleFilter {
    /// Any of these E.164 keys, in the main or the second phone.
    pub phone_keys: Vec<String>,
    pub email_key: Option<String>,
    /// The company key (`renkei_core::company_key`), exactly.
    pub company_key: Option<String>,
    /// The name key (`renkei_core::name_key`), exactly.
    pub name_key: Option<String>,
    /// A case-insensitive substring of the display name, company, or email.
    pub q: Option<String>,
    pub provider: Option<String>,
    /// Include deleted and shadowed rows (default: only visible people).
    pub include_hidden: bool,
}

const COLUMNS: &str = "id, tenant_id, provider, object, remote_id, display_name, last_name, \
    first_name, company, emails, phones, address, department, title, description, owner_id, \
    remote_created_at, remote_updated_at, deleted, phone_key, phone2_key, email_key, \
    company_key, name_key, identity_key, chosen, duplicate_of, created_at, updated_at";

fn person_from_row(row: &impl DbRow) -> Result<Person, StoreError> {
    let json = |col: &str| -> Result<serde_json::Value, StoreError> {
        serde_json::from_str(&row.text(col)?).map_err(|e| decode_err(col, e))
    };
    Ok(Person {
        id: row.int("id")?,
        tenant_id: TenantId::parse(&row.text("tenant_id")?)
            .map_err(|e| decode_err("people.tenant_id", e))?,
        provider: row.text("provider")?,
        object: row.text("object")?,
        remote_id: row.text("remote_id")?,
        display_name: row.opt_text("display_name")?,
        last_name: row.opt_text("last_name")?,
        first_name: row.opt_text("first_name")?,
        company: row.opt_text("company")?,
        emails: serde_json::from_str(&row.text("emails")?)
            .map_err(|e| decode_err("people.emails", e))?,
        phones: json("phones")?,
        address: match row.opt_text("address")? {
            Some(a) => Some(serde_json::from_str(&a).map_err(|e| decode_err("people.address", e))?),
            None => None,
        },
        department: row.opt_text("department")?,
        title: row.opt_text("title")?,
        description: row.opt_text("description")?,
        owner_id: row.opt_text("owner_id")?,
        remote_created_at: row.opt_int("remote_created_at")?.map(Millis),
        remote_updated_at: Millis(row.int("remote_updated_at")?),
        deleted: row.int("deleted")? != 0,
        phone_key: row.opt_text("phone_key")?,
        phone2_key: row.opt_text("phone2_key")?,
        email_key: row.opt_text("email_key")?,
        company_key: row.opt_text("company_key")?,
        name_key: row.opt_text("name_key")?,
        identity_key: row.opt_text("identity_key")?,
        chosen: row.int("chosen")? != 0,
        duplicate_of: row.opt_int("duplicate_of")?,
        created_at: Millis(row.int("created_at")?),
        updated_at: Millis(row.int("updated_at")?),
    })
}

/// What `apply_people` needs to know of an existing row.
#[derive(Debug, Clone)]
struct Existing {
    id: i64,
    content_hash: String,
    remote_updated_at: i64,
    deleted: bool,
    chosen: bool,
    identity_key: Option<String>,
}

/// A row taking part in an identity choice.
#[derive(Debug, Clone)]
struct Candidate {
    id: i64,
    object: String,
    remote_id: String,
    remote_created_at: Option<i64>,
    chosen: bool,
    duplicate_of: Option<i64>,
}

/// The deterministic order of the identity choice (see the module documentation).
fn preference(c: &Candidate) -> (u8, i64, &str) {
    (
        if c.object == "contact" { 0 } else { 1 },
        c.remote_created_at.unwrap_or(i64::MAX),
        c.remote_id.as_str(),
    )
}

/// Keys per `IN (…)` list and entries per multi-row statement of few columns.
const CHUNK: usize = 500;

/// The rows of a SQLite query that selects them as one `json_group_array` of `json_array`s
/// (or of single values), decoded into `T`s.
///
/// sqlx's SQLite driver runs statements on a thread of its own and hands each result row to the
/// task over a channel, a wake-up a row. A merge's lookups answer a row for most of its people
/// once they are stored (a re-import, or keys shared by many: Zoho's default identity, name and
/// company, gave the bench's 100,000 people 13,000 keys), and those hand-overs cost more than
/// the lookups: the identity lookups of a 100,000-person Zoho import took 1.0 s of the writer's
/// time, and 0.5 s as one row each (docs/benchmarks.md). SQLite writes the JSON and serde reads
/// it back in a fraction of that.
fn json_rows<T: serde::de::DeserializeOwned>(
    json: &str,
    what: &'static str,
) -> Result<Vec<T>, StoreError> {
    serde_json::from_str(json).map_err(|e| decode_err(what, e))
}

/// `n` anonymous SQLite placeholders (see [`Marks`] for why anonymous).
fn sqlite_marks(n: usize) -> String {
    vec!["?"; n].join(", ")
}

/// Rows per multi-row `INSERT INTO people`: 26 parameters each, within SQLite's limit of 32,766
/// a statement. The statements bind anonymous parameters on SQLite ([`Marks`]), so a larger
/// statement costs no more per row to bind, and fewer statements mean fewer round trips to
/// sqlx's SQLite thread.
const INSERT_CHUNK: usize = 250;

/// The multi-row `INSERT INTO people` of `rows` rows. Every full chunk of an import uses the
/// same text, some 7,000 placeholders long, so that one is built once per backend.
fn insert_people_sql(sqlite: bool, rows: usize) -> Cow<'static, str> {
    static FULL: [OnceLock<String>; 2] = [OnceLock::new(), OnceLock::new()];
    let build = || {
        let mut m = Marks::for_backend(sqlite);
        let rows: Vec<String> = (0..rows)
            .map(|_| {
                let (t, p) = (m.next(), m.next());
                let fields = m.list(22);
                let (c, u) = (m.next(), m.next());
                format!("({t}, {p}, {fields}, 0, 1, NULL, {c}, {u})")
            })
            .collect();
        // `OR FAIL` on SQLite: with the default `OR ABORT`, SQLite keeps a statement journal
        // (a copy of every database page the statement changes) to undo a multi-row insert
        // that breaks a constraint part-way (https://www.sqlite.org/tempfiles.html, 2.5). The
        // error of any statement here rolls the whole transaction back, so that copy bought
        // nothing but a few per cent of the writer's time in an import.
        format!(
            "INSERT {}INTO people (tenant_id, provider, object, remote_id, display_name, last_name,
                 first_name, company, emails, phones, address, department, title, description,
                 owner_id, remote_created_at, remote_updated_at, phone_key, phone2_key, email_key,
                 company_key, name_key, identity_key, content_hash,
                 deleted, chosen, duplicate_of, created_at, updated_at)
             VALUES {}",
            if sqlite { "OR FAIL " } else { "" },
            rows.join(", ")
        )
    };
    if rows == INSERT_CHUNK {
        Cow::Borrowed(FULL[usize::from(sqlite)].get_or_init(build).as_str())
    } else {
        Cow::Owned(build())
    }
}

/// The JSON text of each row's `emails`, as the insert binds it.
fn emails_json(rows: &[&PersonUpsert]) -> Vec<String> {
    rows.iter()
        .map(|p| serde_json::to_string(&p.emails).unwrap_or_else(|_| "[]".into()))
        .collect()
}

/// Binds a [`PersonUpsert`]'s stored fields, from `display_name` to `content_hash`, in the
/// column order both the insert and the update of a person list them; `emails` is the JSON text
/// of that field.
macro_rules! bind_person_fields {
    ($q:expr, $p:expr, $emails:expr) => {
        $q.bind($p.display_name.as_deref())
            .bind($p.last_name.as_deref())
            .bind($p.first_name.as_deref())
            .bind($p.company.as_deref())
            .bind($emails.as_str())
            .bind($p.phones.as_str())
            .bind($p.address.as_deref())
            .bind($p.department.as_deref())
            .bind($p.title.as_deref())
            .bind($p.description.as_deref())
            .bind($p.owner_id.as_deref())
            .bind($p.remote_created_at.map(|m| m.0))
            .bind($p.remote_updated_at.0)
            .bind($p.phone_key.as_deref())
            .bind($p.phone2_key.as_deref())
            .bind($p.email_key.as_deref())
            .bind($p.company_key.as_deref())
            .bind($p.name_key.as_deref())
            .bind($p.identity_key.as_deref())
            .bind($p.content_hash.as_str())
    };
}

impl Store {
    /// Applies one page of an import for `tenant`'s `provider` in `tx`. The same
    /// (object, remote id) must not appear twice in `items`; the engine dedupes a page first.
    pub async fn apply_people(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        provider: &str,
        items: &[PageItem],
        now: Millis,
    ) -> Result<PageOutcome, StoreError> {
        let mut out = PageOutcome::default();
        if items.is_empty() {
            return Ok(out);
        }
        // 1. What the page's rows are now, keyed by (object, remote id).
        let existing = self.existing_people(tx, tenant, provider, items).await?;
        // Visibility before the page, for the change feed: id → visible.
        let mut before: HashMap<i64, bool> = existing
            .values()
            .map(|e| (e.id, !e.deleted && e.chosen))
            .collect();
        // Visibility after the page, where the page changes it: every statement below that
        // moves `deleted` or `chosen` records its effect here, so that the change feed needs no
        // second read of the rows.
        let mut after: HashMap<i64, bool> = HashMap::new();
        let mut content_changed: HashSet<i64> = HashSet::new();
        let mut identity_keys: HashSet<String> = HashSet::new();
        let mut inserts: Vec<&PersonUpsert> = Vec::new();
        for item in items {
            match item {
                PageItem::Upsert(p) => {
                    match existing.get(&(p.object.clone(), p.remote_id.clone())) {
                        None => inserts.push(p),
                        // Older than the live row: a staged page's version that a webhook's
                        // sync overtook while the page waited for its merge (see
                        // `Store::stage_sync_pages`). The newer one stays.
                        Some(e) if !e.deleted && e.remote_updated_at > p.remote_updated_at.0 => {
                            out.unchanged += 1;
                        }
                        Some(e) if e.content_hash == p.content_hash && !e.deleted => {
                            out.unchanged += 1;
                        }
                        Some(e) => {
                            self.update_person_row(tx, e.id, p, now).await?;
                            out.updated += 1;
                            content_changed.insert(e.id);
                            // The update revives a deleted row and keeps `chosen` unless the
                            // row has no identity key (then it is its own identity).
                            after.insert(e.id, p.identity_key.is_none() || e.chosen);
                            // The old identity key may have lost its chosen row.
                            if let Some(k) = &e.identity_key {
                                identity_keys.insert(k.clone());
                            }
                            if let Some(k) = &p.identity_key {
                                identity_keys.insert(k.clone());
                            }
                        }
                    }
                }
                PageItem::Remove {
                    object,
                    remote_id,
                    at,
                } => {
                    if let Some(e) = existing.get(&(object.clone(), remote_id.clone()))
                        && !e.deleted
                    {
                        let key: Option<String> = on_tx!(tx, |conn| {
                            sqlx::query_scalar(
                                "UPDATE people SET deleted = 1, chosen = 0, duplicate_of = NULL,
                                     remote_updated_at = $2, updated_at = $3
                                 WHERE id = $1 RETURNING identity_key",
                            )
                            .bind(e.id)
                            .bind(at.0.max(0))
                            .bind(now.0)
                            .fetch_one(conn)
                            .await?
                        });
                        out.removed += 1;
                        after.insert(e.id, false);
                        if let Some(k) = key {
                            identity_keys.insert(k);
                        }
                    }
                }
            }
        }
        // 2. The chosen row of each key that new rows join, read before they are inserted (they
        //    start chosen, and reading them back would only cost a row each). Every key with a
        //    live row has exactly one chosen row, so the choice among the old rows and the new
        //    ones is between that row and the new ones: no need to read the key's other rows,
        //    which an import would otherwise re-read on every page that adds to a key shared by
        //    many records (a company's main number), a read growing with the table
        //    (docs/benchmarks.md). Keys that a row of this page also left or changed in get
        //    the full choice of step 4b instead.
        let mut fast: Vec<&str> = inserts
            .iter()
            .filter_map(|p| p.identity_key.as_deref())
            .filter(|k| !identity_keys.contains(*k))
            .collect();
        fast.sort_unstable();
        fast.dedup();
        let mut incumbents: HashMap<String, Vec<Candidate>> = HashMap::new();
        for chunk in fast.chunks(CHUNK) {
            for (k, c) in self
                .identity_candidates(tx, tenant, provider, chunk, true)
                .await?
            {
                incumbents.entry(k).or_default().push(c);
            }
        }
        // 3. New rows, in multi-row inserts. They start chosen; the identity choice below
        //    demotes them where another row wins.
        let mut joined: HashMap<&str, Vec<Candidate>> = HashMap::new();
        let ids = self
            .insert_people(tx, tenant, provider, &inserts, now)
            .await?;
        out.inserted += ids.len() as u64;
        for (p, id) in inserts.iter().zip(&ids) {
            before.insert(*id, false);
            after.insert(*id, true);
            if let Some(k) = &p.identity_key {
                joined.entry(k.as_str()).or_default().push(Candidate {
                    id: *id,
                    object: p.object.clone(),
                    remote_id: p.remote_id.clone(),
                    remote_created_at: p.remote_created_at.map(|m| m.0),
                    chosen: true,
                    duplicate_of: None,
                });
            }
        }
        // 4. The identity choice for every key the page touched that needs one.
        // (row, the chosen row it duplicates, or none when it is the chosen one).
        let mut choices: Vec<(i64, Option<i64>)> = Vec::new();
        // 4a. Keys that only gained new rows (step 2).
        for k in &fast {
            let new = &joined[k];
            let old = incumbents.remove(*k).unwrap_or_default();
            if old.len() > 1 {
                // Not a state this module leaves; the full choice below repairs it.
                identity_keys.insert((*k).to_owned());
                continue;
            }
            let Some(winner) = old
                .iter()
                .chain(new)
                .min_by(|a, b| preference(a).cmp(&preference(b)))
                .map(|w| w.id)
            else {
                continue;
            };
            for c in new {
                if c.id != winner {
                    choices.push((c.id, Some(winner)));
                    after.insert(c.id, false);
                }
            }
            if let Some(o) = old.first()
                && o.id != winner
            {
                // A new row outranks the chosen one: it and the rows pointing at it now
                // point at the new row.
                choices.push((o.id, Some(winner)));
                before.entry(o.id).or_insert(true);
                after.insert(o.id, false);
                self.repoint_duplicates(tx, tenant, provider, k, o.id, winner)
                    .await?;
            }
        }
        // 4b. Every other key: all its live rows are read and the choice made again.
        let mut keys: Vec<String> = identity_keys.into_iter().collect();
        keys.sort();
        let mut contested = Vec::new();
        for chunk in keys.chunks(CHUNK) {
            contested.extend(self.contested_keys(tx, tenant, provider, chunk).await?);
        }
        for chunk in contested.chunks(CHUNK) {
            let cands = self
                .identity_candidates(tx, tenant, provider, chunk, false)
                .await?;
            let mut by_key: HashMap<&str, Vec<&(String, Candidate)>> = HashMap::new();
            for c in &cands {
                by_key.entry(c.0.as_str()).or_default().push(c);
            }
            for group in by_key.values() {
                let Some(winner) = group
                    .iter()
                    .min_by(|a, b| preference(&a.1).cmp(&preference(&b.1)))
                else {
                    continue;
                };
                // Only rows whose state differs are written: a phone number shared by many
                // records would otherwise cost a write per record on every page that touches
                // it. The writes of every group go out together below.
                for (_, c) in group.iter().map(|g| (&g.0, &g.1)) {
                    let should = c.id == winner.1.id;
                    let dup = if should { None } else { Some(winner.1.id) };
                    if c.chosen != should || c.duplicate_of != dup {
                        choices.push((c.id, dup));
                    }
                    before.entry(c.id).or_insert(c.chosen);
                    after.insert(c.id, should);
                }
            }
        }
        self.set_choices(tx, &choices).await?;
        // 5. The change feed: compare visibility after the page with before.
        let mut ids: Vec<i64> = before.keys().copied().collect();
        ids.sort_unstable();
        let mut changes: Vec<(i64, &'static str)> = Vec::new();
        for id in ids {
            let was = before.get(&id).copied().unwrap_or(false);
            let is = after.get(&id).copied().unwrap_or(was);
            let kind = match (was, is) {
                (false, true) => "created",
                (true, false) => "deleted",
                (true, true) if content_changed.contains(&id) => "updated",
                _ => continue,
            };
            changes.push((id, kind));
        }
        out.changes = self.append_changes(tx, tenant, &changes, now).await?;
        Ok(out)
    }

    async fn existing_people(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        provider: &str,
        items: &[PageItem],
    ) -> Result<HashMap<(String, String), Existing>, StoreError> {
        let mut out = HashMap::new();
        let keys: Vec<(&str, &str)> = items.iter().map(PageItem::key).collect();
        for chunk in keys.chunks(CHUNK) {
            // Looked up by (object, remote id), the unique key, so that no other index is
            // needed for it. Remote ids are unique per provider account in every CRM we speak
            // to (a Salesforce Lead and Contact never share an id, nor do Zoho's modules), but
            // the object is part of a person's identity here all the same.
            type Row = (i64, String, String, String, i64, i64, i64, Option<String>);
            let rows: Vec<Row> = match &mut tx.inner {
                TxInner::Sqlite(t) => {
                    let mut objects: Vec<&str> = chunk.iter().map(|(o, _)| *o).collect();
                    objects.sort_unstable();
                    objects.dedup();
                    let sql = format!(
                        "SELECT json_group_array(json_array(id, object, remote_id, content_hash,
                                    remote_updated_at, deleted, chosen, identity_key))
                         FROM people WHERE tenant_id = ? AND provider = ?
                           AND object IN ({}) AND remote_id IN ({})",
                        sqlite_marks(objects.len()),
                        sqlite_marks(chunk.len())
                    );
                    let mut q = sqlx::query_scalar(&sql)
                        .persistent(crate::cached(chunk.len(), CHUNK) && objects.len() == 1)
                        .bind(tenant.as_str())
                        .bind(provider);
                    for o in &objects {
                        q = q.bind(*o);
                    }
                    for (_, r) in chunk {
                        q = q.bind(*r);
                    }
                    // The lists pair every object with every id; keep the page's own pairs.
                    let wanted: HashSet<(&str, &str)> = chunk.iter().copied().collect();
                    let json: String = q.fetch_one(&mut **t).await?;
                    json_rows::<Row>(&json, "existing people")?
                        .into_iter()
                        .filter(|r| wanted.contains(&(r.1.as_str(), r.2.as_str())))
                        .collect()
                }
                // See the module doc for why PostgreSQL joins arrays instead.
                TxInner::Postgres(t) => {
                    let objects: Vec<&str> = chunk.iter().map(|(o, _)| *o).collect();
                    let ids: Vec<&str> = chunk.iter().map(|(_, r)| *r).collect();
                    sqlx::query_as(
                        "SELECT p.id, p.object, p.remote_id, p.content_hash, p.remote_updated_at,
                                p.deleted, p.chosen, p.identity_key
                         FROM unnest($3::text[], $4::text[]) AS k(object, remote_id)
                         JOIN people p ON p.object = k.object AND p.remote_id = k.remote_id
                         WHERE p.tenant_id = $1 AND p.provider = $2",
                    )
                    .bind(tenant.as_str())
                    .bind(provider)
                    .bind(&objects)
                    .bind(&ids)
                    .fetch_all(&mut **t)
                    .await?
                }
            };
            for (id, object, remote_id, content_hash, updated, deleted, chosen, identity_key) in
                rows
            {
                out.insert(
                    (object, remote_id),
                    Existing {
                        id,
                        content_hash,
                        remote_updated_at: updated,
                        deleted: deleted != 0,
                        chosen: chosen != 0,
                        identity_key,
                    },
                );
            }
        }
        Ok(out)
    }

    /// Inserts `rows`, in statements of [`INSERT_CHUNK`] rows, and answers their ids in the
    /// same order.
    async fn insert_people(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        provider: &str,
        rows: &[&PersonUpsert],
        now: Millis,
    ) -> Result<Vec<i64>, StoreError> {
        if rows.is_empty() {
            return Ok(Vec::new());
        }
        let sqlite = matches!(tx.inner, TxInner::Sqlite(_));
        macro_rules! bind_rows {
            ($q:ident, $chunk:expr, $emails:expr) => {
                for (p, emails) in $chunk.iter().zip($emails) {
                    $q = $q
                        .bind(tenant.as_str())
                        .bind(provider)
                        .bind(p.object.as_str())
                        .bind(p.remote_id.as_str());
                    $q = bind_person_fields!($q, p, emails).bind(now.0).bind(now.0);
                }
            };
        }
        let returned: Vec<(i64, String, String)> = match &mut tx.inner {
            // sqlx's SQLite driver runs statements on a thread of its own and hands each
            // result row over a channel, waking this task once a row: with `RETURNING`, the
            // hand-over of the new ids cost more than the insert (futex wake-ups were a third of
            // an import's CPU profile). The writer is SQLite's only connection and holds the
            // write lock for the whole transaction, and SQLite gives a new row a rowid above
            // the largest one in the table, so the rows above the largest id before the inserts
            // are exactly theirs: one row of JSON lists them, read once after the last chunk
            // (each statement is a round trip to that thread and back, see `json_rows`).
            TxInner::Sqlite(t) => {
                let conn = &mut **t;
                let before: i64 = sqlx::query_scalar("SELECT COALESCE(MAX(id), 0) FROM people")
                    .fetch_one(&mut *conn)
                    .await?;
                for chunk in rows.chunks(INSERT_CHUNK) {
                    let insert = insert_people_sql(sqlite, chunk.len());
                    let emails = emails_json(chunk);
                    let mut q =
                        sqlx::query(&insert).persistent(crate::cached(chunk.len(), INSERT_CHUNK));
                    bind_rows!(q, chunk, &emails);
                    q.execute(&mut *conn).await?;
                }
                let json: String = sqlx::query_scalar(
                    "SELECT json_group_array(json_array(id, object, remote_id)) FROM people
                     WHERE id > ?",
                )
                .bind(before)
                .fetch_one(&mut *conn)
                .await?;
                json_rows(&json, "people insert")?
            }
            TxInner::Postgres(t) => {
                let mut returned = Vec::with_capacity(rows.len());
                for chunk in rows.chunks(INSERT_CHUNK) {
                    let insert = insert_people_sql(sqlite, chunk.len());
                    let sql = format!("{insert} RETURNING id, object, remote_id");
                    let emails = emails_json(chunk);
                    let mut q =
                        sqlx::query_as(&sql).persistent(crate::cached(chunk.len(), INSERT_CHUNK));
                    bind_rows!(q, chunk, &emails);
                    returned.extend(q.fetch_all(&mut **t).await?);
                }
                returned
            }
        };
        // Neither answer promises the order of VALUES; map back by key.
        let by_key: HashMap<(String, String), i64> = returned
            .into_iter()
            .map(|(id, o, r)| ((o, r), id))
            .collect();
        rows.iter()
            .map(|p| {
                by_key
                    .get(&(p.object.clone(), p.remote_id.clone()))
                    .copied()
                    .ok_or_else(|| decode_err("people insert", "a row was not returned"))
            })
            .collect()
    }

    async fn update_person_row(
        &self,
        tx: &mut Tx,
        id: i64,
        p: &PersonUpsert,
        now: Millis,
    ) -> Result<(), StoreError> {
        let emails = serde_json::to_string(&p.emails).unwrap_or_else(|_| "[]".into());
        on_tx!(tx, |conn| {
            let q = sqlx::query(
                "UPDATE people SET display_name = $2, last_name = $3, first_name = $4,
                     company = $5, emails = $6, phones = $7, address = $8, department = $9,
                     title = $10, description = $11, owner_id = $12, remote_created_at = $13,
                     remote_updated_at = $14, phone_key = $15, phone2_key = $16, email_key = $17,
                     company_key = $18, name_key = $19, identity_key = $20, content_hash = $21,
                     deleted = 0, updated_at = $22,
                     chosen = CASE WHEN $20 IS NULL THEN 1 ELSE chosen END,
                     duplicate_of = CASE WHEN $20 IS NULL THEN NULL ELSE duplicate_of END
                 WHERE id = $1",
            )
            .bind(id);
            bind_person_fields!(q, p, emails)
                .bind(now.0)
                .execute(conn)
                .await?
                .rows_affected()
        });
        Ok(())
    }

    /// Points the live duplicates of `from` under identity key `key` at `to`.
    async fn repoint_duplicates(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        provider: &str,
        key: &str,
        from: i64,
        to: i64,
    ) -> Result<(), StoreError> {
        on_tx!(tx, |conn| {
            sqlx::query(
                "UPDATE people SET duplicate_of = $5
                 WHERE tenant_id = $1 AND provider = $2 AND identity_key = $3
                   AND duplicate_of = $4 AND deleted = 0",
            )
            .bind(tenant.as_str())
            .bind(provider)
            .bind(key)
            .bind(from)
            .bind(to)
            .execute(conn)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// The live rows of `keys`, or only their chosen rows with `chosen_only` (at most one a
    /// key: see steps 2 and 4a of [`Store::apply_people`]).
    async fn identity_candidates<K: AsRef<str>>(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        provider: &str,
        keys: &[K],
        chosen_only: bool,
    ) -> Result<Vec<(String, Candidate)>, StoreError> {
        type Row = (String, i64, String, String, Option<i64>, i64, Option<i64>);
        // `people_identity` carries `chosen`, so the chosen row is found without reading the
        // key's other rows.
        let only = if chosen_only { "AND p.chosen = 1" } else { "" };
        let rows: Vec<Row> = match &mut tx.inner {
            TxInner::Sqlite(t) => {
                let sql = format!(
                    "SELECT json_group_array(json_array(p.identity_key, p.id, p.object,
                                p.remote_id, p.remote_created_at, p.chosen, p.duplicate_of))
                     FROM people p
                     WHERE p.tenant_id = ? AND p.provider = ? AND p.deleted = 0
                       AND p.identity_key IN ({}) {only}",
                    sqlite_marks(keys.len())
                );
                let mut q = sqlx::query_scalar(&sql)
                    .persistent(crate::cached(keys.len(), CHUNK))
                    .bind(tenant.as_str())
                    .bind(provider);
                for k in keys {
                    q = q.bind(k.as_ref());
                }
                let json: String = q.fetch_one(&mut **t).await?;
                json_rows(&json, "identity candidates")?
            }
            TxInner::Postgres(t) => {
                let keys: Vec<&str> = keys.iter().map(AsRef::as_ref).collect();
                let sql = format!(
                    "SELECT p.identity_key, p.id, p.object, p.remote_id, p.remote_created_at,
                            p.chosen, p.duplicate_of
                     FROM unnest($3::text[]) AS k(wanted)
                     JOIN people p ON p.identity_key = k.wanted
                     WHERE p.tenant_id = $1 AND p.provider = $2 AND p.deleted = 0 {only}"
                );
                sqlx::query_as(&sql)
                    .bind(tenant.as_str())
                    .bind(provider)
                    .bind(&keys)
                    .fetch_all(&mut **t)
                    .await?
            }
        };
        Ok(rows
            .into_iter()
            .map(
                |(k, id, object, remote_id, created, chosen, duplicate_of)| {
                    (
                        k,
                        Candidate {
                            id,
                            object,
                            remote_id,
                            remote_created_at: created,
                            chosen: chosen != 0,
                            duplicate_of,
                        },
                    )
                },
            )
            .collect())
    }

    /// Writes identity choices: each row becomes chosen (`None`) or a duplicate of the row
    /// given, in one statement per [`CHUNK`] rows (SQLite from a `VALUES` list, PostgreSQL
    /// from two arrays).
    async fn set_choices(
        &self,
        tx: &mut Tx,
        choices: &[(i64, Option<i64>)],
    ) -> Result<(), StoreError> {
        match &mut tx.inner {
            // One statement per chunk, from a VALUES list: a page can change the choice of
            // hundreds of rows, each with its own winner. `OR FAIL` for the reason
            // `insert_people_sql` gives.
            TxInner::Sqlite(t) => {
                for chunk in choices.chunks(CHUNK) {
                    let sql = format!(
                        "UPDATE OR FAIL people SET chosen = c.column2 IS NULL,
                             duplicate_of = c.column2
                         FROM (VALUES {}) AS c WHERE people.id = c.column1",
                        vec!["(?, ?)"; chunk.len()].join(", ")
                    );
                    let mut q = sqlx::query(&sql).persistent(crate::cached(chunk.len(), CHUNK));
                    for (id, dup) in chunk {
                        q = q.bind(*id).bind(*dup);
                    }
                    q.execute(&mut **t).await?;
                }
            }
            TxInner::Postgres(t) => {
                for chunk in choices.chunks(CHUNK) {
                    let ids: Vec<i64> = chunk.iter().map(|c| c.0).collect();
                    let dups: Vec<Option<i64>> = chunk.iter().map(|c| c.1).collect();
                    sqlx::query(
                        "UPDATE people p
                         SET chosen = CASE WHEN u.dup IS NULL THEN 1 ELSE 0 END,
                             duplicate_of = u.dup
                         FROM unnest($1::bigint[], $2::bigint[]) AS u(id, dup)
                         WHERE p.id = u.id",
                    )
                    .bind(&ids)
                    .bind(&dups)
                    .execute(&mut **t)
                    .await?;
                }
            }
        }
        Ok(())
    }

    /// Those of `keys` whose identity choice may have to change: shared by several live rows,
    /// or held by one live row that is not (or not alone) chosen. A key held by one chosen row
    /// (every new person of an initial import) is settled and costs no further read.
    async fn contested_keys(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        provider: &str,
        keys: &[String],
    ) -> Result<Vec<String>, StoreError> {
        const CONTESTED: &str = "GROUP BY identity_key
             HAVING COUNT(*) > 1 OR MIN(chosen) = 0 OR MAX(duplicate_of) IS NOT NULL";
        Ok(match &mut tx.inner {
            TxInner::Sqlite(t) => {
                let sql = format!(
                    "SELECT json_group_array(identity_key) FROM (
                         SELECT identity_key FROM people
                         WHERE tenant_id = ? AND provider = ? AND deleted = 0
                           AND identity_key IN ({}) {CONTESTED})",
                    sqlite_marks(keys.len())
                );
                let mut q = sqlx::query_scalar(&sql)
                    .persistent(crate::cached(keys.len(), CHUNK))
                    .bind(tenant.as_str())
                    .bind(provider);
                for k in keys {
                    q = q.bind(k.as_str());
                }
                let json: String = q.fetch_one(&mut **t).await?;
                json_rows(&json, "contested identity keys")?
            }
            // The array's column is named `wanted`, so that `identity_key` in CONTESTED can
            // only mean the people row's.
            TxInner::Postgres(t) => {
                let sql = format!(
                    "SELECT p.identity_key FROM unnest($3::text[]) AS k(wanted)
                     JOIN people p ON p.identity_key = k.wanted
                     WHERE p.tenant_id = $1 AND p.provider = $2 AND p.deleted = 0
                     {CONTESTED}"
                );
                sqlx::query_scalar(&sql)
                    .bind(tenant.as_str())
                    .bind(provider)
                    .bind(keys)
                    .fetch_all(&mut **t)
                    .await?
            }
        })
    }

    /// Appends change-feed entries, allocating their sequence numbers from the tenant's
    /// counter (see the migration for why that orders them by commit).
    async fn append_changes(
        &self,
        tx: &mut Tx,
        tenant: &TenantId,
        changes: &[(i64, &'static str)],
        now: Millis,
    ) -> Result<u64, StoreError> {
        if changes.is_empty() {
            return Ok(0);
        }
        let n = changes.len() as i64;
        let last: i64 = on_tx!(tx, |conn| {
            sqlx::query_scalar(
                "UPDATE tenants SET change_seq = change_seq + $2 WHERE id = $1 RETURNING change_seq",
            )
            .bind(tenant.as_str())
            .bind(n)
            .fetch_one(conn)
            .await?
        });
        let first = last - n + 1;
        for (ci, chunk) in changes.chunks(CHUNK).enumerate() {
            let mut m = Marks::new(tx);
            let rows: Vec<String> = (0..chunk.len())
                .map(|_| format!("({})", m.list(5)))
                .collect();
            // `OR FAIL` on SQLite for the reason `insert_people_sql` gives.
            let sql = format!(
                "INSERT {}INTO person_changes (tenant_id, at, seq, person_id, kind) VALUES {}",
                if matches!(tx.inner, TxInner::Sqlite(_)) {
                    "OR FAIL "
                } else {
                    ""
                },
                rows.join(", ")
            );
            let base = first + (ci * CHUNK) as i64;
            on_tx!(tx, |conn| {
                let mut q = sqlx::query(&sql).persistent(crate::cached(chunk.len(), CHUNK));
                for (i, (id, kind)) in chunk.iter().enumerate() {
                    q = q
                        .bind(tenant.as_str())
                        .bind(now.0)
                        .bind(base + i as i64)
                        .bind(*id)
                        .bind(*kind);
                }
                q.execute(conn).await?.rows_affected()
            });
        }
        Ok(changes.len() as u64)
    }

    pub async fn get_person(
        &self,
        tenant: &TenantId,
        id: i64,
    ) -> Result<Option<Person>, StoreError> {
        let sql = format!("SELECT {COLUMNS} FROM people WHERE tenant_id = $1 AND id = $2");
        on_pool!(self, read, |pool| {
            sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(id)
                .fetch_optional(pool)
                .await?
                .map(|r| person_from_row(&r))
                .transpose()
        })
    }

    /// The person of a remote record, whatever its visibility.
    pub async fn get_person_by_remote(
        &self,
        tenant: &TenantId,
        provider: &str,
        object: &str,
        remote_id: &str,
    ) -> Result<Option<Person>, StoreError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM people
             WHERE tenant_id = $1 AND provider = $2 AND object = $3 AND remote_id = $4"
        );
        on_pool!(self, read, |pool| {
            sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(provider)
                .bind(object)
                .bind(remote_id)
                .fetch_optional(pool)
                .await?
                .map(|r| person_from_row(&r))
                .transpose()
        })
    }

    /// People matching `f`, by id, after `after_id`, at most `limit`.
    pub async fn find_people(
        &self,
        tenant: &TenantId,
        f: &PeopleFilter,
        after_id: i64,
        limit: i64,
    ) -> Result<Vec<Person>, StoreError> {
        let mut binds: Vec<String> = Vec::new();
        let mut next = 3;
        let mut mark = |binds: &mut Vec<String>, v: String| {
            binds.push(v);
            let m = format!("${next}");
            next += 1;
            m
        };
        let mut sql = if f.phone_keys.is_empty() {
            format!("SELECT {COLUMNS} FROM people WHERE tenant_id = $1 AND id > $2")
        } else {
            // A number is looked up in each phone's index and the two answers joined. Written
            // as `tenant_id = $1 AND (phone_key IN … OR phone2_key IN …)`, SQLite walked the
            // tenant's rows instead, as neither index serves the `OR` alone: a caller looked
            // up on a ringing phone cost a scan of every person of the tenant.
            let marks: Vec<String> = f
                .phone_keys
                .iter()
                .map(|k| mark(&mut binds, k.clone()))
                .collect();
            let list = marks.join(", ");
            format!(
                "SELECT {COLUMNS} FROM people
                 WHERE id IN (SELECT id FROM people WHERE tenant_id = $1 AND phone_key IN ({list})
                     UNION ALL
                     SELECT id FROM people WHERE tenant_id = $1 AND phone2_key IN ({list}))
                   AND id > $2"
            )
        };
        if !f.include_hidden {
            sql.push_str(" AND deleted = 0 AND chosen = 1");
        }
        if let Some(e) = &f.email_key {
            let m = mark(&mut binds, e.clone());
            sql.push_str(&format!(" AND email_key = {m}"));
        }
        if let Some(c) = &f.company_key {
            let m = mark(&mut binds, c.clone());
            sql.push_str(&format!(" AND company_key = {m}"));
        }
        if let Some(n) = &f.name_key {
            let m = mark(&mut binds, n.clone());
            sql.push_str(&format!(" AND name_key = {m}"));
        }
        if let Some(p) = &f.provider {
            let m = mark(&mut binds, p.clone());
            sql.push_str(&format!(" AND provider = {m}"));
        }
        if let Some(q) = &f.q {
            let escaped = q
                .to_lowercase()
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            let m = mark(&mut binds, format!("%{escaped}%"));
            sql.push_str(&format!(
                " AND (LOWER(COALESCE(display_name, '')) LIKE {m} ESCAPE '\\'
                   OR LOWER(COALESCE(company, '')) LIKE {m} ESCAPE '\\'
                   OR COALESCE(email_key, '') LIKE {m} ESCAPE '\\')"
            ));
        }
        // A number we produced, not user text: formatted in rather than bound, so the bind
        // list stays all text.
        sql.push_str(&format!(" ORDER BY id LIMIT {}", limit.clamp(0, 10_000)));
        on_pool!(self, read, |pool| {
            let mut q = sqlx::query(&sql).bind(tenant.as_str()).bind(after_id);
            for b in &binds {
                q = q.bind(b.as_str());
            }
            q.fetch_all(pool)
                .await?
                .iter()
                .map(person_from_row)
                .collect()
        })
    }

    /// Counts of a tenant's people for one provider: (visible, all live, deleted).
    pub async fn count_people(
        &self,
        tenant: &TenantId,
        provider: &str,
    ) -> Result<(i64, i64, i64), StoreError> {
        on_pool!(self, read, |pool| {
            let row: (i64, i64, i64) = sqlx::query_as(
                "SELECT COALESCE(SUM(CASE WHEN deleted = 0 AND chosen = 1 THEN 1 ELSE 0 END), 0),
                        COALESCE(SUM(CASE WHEN deleted = 0 THEN 1 ELSE 0 END), 0),
                        COALESCE(SUM(CASE WHEN deleted = 1 THEN 1 ELSE 0 END), 0)
                 FROM people WHERE tenant_id = $1 AND provider = $2",
            )
            .bind(tenant.as_str())
            .bind(provider)
            .fetch_one(pool)
            .await?;
            Ok(row)
        })
    }

    /// The change feed after `after`, in order, with each person as it is now.
    pub async fn list_changes(
        &self,
        tenant: &TenantId,
        after: i64,
        limit: i64,
    ) -> Result<Vec<Change>, StoreError> {
        let cols: String = COLUMNS
            .split(", ")
            .map(|c| format!("p.{} AS p_{}", c.trim(), c.trim()))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "SELECT c.seq, c.person_id, c.kind, c.at, {cols}
             FROM person_changes c LEFT JOIN people p ON p.id = c.person_id
             WHERE c.tenant_id = $1 AND c.seq > $2 ORDER BY c.seq LIMIT $3"
        );
        on_pool!(self, read, |pool| {
            let rows = sqlx::query(&sql)
                .bind(tenant.as_str())
                .bind(after)
                .bind(limit.max(0))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    let person = match r.opt_int("p_id")? {
                        Some(_) => Some(person_from_row(&Prefixed(r))?),
                        None => None,
                    };
                    Ok(Change {
                        seq: r.int("seq")?,
                        person_id: r.int("person_id")?,
                        kind: r.text("kind")?,
                        at: Millis(r.int("at")?),
                        person,
                    })
                })
                .collect()
        })
    }
}

/// Reads `p_`-prefixed columns of a joined row as a person's.
struct Prefixed<'a, R>(&'a R);

impl<R: DbRow> DbRow for Prefixed<'_, R> {
    fn text(&self, col: &str) -> Result<String, sqlx::Error> {
        self.0.text(&format!("p_{col}"))
    }
    fn opt_text(&self, col: &str) -> Result<Option<String>, sqlx::Error> {
        self.0.opt_text(&format!("p_{col}"))
    }
    fn int(&self, col: &str) -> Result<i64, sqlx::Error> {
        self.0.int(&format!("p_{col}"))
    }
    fn opt_int(&self, col: &str) -> Result<Option<i64>, sqlx::Error> {
        self.0.opt_int(&format!("p_{col}"))
    }
    fn bytes(&self, col: &str) -> Result<Vec<u8>, sqlx::Error> {
        self.0.bytes(&format!("p_{col}"))
    }
}
