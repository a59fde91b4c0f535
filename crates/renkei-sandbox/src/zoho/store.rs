//! The orgs and their records: Zoho's 19-digit ids (an org-specific prefix and a counter, as in
//! `5725767000000412345`), timestamps in the org's time zone (`2024-01-15T18:30:00+09:00`), and
//! compact per-module tables.
//!
//! A record keeps only the fields it has, as `(field index, value)` pairs in a `Vec`, so that
//! 100,000 records stay small; tables are `BTreeMap`s keyed by the numeric id, which makes
//! `sort_by=id` paging O(page), and a `(Modified_Time, id)` index does the same for
//! `sort_by=Modified_Time`. Unique fields (Zoho's "Do not allow duplicate values") keep a
//! lower-cased value index for `DUPLICATE_DATA` and upsert's duplicate check.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value, json};

use super::model::{Dt, MODULES, ModuleDef};

/// A stored value. The field's `Dt` says how to show it.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    S(Box<str>),
    I(i64),
    F(f64),
    B(bool),
    /// Milliseconds since the epoch (datetime fields).
    T(i64),
    /// A lookup to a record of the field's module.
    Ref(u64),
    /// A multi-module lookup: (module index, record id).
    SeRef(u8, u64),
    Multi(Box<[Box<str>]>),
}

#[derive(Debug, Clone)]
pub struct Rec {
    pub id: u64,
    pub owner: u16,
    pub created_by: u16,
    pub modified_by: u16,
    pub created_ms: i64,
    pub modified_ms: i64,
    pub vals: Vec<(u16, Val)>,
}

impl Rec {
    pub fn get(&self, field: usize) -> Option<&Val> {
        self.vals
            .iter()
            .find(|(f, _)| *f as usize == field)
            .map(|(_, v)| v)
    }

    pub fn set(&mut self, field: usize, val: Option<Val>) {
        self.vals.retain(|(f, _)| *f as usize != field);
        if let Some(v) = val {
            self.vals.push((field as u16, v));
        }
    }

    pub fn str(&self, field: usize) -> Option<&str> {
        match self.get(field) {
            Some(Val::S(s)) => Some(s),
            _ => None,
        }
    }
}

/// A deleted record, as `GET /{module}/deleted` lists it.
#[derive(Debug, Clone)]
pub struct Deleted {
    pub id: u64,
    pub display_name: Box<str>,
    pub created_by: u16,
    pub deleted_by: u16,
    pub deleted_ms: i64,
}

#[derive(Debug, Default)]
pub struct Table {
    pub rows: BTreeMap<u64, Rec>,
    pub by_modified: BTreeSet<(i64, u64)>,
    /// Per unique field index: lower-cased value → id.
    pub unique: HashMap<u16, HashMap<Box<str>, u64>>,
    pub deleted: Vec<Deleted>,
}

impl Table {
    pub fn insert(&mut self, def: &ModuleDef, rec: Rec) {
        self.by_modified.insert((rec.modified_ms, rec.id));
        for (f, v) in &rec.vals {
            if def.fields[*f as usize].unique
                && let Val::S(s) = v
            {
                self.unique
                    .entry(*f)
                    .or_default()
                    .entry(s.to_lowercase().into())
                    .or_insert(rec.id);
            }
        }
        self.rows.insert(rec.id, rec);
    }

    pub fn remove(&mut self, def: &ModuleDef, id: u64) -> Option<Rec> {
        let rec = self.rows.remove(&id)?;
        self.by_modified.remove(&(rec.modified_ms, id));
        for (f, v) in &rec.vals {
            if def.fields[*f as usize].unique
                && let Val::S(s) = v
                && let Some(ix) = self.unique.get_mut(f)
            {
                let key = s.to_lowercase();
                if ix.get(key.as_str()) == Some(&id) {
                    ix.remove(key.as_str());
                }
            }
        }
        Some(rec)
    }

    /// The record (other than `except`) holding `value` in field `field`.
    pub fn find_value(&self, field: usize, value: &str, except: Option<u64>) -> Option<u64> {
        let key = value.to_lowercase();
        if let Some(ix) = self.unique.get(&(field as u16))
            && let Some(id) = ix.get(key.as_str())
            && Some(*id) != except
        {
            return Some(*id);
        }
        self.rows
            .values()
            .find(|r| {
                Some(r.id) != except
                    && matches!(r.get(field), Some(Val::S(s)) if s.to_lowercase() == key)
            })
            .map(|r| r.id)
    }
}

#[derive(Debug, Clone)]
pub struct User {
    pub id: u64,
    pub first_name: &'static str,
    pub last_name: &'static str,
    pub email: &'static str,
    pub role: &'static str,
    pub profile: &'static str,
    /// False once an admin deactivated the user (`PUT /users/{id}` with `status` `inactive`):
    /// the user is listed by `type=DeactiveUsers` and no longer owns new records.
    pub active: bool,
    /// When the user was last changed (`Modified_Time`).
    pub modified_ms: i64,
}

