//! Orgs and their records: compact storage, ids, timestamps, field validation on writes, the
//! switchable duplicate rule, one primary contact role per Opportunity, and an undo journal for
//! all-or-none requests.
//!
//! Each org keeps one table per object, ordered by serial (so by id, so by creation). A record is
//! its system fields plus a sparse list of `(field index, value)` pairs: no per-record maps, no
//! JSON. Email, `External_Id__c` and `Username` are indexed (lower-cased) for upserts and the
//! duplicate rule. Deleted records stay in the table (the Recycle Bin) so that `queryAll` and the
//! `deleted` window still see them.

use std::collections::{BTreeMap, HashMap, VecDeque};

use serde::ser::{Serialize, SerializeMap, Serializer};
use serde_json::{Map, Value, json};

use super::errors::ApiError;
use super::ids;
use super::schema::{self, FType, Field, ObjId, Object, Src};

/// A stored field value. Dates are kept as `YYYY-MM-DD` text; datetimes as epoch milliseconds.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    Str(Box<str>),
    Num(f64),
    Bool(bool),
    Time(i64),
}

#[derive(Debug, Clone)]
pub struct Record {
    pub serial: u64,
    pub created: i64,
    pub modified: i64,
    /// When it went to the Recycle Bin.
    pub deleted: Option<i64>,
    pub created_by: u64,
    pub modified_by: u64,
    pub fields: Vec<(u16, Val)>,
}

impl Record {
    pub fn stored(&self, idx: u16) -> Option<&Val> {
        self.fields.iter().find(|(i, _)| *i == idx).map(|(_, v)| v)
    }

    fn set(&mut self, idx: u16, val: Option<Val>) {
        match (self.fields.iter().position(|(i, _)| *i == idx), val) {
            (Some(p), Some(v)) => self.fields[p].1 = v,
            (Some(p), None) => {
                self.fields.swap_remove(p);
            }
            (None, Some(v)) => self.fields.push((idx, v)),
            (None, None) => {}
        }
    }
}

/// One object's records in one org.
#[derive(Debug, Default)]
pub struct Table {
    pub records: BTreeMap<u64, Record>,
    /// Live (not deleted) records.
    pub live: usize,
    /// Hash of the lower-cased value → serials, for the indexed fields. Keyed by hash, not by
    /// the text, so that the index does not hold a second copy of every email; lookups check
    /// the candidates' real values.
    index: HashMap<u16, HashMap<u64, Vec<u64>>>,
}

fn key_hash(s: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    s.to_lowercase().hash(&mut h);
    h.finish()
}

fn indexed(field: &Field) -> bool {
    field.external_id || field.ty == FType::Email || field.name == "Username"
}

impl Table {
    fn index_add(&mut self, obj: &Object, rec: &Record) {
        for (i, v) in &rec.fields {
            if let Val::Str(s) = v
                && indexed(&obj.fields[*i as usize])
            {
                self.index
                    .entry(*i)
                    .or_default()
                    .entry(key_hash(s))
                    .or_default()
                    .push(rec.serial);
            }
        }
    }

    fn index_remove(&mut self, obj: &Object, rec: &Record) {
        for (i, v) in &rec.fields {
            if let Val::Str(s) = v
                && indexed(&obj.fields[*i as usize])
                && let Some(m) = self.index.get_mut(i)
            {
                let key = key_hash(s);
                if let Some(list) = m.get_mut(&key) {
                    list.retain(|s| *s != rec.serial);
                    if list.is_empty() {
                        m.remove(&key);
                    }
                }
            }
        }
    }

    /// Live records whose field `idx` equals `value` (case-insensitively). Uses the index when
    /// there is one, else scans.
    pub fn find(&self, obj: &Object, idx: u16, value: &str) -> Vec<u64> {
        let field = &obj.fields[idx as usize];
        let wanted = value.to_lowercase();
        if indexed(field) {
            return self
                .index
                .get(&idx)
                .and_then(|m| m.get(&key_hash(value)))
                .map(|c| {
                    c.iter()
                        .copied()
                        .filter(|s| {
                            matches!(self.records.get(s).and_then(|r| r.stored(idx)),
                                Some(Val::Str(v)) if v.to_lowercase() == wanted)
                        })
                        .collect()
                })
                .unwrap_or_default();
        }
        self.records
            .values()
            .filter(|r| r.deleted.is_none())
            .filter(|r| match r.stored(idx) {
                Some(Val::Str(s)) => s.eq_ignore_ascii_case(value),
                _ => false,
            })
            .map(|r| r.serial)
            .collect()
    }
}

/// A user of an org (also a `User` record).
#[derive(Debug, Clone)]
pub struct UserInfo {
    pub serial: u64,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub email: String,
}

/// How far an org is into its rolling 24-hour API allowance.
#[derive(Debug, Clone, Default)]
pub struct ApiUsage {
    pub used: u64,
    pub window_start_ms: i64,
    /// When the requests of the last ten seconds came, oldest first; kept only while
    /// `Limits::requests_per_10s` is set.
    pub recent: std::collections::VecDeque<i64>,
}

/// What an all-or-none request must undo if it fails.
#[derive(Debug)]
pub enum Undo {
    Created(ObjId, u64),
    Updated(ObjId, Box<Record>),
    Deleted(ObjId, u64),
}

/// One Salesforce org.
pub struct Org {
    /// 18-character org id (`00D…`).
    pub id: String,
    /// The path segment of its instance URL (its "My Domain").
    pub slug: String,
    pub name: String,
    /// The 2-character instance code inside its ids.
    pub pod: &'static str,
    pub edition: &'static str,
    pub users: Vec<UserInfo>,
    pub tables: Vec<Table>,
    next_serial: u64,
    pub api: ApiUsage,
    pub cursors: HashMap<String, super::query::Cursor>,
    pub cursor_order: VecDeque<String>,
    pub journal: Option<Vec<Undo>>,
}