impl User {
    pub fn full_name(&self) -> String {
        format!("{} {}", self.first_name, self.last_name)
    }
}

/// One Zoho org (a CRM account) in one data centre.
pub struct Org {
    pub id: u64,
    /// The 7-digit prefix of every id in this org.
    pub prefix: u64,
    pub zgid: &'static str,
    pub name: &'static str,
    pub dc: &'static str,
    pub time_zone: &'static str,
    pub tz: jiff::tz::TimeZone,
    pub currency: &'static str,
    pub currency_symbol: &'static str,
    pub country_code: &'static str,
    pub locale: &'static str,
    pub users: Vec<User>,
    pub tables: Vec<Table>,
    pub next_seq: u64,
    pub created_ms: i64,
}

/// The 19-digit id made of a 7-digit org prefix and a 12-digit sequence.
pub fn make_id(prefix: u64, seq: u64) -> u64 {
    prefix * 1_000_000_000_000 + seq
}

impl Org {
    pub fn new(spec: &OrgSpec, now_ms: i64) -> Org {
        let users = spec
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| User {
                id: make_id(spec.prefix, 300_001 + i as u64 * 12),
                first_name: u.0,
                last_name: u.1,
                email: u.2,
                role: if i == 0 { "CEO" } else { "Manager" },
                profile: if i == 0 { "Administrator" } else { "Standard" },
                active: true,
                modified_ms: now_ms,
            })
            .collect();
        Org {
            id: make_id(spec.prefix, 200_015),
            prefix: spec.prefix,
            zgid: spec.zgid,
            name: spec.name,
            dc: spec.dc,
            time_zone: spec.time_zone,
            tz: jiff::tz::TimeZone::get(spec.time_zone).unwrap_or(jiff::tz::TimeZone::UTC),
            currency: spec.currency,
            currency_symbol: spec.currency_symbol,
            country_code: spec.country_code,
            locale: spec.locale,
            users,
            tables: MODULES.iter().map(|_| Table::default()).collect(),
            next_seq: 400_001,
            created_ms: now_ms,
        }
    }

    pub fn next_id(&mut self) -> u64 {
        let id = make_id(self.prefix, self.next_seq);
        // Zoho's ids grow, but not by one; a small stride keeps them looking like real ones.
        self.next_seq += 3;
        id
    }

    /// ISO 8601 with the org's offset, without fractions: Zoho's timestamp format.
    pub fn time(&self, ms: i64) -> String {
        let ts = jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH);
        ts.to_zoned(self.tz.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    pub fn user_index(&self, id: u64) -> Option<usize> {
        self.users.iter().position(|u| u.id == id)
    }

    /// The user `id` if it may own records: an active user of the org. A deactivated user is
    /// refused as an `Owner` as an unknown id is.
    pub fn active_user_index(&self, id: u64) -> Option<usize> {
        self.user_index(id).filter(|i| self.users[*i].active)
    }

    pub fn user_json(&self, idx: u16, with_email: bool) -> Value {
        let u = &self.users[(idx as usize).min(self.users.len() - 1)];
        if with_email {
            json!({"name": u.full_name(), "id": u.id.to_string(), "email": u.email})
        } else {
            json!({"name": u.full_name(), "id": u.id.to_string()})
        }
    }

    /// The `name` a lookup to `id` in `module` shows.
    pub fn display_name(&self, module: usize, id: u64) -> Option<String> {
        let rec = self.tables[module].rows.get(&id)?;
        Some(record_name(module, rec))
    }

    /// A record as the API answers it: `id`, the requested fields (all when `fields` is None),
    /// and nulls for the fields it does not hold.
    pub fn record_json(&self, module: usize, rec: &Rec, fields: Option<&[String]>) -> Value {
        let def = &MODULES[module];
        let want = |name: &str| fields.is_none_or(|f| f.iter().any(|x| x == name));
        let mut out = Map::new();
        if want("Owner") {
            out.insert("Owner".into(), self.user_json(rec.owner, true));
        }
        for (i, fd) in def.fields.iter().enumerate() {
            if !want(fd.api) {
                continue;
            }
            if fd.api == "Full_Name" {
                out.insert("Full_Name".into(), json!(full_name(module, rec)));
                continue;
            }
            let v = match rec.get(i) {
                None => Value::Null,
                Some(v) => self.val_json(fd.lookup, v),
            };
            if fd.dt == Dt::SeLookup
                && let Some(Val::SeRef(m, _)) = rec.get(i)
            {
                out.insert("$se_module".into(), json!(MODULES[*m as usize].api));
            }
            out.insert(fd.api.into(), v);
        }
        if want("Created_Time") {
            out.insert("Created_Time".into(), json!(self.time(rec.created_ms)));
        }
        if want("Modified_Time") {
            out.insert("Modified_Time".into(), json!(self.time(rec.modified_ms)));
        }
        if want("Created_By") {
            out.insert("Created_By".into(), self.user_json(rec.created_by, true));
        }
        if want("Modified_By") {
            out.insert("Modified_By".into(), self.user_json(rec.modified_by, true));
        }
        if def.api == "Notes" {
            // Zoho answers a note's `$` attributes whatever `fields` asks (notes.json requires them).
            out.insert("$attachments".into(), Value::Null);
            out.insert("$editable".into(), json!(true));
            out.insert("$is_shared_to_client".into(), json!(false));
            out.insert("$size".into(), Value::Null);
            out.insert("$state".into(), json!("save"));
            out.insert("$voice_note".into(), json!(false));
        } else if fields.is_none() {
            out.insert("$currency_symbol".into(), json!(self.currency_symbol));
            out.insert("$editable".into(), json!(true));
        }
        out.insert("id".into(), json!(rec.id.to_string()));
        Value::Object(out)
    }

    fn val_json(&self, lookup: Option<&str>, v: &Val) -> Value {
        match v {
            Val::S(s) => json!(s),
            Val::I(i) => json!(i),
            Val::F(f) => json!(f),
            Val::B(b) => json!(b),
            Val::T(ms) => json!(self.time(*ms)),
            Val::Multi(items) => json!(items),
            Val::Ref(id) => {
                let module = lookup.and_then(super::model::module_index);
                let name = module.and_then(|m| self.display_name(m, *id));
                json!({"name": name, "id": id.to_string()})
            }
            Val::SeRef(m, id) => {
                let name = self.display_name(*m as usize, *id);
                json!({
                    "module": {"api_name": MODULES[*m as usize].api, "id": make_id(self.prefix, MODULES[*m as usize].id_suffix).to_string()},
                    "name": name,
                    "id": id.to_string(),
                })
            }
        }
    }
}