/// `(first name, last name, username)` of an org's admin.
type Admin = (&'static str, &'static str, &'static str);

/// The `(slug, name, pod, edition, admin)` of the default orgs.
pub const DEFAULT_ORGS: &[(&str, &str, &str, &str, Admin)] = &[
    (
        "sakura",
        "Sakura Trading K.K.",
        "5g",
        "Developer Edition",
        ("Hanako", "Yamada", "admin@sakura-trading.example"),
    ),
    (
        "northwind",
        "Northwind Traders",
        "8d",
        "Enterprise Edition",
        ("Grace", "Walker", "admin@northwind.example"),
    ),
];

impl Org {
    pub fn new(index: usize, now: i64) -> Org {
        let (slug, name, pod, edition, (first, last, username)) = DEFAULT_ORGS[index];
        let org_serial = 1_000 + index as u64 * 7;
        let mut org = Org {
            id: ids::id18("00D", pod, org_serial),
            slug: slug.into(),
            name: name.into(),
            pod,
            edition,
            users: Vec::new(),
            tables: schema::objects().iter().map(|_| Table::default()).collect(),
            // Serials start high enough that ids look like real ones (…000ABcD…).
            next_serial: 1_000_000 + index as u64 * 10_000,
            api: ApiUsage {
                used: 0,
                window_start_ms: now,
                recent: Default::default(),
            },
            cursors: HashMap::new(),
            cursor_order: VecDeque::new(),
            journal: None,
        };
        let o = schema::obj(schema::ORGANIZATION);
        let mut fields = Vec::new();
        for (fname, v) in [
            ("Name", name),
            ("OrganizationType", edition),
            ("InstanceName", if index == 0 { "AP24" } else { "NA224" }),
            (
                "TimeZoneSidKey",
                if index == 0 {
                    "Asia/Tokyo"
                } else {
                    "America/Los_Angeles"
                },
            ),
            ("LanguageLocaleKey", if index == 0 { "ja" } else { "en_US" }),
            (
                "DefaultLocaleSidKey",
                if index == 0 { "ja_JP" } else { "en_US" },
            ),
        ] {
            if let Some((i, _)) = o.field(fname) {
                fields.push((i, Val::Str(v.into())));
            }
        }
        if let Some((i, _)) = o.field("IsSandbox") {
            fields.push((i, Val::Bool(false)));
        }
        let admin_serial = org.next_serial;
        org.tables[schema::ORGANIZATION].records.insert(
            org_serial,
            Record {
                serial: org_serial,
                created: now,
                modified: now,
                deleted: None,
                created_by: admin_serial,
                modified_by: admin_serial,
                fields,
            },
        );
        org.tables[schema::ORGANIZATION].live = 1;
        org.add_user(first, last, username, now);
        let domain = username.split('@').nth(1).unwrap_or("example.com");
        org.add_user(
            if index == 0 { "Kenta" } else { "Liam" },
            if index == 0 { "Sato" } else { "Young" },
            &format!("sales@{domain}"),
            now,
        );
        org
    }

    fn add_user(&mut self, first: &str, last: &str, username: &str, now: i64) {
        let o = schema::obj(schema::USER);
        let serial = self.alloc();
        let by = self.users.first().map(|u| u.serial).unwrap_or(serial);
        let mut fields = Vec::new();
        let alias: String = format!("{}{}", &first[..1], last).chars().take(8).collect();
        let japan = self.pod == "5g";
        for (fname, v) in [
            ("Username", username),
            ("FirstName", first),
            ("LastName", last),
            ("Email", username),
            ("Alias", alias.as_str()),
            ("CompanyName", self.name.as_str()),
            (
                "TimeZoneSidKey",
                if japan {
                    "Asia/Tokyo"
                } else {
                    "America/Los_Angeles"
                },
            ),
            ("LocaleSidKey", if japan { "ja_JP" } else { "en_US" }),
            ("LanguageLocaleKey", if japan { "ja" } else { "en_US" }),
            ("EmailEncodingKey", "UTF-8"),
        ] {
            if let Some((i, _)) = o.field(fname) {
                fields.push((i, Val::Str(v.into())));
            }
        }
        if let Some((i, _)) = o.field("IsActive") {
            fields.push((i, Val::Bool(true)));
        }
        let rec = Record {
            serial,
            created: now,
            modified: now,
            deleted: None,
            created_by: by,
            modified_by: by,
            fields,
        };
        let t = &mut self.tables[schema::USER];
        t.index_add(o, &rec);
        t.records.insert(serial, rec);
        t.live += 1;
        self.users.push(UserInfo {
            serial,
            username: username.into(),
            first_name: first.into(),
            last_name: last.into(),
            email: username.into(),
        });
    }

    /// Whether the org's default locale is Japanese.
    pub fn eastern_names(&self) -> bool {
        self.pod == "5g"
    }

    pub fn admin(&self) -> &UserInfo {
        &self.users[0]
    }

    pub fn alloc(&mut self) -> u64 {
        let s = self.next_serial;
        self.next_serial += 1;
        s
    }

    /// The 18-character id of record `serial` of `obj`.
    pub fn id_of(&self, obj: ObjId, serial: u64) -> String {
        if obj == schema::ORGANIZATION {
            return self.id.clone();
        }
        ids::id18(schema::obj(obj).prefix, self.pod, serial)
    }

    pub fn user_id(&self, serial: u64) -> String {
        ids::id18("005", self.pod, serial)
    }

    /// Resolves an id to its object and live-or-deleted record.
    pub fn resolve(&self, id: &str) -> Option<(ObjId, &Record)> {
        let (prefix, serial) = ids::parse(id)?;
        let (obj, _) = schema::by_prefix(prefix)?;
        let rec = self.tables[obj].records.get(&serial)?;
        Some((obj, rec))
    }

    /// A field's value as Salesforce shows it, computed fields included.
    pub fn value(&self, obj: ObjId, rec: &Record, idx: u16) -> Option<Val> {
        let o = schema::obj(obj);
        let field = &o.fields[idx as usize];
        match field.src {
            Src::Stored => rec.stored(idx).cloned(),
            Src::Id => Some(Val::Str(self.id_of(obj, rec.serial).into())),
            Src::IsDeleted => Some(Val::Bool(rec.deleted.is_some())),
            Src::CreatedDate => Some(Val::Time(rec.created)),
            Src::LastModifiedDate => Some(Val::Time(rec.modified)),
            Src::CreatedById => Some(Val::Str(self.user_id(rec.created_by).into())),
            Src::LastModifiedById => Some(Val::Str(self.user_id(rec.modified_by).into())),
            Src::FullName => {
                let part = |n: &str| {
                    o.field(n).and_then(|(i, _)| match rec.stored(i) {
                        Some(Val::Str(s)) => Some(s.to_string()),
                        _ => None,
                    })
                };
                match (part("FirstName"), part("LastName")) {
                    // Japanese-locale orgs show the family name first, as Salesforce formats
                    // names for the ja locale ("Name Formats", Salesforce Help).
                    (Some(f), Some(l)) if self.eastern_names() => {
                        Some(Val::Str(format!("{l} {f}").into()))
                    }
                    (Some(f), Some(l)) => Some(Val::Str(format!("{f} {l}").into())),
                    (None, Some(l)) => Some(Val::Str(l.into())),
                    (Some(f), None) => Some(Val::Str(f.into())),
                    (None, None) => None,
                }
            }
        }
    }

    /// The record as `GET /sobjects/{type}/{id}` answers it: every field (or `only` those), in
    /// describe order, behind an `attributes` object.
    pub fn record_json(
        &self,
        obj: ObjId,
        rec: &Record,
        version: &str,
        only: Option<&[u16]>,
    ) -> Value {
        let o = schema::obj(obj);
        let mut m = Map::new();
        m.insert(
            "attributes".into(),
            self.attributes(obj, rec.serial, version),
        );
        let all: Vec<u16> = (0..o.fields.len() as u16).collect();
        for &i in only.unwrap_or(&all) {
            let f = &o.fields[i as usize];
            m.insert(f.name.into(), val_json(f, self.value(obj, rec, i).as_ref()));
        }
        Value::Object(m)
    }

    pub fn attributes(&self, obj: ObjId, serial: u64, version: &str) -> Value {
        serde_json::to_value(self.attributes_of(obj, serial, version)).unwrap_or(Value::Null)
    }

    /// A record's `attributes` (`{"type": …, "url": …}`), serialisable straight to bytes.
    pub fn attributes_of<'a>(&self, obj: ObjId, serial: u64, version: &'a str) -> Attributes<'a> {
        Attributes {
            ty: schema::obj(obj).name,
            version,
            id: self.id_of(obj, serial),
        }
    }

    /// Approximate data storage in MB: Salesforce counts most records as 2 KB ("Data and File
    /// Storage Allocations", Salesforce Help).
    pub fn storage_mb(&self) -> u64 {
        let n: usize = self.tables.iter().map(|t| t.live).sum();
        (n as u64 * 2) / 1024
    }

    fn journal(&mut self, u: Undo) {
        if let Some(j) = self.journal.as_mut() {
            j.push(u);
        }
    }

    /// Starts (or joins) a journal of writes for an all-or-none request. Answers whether this
    /// call started it, and the mark to roll back to.
    pub fn savepoint(&mut self) -> (bool, usize) {
        match &self.journal {
            Some(j) => (false, j.len()),
            None => {
                self.journal = Some(Vec::new());
                (true, 0)
            }
        }
    }

    /// Stops journaling if `started` (the writes are kept).
    pub fn release(&mut self, started: bool) {
        if started {
            self.journal = None;
        }
    }

    /// Undoes every write journaled after `mark`.
    pub fn rollback_to(&mut self, mark: usize) {
        let Some(j) = self.journal.as_mut() else {
            return;
        };
        let undo: Vec<Undo> = j.drain(mark.min(j.len())..).collect();
        for u in undo.into_iter().rev() {
            match u {
                Undo::Created(obj, serial) => {
                    let o = schema::obj(obj);
                    let t = &mut self.tables[obj];
                    if let Some(rec) = t.records.remove(&serial) {
                        t.index_remove(o, &rec);
                        if rec.deleted.is_none() {
                            t.live -= 1;
                        }
                    }
                }
                Undo::Updated(obj, old) => {
                    let o = schema::obj(obj);
                    let t = &mut self.tables[obj];
                    if let Some(cur) = t.records.remove(&old.serial) {
                        t.index_remove(o, &cur);
                    }
                    t.index_add(o, &old);
                    t.records.insert(old.serial, *old);
                }
                Undo::Deleted(obj, serial) => {
                    let o = schema::obj(obj);
                    let t = &mut self.tables[obj];
                    if let Some(rec) = t.records.get_mut(&serial) {
                        rec.deleted = None;
                        let rec = rec.clone();
                        t.index_add(o, &rec);
                        t.live += 1;
                    }
                }
            }
        }
    }

    /// Creates a record from a request body. Answers its serial.
    pub fn create(
        &mut self,
        obj: ObjId,
        body: &Map<String, Value>,
        user: u64,
        now: i64,
        rules: &Rules,
    ) -> Result<u64, ApiError> {
        let o = schema::obj(obj);
        if !o.createable {
            return Err(ApiError::new(
                400,
                "INVALID_TYPE_FOR_OPERATION",
                format!("entity type {} does not support insert", o.name),
            )
            .without_fields());
        }
        let changes = self.coerce(obj, body, true)?;
        let touched: Vec<u16> = changes.iter().map(|(i, _)| *i).collect();
        let mut rec = Record {
            serial: 0,
            created: now,
            modified: now,
            deleted: None,
            created_by: user,
            modified_by: user,
            fields: Vec::with_capacity(changes.len() + 2),
        };
        for (i, v) in changes {
            rec.set(i, v);
        }
        for (i, f) in o.fields.iter().enumerate() {
            let i = i as u16;
            if rec.stored(i).is_some() || f.src != Src::Stored {
                continue;
            }
            if let Some(d) = f.default {
                rec.set(i, Some(Val::Str(d.into())));
            } else if f.name == "OwnerId" {
                rec.set(i, Some(Val::Str(self.user_id(user).into())));
            } else if f.ty == FType::Boolean && !f.nillable {
                rec.set(i, Some(Val::Bool(false)));
            }
        }
        self.activity_rules(obj, &mut rec, &touched)?;
        let missing: Vec<&str> = o
            .fields
            .iter()
            .enumerate()
            .filter(|(i, f)| f.required() && rec.stored(*i as u16).is_none())
            .map(|(_, f)| f.name)
            .collect();
        if !missing.is_empty() {
            return Err(required_missing(&missing));
        }
        self.check_duplicates(obj, &rec, None, rules)?;
        let serial = self.alloc();
        rec.serial = serial;
        self.insert_raw(obj, rec);
        self.journal(Undo::Created(obj, serial));
        self.one_primary_contact(obj, serial, user, now);
        Ok(serial)
    }

    /// Adds a record without validation (seeding).
    pub fn insert_raw(&mut self, obj: ObjId, mut rec: Record) -> u64 {
        if rec.serial == 0 {
            rec.serial = self.alloc();
        }
        let serial = rec.serial;
        let o = schema::obj(obj);
        let t = &mut self.tables[obj];
        t.index_add(o, &rec);
        t.records.insert(serial, rec);
        t.live += 1;
        serial
    }

    /// Updates a live record from a request body.
    pub fn update(
        &mut self,
        obj: ObjId,
        serial: u64,
        body: &Map<String, Value>,
        user: u64,
        now: i64,
        rules: &Rules,
    ) -> Result<(), ApiError> {
        let o = schema::obj(obj);
        if !o.updateable {
            return Err(ApiError::new(
                400,
                "INVALID_TYPE_FOR_OPERATION",
                format!("entity type {} does not support update", o.name),
            )
            .without_fields());
        }
        let changes = self.coerce(obj, body, false)?;
        let touched: Vec<u16> = changes.iter().map(|(i, _)| *i).collect();
        let old = self.live(obj, serial)?.clone();
        let mut rec = old.clone();
        for (i, v) in changes {
            rec.set(i, v);
        }
        self.activity_rules(obj, &mut rec, &touched)?;
        let missing: Vec<&str> = o
            .fields
            .iter()
            .enumerate()
            .filter(|(i, f)| f.required() && rec.stored(*i as u16).is_none())
            .map(|(_, f)| f.name)
            .collect();
        if !missing.is_empty() {
            return Err(required_missing(&missing));
        }
        self.check_duplicates(obj, &rec, Some(serial), rules)?;
        rec.modified = now.max(old.modified);
        rec.modified_by = user;
        let t = &mut self.tables[obj];
        t.index_remove(o, &old);
        t.index_add(o, &rec);
        t.records.insert(serial, rec);
        self.journal(Undo::Updated(obj, Box::new(old)));
        self.one_primary_contact(obj, serial, user, now);
        Ok(())
    }

    /// "Each Opportunity has only one primary contact" (Object Reference,
    /// OpportunityContactRole `IsPrimary`): once role `serial` is saved as primary, the
    /// Opportunity's other live roles lose the flag. They are saved as changed by `user` at
    /// `now` (so `updated` reports them) and journaled, so an all-or-none rollback restores them.
    fn one_primary_contact(&mut self, obj: ObjId, serial: u64, user: u64, now: i64) {
        if obj != schema::OPPORTUNITY_CONTACT_ROLE {
            return;
        }
        let o = schema::obj(obj);
        let (Some((opp_i, _)), Some((primary_i, _))) =
            (o.field("OpportunityId"), o.field("IsPrimary"))
        else {
            return;
        };
        let t = &self.tables[obj];
        let Some(rec) = t.records.get(&serial) else {
            return;
        };
        if rec.stored(primary_i) != Some(&Val::Bool(true)) {
            return;
        }
        let opp = rec.stored(opp_i).cloned();
        let others: Vec<u64> = t
            .records
            .values()
            .filter(|r| r.serial != serial && r.deleted.is_none())
            .filter(|r| r.stored(opp_i) == opp.as_ref())
            .filter(|r| r.stored(primary_i) == Some(&Val::Bool(true)))
            .map(|r| r.serial)
            .collect();
        for other in others {
            let Some(r) = self.tables[obj].records.get_mut(&other) else {
                continue;
            };
            let old = r.clone();
            r.set(primary_i, Some(Val::Bool(false)));
            r.modified = now.max(old.modified);
            r.modified_by = user;
            self.journal(Undo::Updated(obj, Box::new(old)));
        }
    }

    /// Moves a live record to the Recycle Bin.
    pub fn delete(&mut self, obj: ObjId, serial: u64, now: i64) -> Result<(), ApiError> {
        let o = schema::obj(obj);
        if !o.deletable {
            return Err(ApiError::new(
                400,
                "INVALID_TYPE_FOR_OPERATION",
                format!("entity type {} does not support delete", o.name),
            )
            .without_fields());
        }
        self.live(obj, serial)?;
        let t = &mut self.tables[obj];
        if let Some(rec) = t.records.get_mut(&serial) {
            rec.deleted = Some(now);
            rec.modified = now;
            let rec = rec.clone();
            t.index_remove(o, &rec);
            t.live -= 1;
        }
        self.journal(Undo::Deleted(obj, serial));
        Ok(())
    }

    /// The live record `serial`, or the REST API's 404 (`ENTITY_IS_DELETED` for one in the bin).
    pub fn live(&self, obj: ObjId, serial: u64) -> Result<&Record, ApiError> {
        match self.tables[obj].records.get(&serial) {
            Some(r) if r.deleted.is_none() => Ok(r),
            Some(_) => Err(ApiError::new(404, "ENTITY_IS_DELETED", "entity is deleted")),
            None => Err(ApiError::not_found()),
        }
    }

    /// The serial of `id` if it is a well-formed id of `obj`.
    pub fn serial_of(&self, obj: ObjId, id: &str) -> Option<u64> {
        let (prefix, serial) = ids::parse(id)?;
        if prefix != schema::obj(obj).prefix {
            return None;
        }
        if obj == schema::ORGANIZATION && !ids::same(id, &self.id) {
            return None;
        }
        Some(serial)
    }

    /// Validates and converts a write body into field changes (`None` clears a field).
    fn coerce(
        &self,
        obj: ObjId,
        body: &Map<String, Value>,
        create: bool,
    ) -> Result<Vec<(u16, Option<Val>)>, ApiError> {
        let o = schema::obj(obj);
        let mut out = Vec::with_capacity(body.len());
        let mut not_writable = Vec::new();
        for (key, value) in body {
            if key == "attributes" {
                continue;
            }
            let Some((idx, field)) = o.field(key) else {
                return Err(ApiError::new(
                    400,
                    "INVALID_FIELD",
                    format!("No such column '{key}' on sobject of type {}", o.name),
                )
                .without_fields());
            };
            let writable = if create {
                field.createable
            } else {
                field.updateable
            };
            if !writable {
                not_writable.push(field.name);
                continue;
            }
            let val = self.coerce_value(field, value)?;
            if field.name == "OwnerId"
                && let Some(Val::Str(owner)) = &val
            {
                self.check_owner_active(o, owner)?;
            }
            out.push((idx, val));
        }
        if !not_writable.is_empty() {
            return Err(ApiError::new(
                400,
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                format!(
                    "Unable to create/update fields: {}. Please check the security settings of this field and verify that it is read/write for your profile or permission set.",
                    not_writable.join(", ")
                ),
            )
            .with_fields(&not_writable));
        }
        Ok(out)
    }

    /// An owner must be an active user: a create or update whose `OwnerId` names a deactivated
    /// user (`IsActive` false, as an admin's `PATCH /sobjects/User/{id}` leaves it) is refused
    /// with 400 `INACTIVE_OWNER_OR_USER` ("operation performed with inactive user",
    /// Salesforce Help knowledge article 000205862, "INACTIVE_OWNER_OR_USER error when
    /// forwarding records"). The message names the user and the object as Salesforce writes
    /// it, "operation performed with inactive user [1234] as owner of contact" (quoted with
    /// the code in Adobe's "Marketo Measure Error Notifications", experienceleague.adobe.com),
    /// the user by its 15-character id. Only the `OwnerId` a request sets is checked: a record
    /// whose owner was deactivated later still takes updates that leave the owner alone. (An
    /// org can grant "Update Records with Inactive Owners" to let a user set such owners; the
    /// emulated API user does not have it.)
    fn check_owner_active(&self, o: &Object, owner: &str) -> Result<(), ApiError> {
        let Some((obj, rec)) = self.resolve(owner) else {
            return Ok(());
        };
        let active = schema::obj(schema::USER)
            .field("IsActive")
            .and_then(|(i, _)| rec.stored(i));
        if obj != schema::USER || active != Some(&Val::Bool(false)) {
            return Ok(());
        }
        Err(ApiError::new(
            400,
            "INACTIVE_OWNER_OR_USER",
            format!(
                "operation performed with inactive user [{}] as owner of {}",
                ids::id15("005", self.pod, rec.serial),
                o.label.to_lowercase()
            ),
        ))
    }

    fn coerce_value(&self, field: &Field, value: &Value) -> Result<Option<Val>, ApiError> {
        let parse_err = |kind: &str| {
            ApiError::json_parse(format!(
                "Cannot deserialize instance of {kind} from {} value {} or request may be missing a required field",
                json_kind(value),
                value
            ))
        };
        if value.is_null() {
            return Ok(None);
        }
        match field.ty {
            FType::Boolean => match value {
                Value::Bool(b) => Ok(Some(Val::Bool(*b))),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(Some(Val::Bool(true))),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(Some(Val::Bool(false))),
                _ => Err(parse_err("boolean")),
            },
            FType::Double | FType::Currency | FType::Percent | FType::Int => {
                let n = match value {
                    Value::Number(n) => n.as_f64(),
                    Value::String(s) if s.is_empty() => return Ok(None),
                    Value::String(s) => s.trim().parse::<f64>().ok(),
                    _ => None,
                };
                let n = n.ok_or_else(|| {
                    parse_err(if field.ty == FType::Int {
                        "int"
                    } else {
                        "double"
                    })
                })?;
                if field.ty == FType::Int && n.fract() != 0.0 {
                    return Err(parse_err("int"));
                }
                Ok(Some(Val::Num(n)))
            }
            FType::Date => {
                let Value::String(s) = value else {
                    return Err(parse_err("date"));
                };
                if s.is_empty() {
                    return Ok(None);
                }
                let d: jiff::civil::Date = s.parse().map_err(|_| parse_err("date"))?;
                Ok(Some(Val::Str(d.to_string().into())))
            }
            FType::Datetime => {
                let Value::String(s) = value else {
                    return Err(parse_err("datetime"));
                };
                if s.is_empty() {
                    return Ok(None);
                }
                parse_datetime(s)
                    .map(|ms| Some(Val::Time(ms)))
                    .ok_or_else(|| parse_err("datetime"))
            }
            FType::Id | FType::Reference => {
                let Value::String(s) = value else {
                    return Err(parse_err("reference"));
                };
                if s.is_empty() {
                    return Ok(None);
                }
                let malformed = || {
                    ApiError::new(
                        400,
                        "MALFORMED_ID",
                        format!("{}: id value of incorrect type: {s}", field.label),
                    )
                    .with_fields(&[field.name])
                };
                let (prefix, _) = ids::parse(s).ok_or_else(malformed)?;
                let target = schema::by_prefix(prefix).map(|(_, o)| o.name);
                if !target.is_some_and(|t| field.reference_to.contains(&t)) {
                    return Err(ApiError::new(
                        400,
                        "FIELD_INTEGRITY_EXCEPTION",
                        format!("{}: id value of incorrect type: {s}", field.label),
                    )
                    .with_fields(&[field.name]));
                }
                match self.resolve(s) {
                    Some((obj, r)) if r.deleted.is_none() => {
                        Ok(Some(Val::Str(self.id_of(obj, r.serial).into())))
                    }
                    Some(_) => Err(ApiError::new(400, "ENTITY_IS_DELETED", "entity is deleted")
                        .with_fields(&[field.name])),
                    None => Err(ApiError::new(
                        400,
                        "INVALID_CROSS_REFERENCE_KEY",
                        format!("{}: invalid cross reference id", field.label),
                    )
                    .with_fields(&[field.name])),
                }
            }
            _ => {
                let s = match value {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    Value::Bool(b) => b.to_string(),
                    _ => return Err(parse_err("string")),
                };
                // An empty string clears a text field, as in the Salesforce UI.
                if s.is_empty() {
                    return Ok(None);
                }
                if s.chars().count() > field.length as usize && field.length > 0 {
                    return Err(ApiError::new(
                        400,
                        "STRING_TOO_LONG",
                        format!(
                            "{}: data value too large: {} (max length={})",
                            field.label, s, field.length
                        ),
                    )
                    .with_fields(&[field.name]));
                }
                if field.restricted && !field.picklist.contains(&s.as_str()) {
                    return Err(ApiError::new(
                        400,
                        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                        format!(
                            "{}: bad value for restricted picklist field: {s}",
                            field.label
                        ),
                    )
                    .with_fields(&[field.name]));
                }
                if field.ty == FType::Email && !valid_email(&s) {
                    return Err(ApiError::new(
                        400,
                        "INVALID_EMAIL_ADDRESS",
                        format!("{}: invalid email address: {s}", field.label),
                    )
                    .with_fields(&[field.name]));
                }
                Ok(Some(Val::Str(s.into())))
            }
        }
    }

    /// The rules of activities that go beyond single fields, checked on every create and update
    /// of a Task or Event (`touched`: the fields the request set).
    ///
    /// - "If the WhoId refers to a lead, then the WhatId field must be empty" (Object Reference,
    ///   Task and Event `WhoId`): Salesforce answers `FIELD_INTEGRITY_EXCEPTION` naming both.
    /// - An Event's span: `StartDateTime` and `ActivityDateTime` are the same instant, and
    ///   `EndDateTime` and `DurationInMinutes` two spellings of its end. "If IsAllDayEvent is
    ///   false, a value must be supplied for either DurationInMinutes or EndDateTime. Supplying
    ///   values in both fields is allowed if the values add up to the same amount of time"
    ///   (Object Reference, Event `EndDateTime`). The store fills in the other spelling and
    ///   `ActivityDate` (the start's date, in UTC here), and an update that moves only the start
    ///   keeps the duration.
    fn activity_rules(
        &self,
        obj: ObjId,
        rec: &mut Record,
        touched: &[u16],
    ) -> Result<(), ApiError> {
        if obj != schema::TASK && obj != schema::EVENT {
            return Ok(());
        }
        let o = schema::obj(obj);
        let at = |name: &str| o.field(name).map(|(i, _)| i);
        if let (Some(who), Some(what)) = (at("WhoId"), at("WhatId"))
            && let Some(Val::Str(w)) = rec.stored(who)
            && ids::parse(w).is_some_and(|(prefix, _)| prefix == "00Q")
            && rec.stored(what).is_some()
        {
            return Err(ApiError::new(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "field integrity exception: WhoId, WhatId (a task or event whose Name is a lead cannot be related to another record)",
            )
            .with_fields(&["WhoId", "WhatId"]));
        }
        if obj == schema::EVENT {
            self.derive_event(o, rec, touched)?;
        }
        Ok(())
    }

    fn derive_event(&self, o: &Object, rec: &mut Record, touched: &[u16]) -> Result<(), ApiError> {
        let idx = |name: &str| o.field(name).map(|(i, _)| i);
        let (Some(start_i), Some(adt_i), Some(end_i), Some(dur_i), Some(date_i), Some(all_i)) = (
            idx("StartDateTime"),
            idx("ActivityDateTime"),
            idx("EndDateTime"),
            idx("DurationInMinutes"),
            idx("ActivityDate"),
            idx("IsAllDayEvent"),
        ) else {
            return Ok(());
        };
        let time = |r: &Record, i: u16| match r.stored(i) {
            Some(Val::Time(t)) => Some(*t),
            _ => None,
        };
        let minutes = |r: &Record| match r.stored(dur_i) {
            Some(Val::Num(n)) => Some(*n as i64),
            _ => None,
        };
        let all_day = matches!(rec.stored(all_i), Some(Val::Bool(true)));
        let start = if all_day {
            // An all-day event lives on its ActivityDate; its span starts at midnight.
            let date = match rec.stored(date_i) {
                Some(Val::Str(d)) => d.parse::<jiff::civil::Date>().ok(),
                _ => None,
            }
            .or_else(|| {
                time(rec, start_i).or(time(rec, adt_i)).and_then(|t| {
                    jiff::Timestamp::from_millisecond(t)
                        .ok()
                        .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date())
                })
            })
            .ok_or_else(|| required_missing(&["ActivityDate"]))?;
            date.to_zoned(jiff::tz::TimeZone::UTC)
                .map(|z| z.timestamp().as_millisecond())
                .map_err(|_| required_missing(&["ActivityDate"]))?
        } else if touched.contains(&start_i) {
            time(rec, start_i).ok_or_else(|| required_missing(&["StartDateTime"]))?
        } else if touched.contains(&adt_i) {
            time(rec, adt_i).ok_or_else(|| required_missing(&["ActivityDateTime"]))?
        } else {
            time(rec, start_i)
                .or(time(rec, adt_i))
                .ok_or_else(|| required_missing(&["StartDateTime"]))?
        };
        let end_given = touched.contains(&end_i).then(|| time(rec, end_i)).flatten();
        let dur_given = touched.contains(&dur_i).then(|| minutes(rec)).flatten();
        let end = match (end_given, dur_given) {
            (Some(e), Some(d)) if e != start + d * 60_000 => {
                return Err(ApiError::new(
                    400,
                    "FIELD_INTEGRITY_EXCEPTION",
                    "End Date Time: EndDateTime and DurationInMinutes must add up to the same amount of time",
                )
                .with_fields(&["EndDateTime", "DurationInMinutes"]));
            }
            (Some(e), _) => e,
            (None, Some(d)) => start + d * 60_000,
            // Nothing about the end in this request: keep the duration the event had.
            (None, None) => match minutes(rec) {
                Some(d) => start + d * 60_000,
                None if all_day => start + 86_400_000,
                None => return Err(required_missing(&["DurationInMinutes"])),
            },
        };
        if end < start {
            return Err(ApiError::new(
                400,
                "FIELD_INTEGRITY_EXCEPTION",
                "End Date Time: End Date Time cannot be earlier than Start Date Time",
            )
            .with_fields(&["EndDateTime"]));
        }
        let date = jiff::Timestamp::from_millisecond(start)
            .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
            .map_err(|_| required_missing(&["StartDateTime"]))?;
        rec.set(start_i, Some(Val::Time(start)));
        rec.set(adt_i, Some(Val::Time(start)));
        rec.set(end_i, Some(Val::Time(end)));
        rec.set(dur_i, Some(Val::Num(((end - start) / 60_000) as f64)));
        rec.set(date_i, Some(Val::Str(date.into())));
        Ok(())
    }

    /// The switchable duplicate rule: a Lead or Contact whose Email matches another of the same
    /// object is refused with `DUPLICATES_DETECTED` and the `duplicateResult` Salesforce's
    /// standard rules answer ("DuplicateResult", Apex and API reference; the standard
    /// `Standard_Lead_Duplicate_Rule` / `Standard_Contact_Duplicate_Rule` with an exact Email
    /// matching rule).
    fn check_duplicates(
        &self,
        obj: ObjId,
        rec: &Record,
        own: Option<u64>,
        rules: &Rules,
    ) -> Result<(), ApiError> {
        if !rules.duplicate_rule || !(obj == schema::LEAD || obj == schema::CONTACT) {
            return Ok(());
        }
        let o = schema::obj(obj);
        let Some((idx, _)) = o.field("Email") else {
            return Ok(());
        };
        let Some(Val::Str(email)) = rec.stored(idx) else {
            return Ok(());
        };
        let matches: Vec<u64> = self.tables[obj]
            .find(o, idx, email)
            .into_iter()
            .filter(|s| Some(*s) != own)
            .collect();
        if matches.is_empty() {
            return Ok(());
        }
        let version = format!("v{}", super::API_VERSION);
        let records: Vec<Value> = matches
            .iter()
            .map(|s| {
                json!({
                    "additionalInformation": [],
                    "fieldDiffs": [],
                    "matchConfidence": 100.0,
                    "record": {
                        "attributes": self.attributes(obj, *s, &version),
                        "Id": self.id_of(obj, *s),
                    },
                })
            })
            .collect();
        let message = "Use one of these records?";
        let mut err = ApiError::new(400, "DUPLICATES_DETECTED", message).with_fields(&[]);
        err.extra = Some((
            "duplicateResult",
            json!({
                "allowSave": false,
                "duplicateRule": format!("Standard_{}_Duplicate_Rule", o.name),
                "duplicateRuleEntityType": o.name,
                "errorMessage": message,
                "matchResults": [{
                    "entityType": o.name,
                    "errors": [],
                    "matchEngine": "ExactMatchEngine",
                    "matchRecords": records,
                    "rule": format!("Standard_{}_Match_Rule_v1_0", o.name),
                    "size": matches.len(),
                    "success": true,
                }],
            }),
        ));
        Err(err)
    }
}

/// Org-wide rules switched through `_control/settings`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Rules {
    pub duplicate_rule: bool,
}

pub fn required_missing(fields: &[&str]) -> ApiError {
    ApiError::new(
        400,
        "REQUIRED_FIELD_MISSING",
        format!("Required fields are missing: [{}]", fields.join(", ")),
    )
    .with_fields(fields)
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::String(_) => "VALUE_STRING",
        Value::Number(n) if n.is_f64() => "VALUE_NUMBER_FLOAT",
        Value::Number(_) => "VALUE_NUMBER_INT",
        Value::Bool(true) => "VALUE_TRUE",
        Value::Bool(false) => "VALUE_FALSE",
        Value::Array(_) => "START_ARRAY",
        Value::Object(_) => "START_OBJECT",
        Value::Null => "VALUE_NULL",
    }
}

fn valid_email(s: &str) -> bool {
    let Some((local, domain)) = s.rsplit_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !s.chars().any(char::is_whitespace)
}

/// `2024-01-15T09:30:00.000+0000`: Salesforce's dateTime format in REST responses.
pub fn sf_datetime(ms: i64) -> String {
    SfDateTime(ms).to_string()
}

/// [`sf_datetime`] without the allocation.
struct SfDateTime(i64);

impl std::fmt::Display for SfDateTime {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let t = jiff::Timestamp::from_millisecond(self.0).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        write!(f, "{}", t.strftime("%Y-%m-%dT%H:%M:%S%.3f+0000"))
    }
}