/// `First Last`, or the last name alone, as Zoho fills `Full_Name`.
pub fn full_name(module: usize, rec: &Rec) -> Option<String> {
    let def = &MODULES[module];
    let idx = |n: &str| def.fields.iter().position(|f| f.api == n);
    let first = idx("First_Name").and_then(|i| rec.str(i));
    let last = idx("Last_Name").and_then(|i| rec.str(i));
    match (first, last) {
        (Some(f), Some(l)) => Some(format!("{f} {l}")),
        (None, Some(l)) => Some(l.to_owned()),
        (Some(f), None) => Some(f.to_owned()),
        (None, None) => None,
    }
}

pub fn record_name(module: usize, rec: &Rec) -> String {
    let def = &MODULES[module];
    if def.name_field == "Full_Name" {
        return full_name(module, rec).unwrap_or_default();
    }
    def.fields
        .iter()
        .position(|f| f.api == def.name_field)
        .and_then(|i| rec.str(i))
        .unwrap_or("")
        .to_owned()
}

/// How an org is set up at reset.
pub struct OrgSpec {
    pub prefix: u64,
    pub zgid: &'static str,
    pub name: &'static str,
    pub dc: &'static str,
    pub time_zone: &'static str,
    pub currency: &'static str,
    pub currency_symbol: &'static str,
    pub country_code: &'static str,
    pub locale: &'static str,
    pub users: &'static [(&'static str, &'static str, &'static str)],
}

/// The default orgs: one in the Japanese data centre (JPY, Asia/Tokyo) and two in the US one.
pub const ORGS: &[OrgSpec] = &[
    OrgSpec {
        prefix: 5_725_767,
        zgid: "90001234",
        name: "さくら商事株式会社",
        dc: "jp",
        time_zone: "Asia/Tokyo",
        currency: "JPY",
        currency_symbol: "¥",
        country_code: "JP",
        locale: "ja_JP",
        users: &[
            ("太郎", "山田", "taro.yamada@sakura-shoji.example.jp"),
            ("花子", "佐藤", "hanako.sato@sakura-shoji.example.jp"),
        ],
    },
    OrgSpec {
        prefix: 4_876_876,
        zgid: "70005678",
        name: "Zylker Corp",
        dc: "com",
        time_zone: "America/Los_Angeles",
        currency: "USD",
        currency_symbol: "$",
        country_code: "US",
        locale: "en_US",
        users: &[
            ("Patricia", "Boyle", "patricia.boyle@zylker.example.com"),
            ("Oliver", "Grant", "oliver.grant@zylker.example.com"),
        ],
    },
    OrgSpec {
        prefix: 3_652_397,
        zgid: "70009999",
        name: "Acme West Inc.",
        dc: "com",
        time_zone: "America/Los_Angeles",
        currency: "USD",
        currency_symbol: "$",
        country_code: "US",
        locale: "en_US",
        users: &[("Amelia", "Stone", "amelia.stone@acmewest.example.com")],
    },
];

/// The data centres: `(dc, label)`.
pub const DCS: &[&str] = &["com", "jp"];