/// Parses the dateTime notations Salesforce accepts: ISO 8601 with `Z`, `+hh:mm` or `+hhmm`.
pub fn parse_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    if let Ok(t) = s.parse::<jiff::Timestamp>() {
        return Some(t.as_millisecond());
    }
    // `+0000` / `-0500`: insert the colon jiff wants.
    let b = s.as_bytes();
    if b.len() > 5 {
        let tail = &s[s.len() - 5..];
        if (tail.starts_with('+') || tail.starts_with('-'))
            && tail[1..].bytes().all(|c| c.is_ascii_digit())
        {
            let fixed = format!("{}{}:{}", &s[..s.len() - 5], &tail[..3], &tail[3..]);
            return fixed
                .parse::<jiff::Timestamp>()
                .ok()
                .map(|t| t.as_millisecond());
        }
    }
    None
}

/// A value as the REST API writes it.
pub fn val_json(field: &Field, v: Option<&Val>) -> Value {
    serde_json::to_value(JsonVal {
        field: Some(field),
        val: v,
    })
    .unwrap_or(Value::Null)
}

/// A value as the REST API writes it, serialisable straight to bytes: `null`, a string, a
/// boolean, or a number (an integer for `Int` fields). Without a field definition (a polymorphic
/// leaf) the value is written as its text. [`val_json`] is this, as a `Value`.
pub struct JsonVal<'a> {
    pub field: Option<&'a Field>,
    pub val: Option<&'a Val>,
}

impl Serialize for JsonVal<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let Some(v) = self.val else {
            return s.serialize_unit();
        };
        match (self.field, v) {
            (_, Val::Str(v)) => s.serialize_str(v),
            (Some(_), Val::Bool(b)) => s.serialize_bool(*b),
            (Some(f), Val::Num(n)) if f.ty == FType::Int => s.serialize_i64(*n as i64),
            (Some(_), Val::Num(n)) => s.serialize_f64(*n),
            (_, v) => s.collect_str(&Text(v)),
        }
    }
}

/// A record's `attributes`; see [`Org::attributes_of`].
pub struct Attributes<'a> {
    ty: &'static str,
    version: &'a str,
    id: String,
}

impl Serialize for Attributes<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Url<'b>(&'b Attributes<'b>);
        impl Serialize for Url<'_> {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let a = self.0;
                s.collect_str(&format_args!(
                    "/services/data/{}/sobjects/{}/{}",
                    a.version, a.ty, a.id
                ))
            }
        }
        let mut m = s.serialize_map(Some(2))?;
        m.serialize_entry("type", self.ty)?;
        m.serialize_entry("url", &Url(self))?;
        m.end()
    }
}

/// A value as plain text (the UI, SOSL matching, polymorphic leaves).
struct Text<'a>(&'a Val);

impl std::fmt::Display for Text<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Val::Str(s) => f.write_str(s),
            Val::Bool(b) => write!(f, "{b}"),
            Val::Time(ms) => write!(f, "{}", SfDateTime(*ms)),
            Val::Num(n) => write!(f, "{n}"),
        }
    }
}

/// A value as plain text (the UI, SOSL matching).
pub fn val_text(v: &Val) -> String {
    Text(v).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn datetimes_format_and_parse_like_salesforce() {
        let ms = parse_datetime("2024-01-15T09:30:00.000+0000").unwrap();
        assert_eq!(sf_datetime(ms), "2024-01-15T09:30:00.000+0000");
        assert_eq!(parse_datetime("2024-01-15T18:30:00+09:00"), Some(ms));
        assert_eq!(parse_datetime("2024-01-15T09:30:00Z"), Some(ms));
        assert_eq!(parse_datetime("yesterday"), None);
    }

    #[test]
    fn writes_validate_and_roll_back() {
        let mut org = Org::new(0, 0);
        let rules = Rules {
            duplicate_rule: true,
        };
        let admin = org.admin().serial;
        let body = |v: Value| v.as_object().unwrap().clone();
        let err = org
            .create(
                schema::LEAD,
                &body(json!({"FirstName": "A"})),
                admin,
                0,
                &rules,
            )
            .unwrap_err();
        assert_eq!(err.code, "REQUIRED_FIELD_MISSING");
        assert_eq!(err.fields.unwrap(), vec!["LastName", "Company"]);
        let s = org
            .create(
                schema::LEAD,
                &body(json!({"LastName": "Sato", "Company": "X", "Email": "a@b.jp"})),
                admin,
                0,
                &rules,
            )
            .unwrap();
        let dup = org
            .create(
                schema::LEAD,
                &body(json!({"LastName": "S", "Company": "X", "Email": "A@B.jp"})),
                admin,
                0,
                &rules,
            )
            .unwrap_err();
        assert_eq!(dup.code, "DUPLICATES_DETECTED");
        let (started, mark) = org.savepoint();
        org.delete(schema::LEAD, s, 5).unwrap();
        assert_eq!(org.tables[schema::LEAD].live, 0);
        org.rollback_to(mark);
        org.release(started);
        assert_eq!(org.tables[schema::LEAD].live, 1);
        assert!(org.live(schema::LEAD, s).is_ok());
        for (b, code) in [
            (json!({"Nope": 1}), "INVALID_FIELD"),
            (json!({"Name": "x"}), "INVALID_FIELD_FOR_INSERT_UPDATE"),
            (json!({"Email": "not-an-email"}), "INVALID_EMAIL_ADDRESS"),
            (json!({"NumberOfEmployees": "many"}), "JSON_PARSER_ERROR"),
            (json!({"LastName": "x".repeat(81)}), "STRING_TOO_LONG"),
            (json!({"LastName": null}), "REQUIRED_FIELD_MISSING"),
        ] {
            let e = org
                .update(schema::LEAD, s, &body(b.clone()), admin, 1, &rules)
                .unwrap_err();
            assert_eq!(e.code, code, "{b}");
        }
    }
}
