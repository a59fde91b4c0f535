//! The portals' data: object types, property definitions, records, associations and owners.
//!
//! Records are kept compact because a benchmark puts 100,000 of them in one portal: each holds
//! its property values as `(property index, value)` pairs, where the index points into the
//! object's property definitions (so a property name is stored once per object type, not once
//! per record). Records sit in a `BTreeMap` keyed by their numeric id, so a list page is a range
//! scan from the `after` cursor (O(page), as HubSpot's own cursor paging is). The values
//! HubSpot computes itself (`hs_object_id`, `createdate`, `lastmodifieddate` /
//! `hs_lastmodifieddate`) are derived from the record's id and timestamps when answered.

use std::collections::{BTreeMap, HashMap};

use serde_json::{Map, Value, json};

use super::props::{self, PropDef};

/// The CRM object types this emulator serves. Their order is their index in a portal's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ObjType {
    Contacts,
    Companies,
    Deals,
    Notes,
    Tasks,
    Emails,
    Meetings,
    Calls,
}

pub const ALL_TYPES: [ObjType; 8] = [
    ObjType::Contacts,
    ObjType::Companies,
    ObjType::Deals,
    ObjType::Notes,
    ObjType::Tasks,
    ObjType::Emails,
    ObjType::Meetings,
    ObjType::Calls,
];

impl ObjType {
    pub fn index(self) -> usize {
        self as usize
    }

    /// The plural name used in v3 paths (`contacts`).
    pub fn name(self) -> &'static str {
        match self {
            ObjType::Contacts => "contacts",
            ObjType::Companies => "companies",
            ObjType::Deals => "deals",
            ObjType::Notes => "notes",
            ObjType::Tasks => "tasks",
            ObjType::Emails => "emails",
            ObjType::Meetings => "meetings",
            ObjType::Calls => "calls",
        }
    }

    /// The singular name used in association type names (`contact_to_company`).
    pub fn singular(self) -> &'static str {
        match self {
            ObjType::Contacts => "contact",
            ObjType::Companies => "company",
            ObjType::Deals => "deal",
            ObjType::Notes => "note",
            ObjType::Tasks => "task",
            ObjType::Emails => "email",
            ObjType::Meetings => "meeting",
            ObjType::Calls => "call",
        }
    }

    /// The object type id (`0-1` for contacts), as listed in HubSpot's "Understanding the
    /// CRM" object table.
    pub fn type_id(self) -> &'static str {
        match self {
            ObjType::Contacts => "0-1",
            ObjType::Companies => "0-2",
            ObjType::Deals => "0-3",
            ObjType::Notes => "0-46",
            ObjType::Tasks => "0-27",
            ObjType::Emails => "0-49",
            ObjType::Meetings => "0-47",
            ObjType::Calls => "0-48",
        }
    }

    /// Upper-case name used in HubSpot's batch error messages ("Could not get some CONTACT
    /// objects").
    pub fn upper(self) -> &'static str {
        match self {
            ObjType::Contacts => "CONTACT",
            ObjType::Companies => "COMPANY",
            ObjType::Deals => "DEAL",
            ObjType::Notes => "NOTE",
            ObjType::Tasks => "TASK",
            ObjType::Emails => "EMAIL",
            ObjType::Meetings => "MEETING",
            ObjType::Calls => "CALL",
        }
    }

    /// HubSpot accepts the plural name, the singular name or the type id in paths.
    pub fn parse(s: &str) -> Option<ObjType> {
        let s = s.to_ascii_lowercase();
        ALL_TYPES
            .into_iter()
            .find(|t| s == t.name() || s == t.singular() || s == t.type_id())
    }

    /// Notes, tasks, emails, meetings and calls: the activities HubSpot calls engagements.
    pub fn is_engagement(self) -> bool {
        !matches!(
            self,
            ObjType::Contacts | ObjType::Companies | ObjType::Deals
        )
    }

    /// Contacts, companies and deals call their creation date `createdate`; engagements
    /// (notes, tasks, emails, meetings, calls) call it `hs_createdate`.
    pub fn created_prop(self) -> &'static str {
        match self {
            ObjType::Contacts | ObjType::Companies | ObjType::Deals => "createdate",
            _ => "hs_createdate",
        }
    }

    /// Contacts keep the legacy `lastmodifieddate`; every other object `hs_lastmodifieddate`.
    pub fn modified_prop(self) -> &'static str {
        match self {
            ObjType::Contacts => "lastmodifieddate",
            _ => "hs_lastmodifieddate",
        }
    }

    /// The properties a read answers when the request names none (what HubSpot returns for
    /// `GET /crm/v3/objects/{type}` without `properties`).
    pub fn default_props(self) -> &'static [&'static str] {
        match self {
            ObjType::Contacts => &[
                "createdate",
                "email",
                "firstname",
                "hs_object_id",
                "lastmodifieddate",
                "lastname",
            ],
            ObjType::Companies => &[
                "createdate",
                "domain",
                "hs_lastmodifieddate",
                "hs_object_id",
                "name",
            ],
            ObjType::Deals => &[
                "amount",
                "closedate",
                "createdate",
                "dealname",
                "dealstage",
                "hs_lastmodifieddate",
                "hs_object_id",
                "pipeline",
            ],
            _ => &["hs_createdate", "hs_lastmodifieddate", "hs_object_id"],
        }
    }

    /// The properties the search `query` looks in ("Search the CRM": default searchable
    /// properties per object).
    pub fn query_props(self) -> &'static [&'static str] {
        match self {
            ObjType::Contacts => &[
                "firstname",
                "lastname",
                "email",
                "phone",
                "mobilephone",
                "company",
                "hs_additional_emails",
            ],
            ObjType::Companies => &["name", "domain", "website", "phone"],
            ObjType::Deals => &["dealname", "pipeline", "dealstage", "description"],
            ObjType::Notes => &["hs_note_body"],
            ObjType::Tasks => &["hs_task_subject", "hs_task_body"],
            ObjType::Emails => &["hs_email_subject", "hs_email_text"],
            ObjType::Meetings => &["hs_meeting_title", "hs_meeting_body"],
            ObjType::Calls => &["hs_call_title", "hs_call_body"],
        }
    }
}

/// One CRM record.
#[derive(Debug, Clone)]
pub struct Record {
    pub id: u64,
    pub created_ms: i64,
    pub updated_ms: i64,
    /// Set when archived (HubSpot keeps archived records readable with `archived=true`).
    pub archived_ms: Option<i64>,
    /// Stored property values, sorted by property index. Computed properties are not stored.
    pub values: Vec<(u16, Box<str>)>,
}

impl Record {
    pub fn get(&self, idx: u16) -> Option<&str> {
        self.values
            .binary_search_by_key(&idx, |(i, _)| *i)
            .ok()
            .map(|p| &*self.values[p].1)
    }

    /// Sets (or, with an empty value, clears) a property; answers the previous value.
    pub fn set(&mut self, idx: u16, value: &str) -> Option<Box<str>> {
        match self.values.binary_search_by_key(&idx, |(i, _)| *i) {
            Ok(p) if value.is_empty() => Some(self.values.remove(p).1),
            Ok(p) => Some(std::mem::replace(&mut self.values[p].1, value.into())),
            Err(_) if value.is_empty() => None,
            Err(p) => {
                self.values.insert(p, (idx, value.into()));
                None
            }
        }
    }
}

/// One object type's records and property definitions in one portal.
#[derive(Debug)]
pub struct Table {
    pub ty: ObjType,
    pub defs: Vec<PropDef>,
    pub index: HashMap<String, u16>,
    pub records: BTreeMap<u64, Record>,
    /// Live (not archived) records.
    pub live: usize,
    /// Contacts only: lower-cased email to id, for the unique-email rule and `idProperty=email`.
    pub by_email: HashMap<String, u64>,
}

impl Table {
    pub fn new(ty: ObjType, now_ms: i64) -> Table {
        let defs = props::defaults(ty, now_ms);
        let index = defs
            .iter()
            .enumerate()
            .map(|(i, d)| (d.name.clone(), i as u16))
            .collect();
        Table {
            ty,
            defs,
            index,
            records: BTreeMap::new(),
            live: 0,
            by_email: HashMap::new(),
        }
    }

    pub fn prop(&self, name: &str) -> Option<(u16, &PropDef)> {
        self.index
            .get(name)
            .map(|&i| (i, &self.defs[i as usize]))
            .filter(|(_, d)| !d.archived)
    }

    pub fn add_def(&mut self, def: PropDef) {
        let i = self.defs.len() as u16;
        self.index.insert(def.name.clone(), i);
        self.defs.push(def);
    }

    pub fn email_idx(&self) -> Option<u16> {
        (self.ty == ObjType::Contacts)
            .then(|| self.index.get("email").copied())
            .flatten()
    }

    /// The value of property `name` on `rec`, computed properties included, as HubSpot
    /// answers it (a string, or `None` when unset).
    pub fn value(&self, rec: &Record, name: &str) -> Option<String> {
        match name {
            "hs_object_id" => Some(rec.id.to_string()),
            n if n == self.ty.created_prop() => Some(iso(rec.created_ms)),
            n if n == self.ty.modified_prop() => Some(iso(rec.updated_ms)),
            "hs_lastmodifieddate" if self.ty == ObjType::Contacts => Some(iso(rec.updated_ms)),
            _ => {
                let (i, _) = self.prop(name)?;
                rec.get(i).map(str::to_owned)
            }
        }
    }

    /// A record in HubSpot's `SimplePublicObject` shape with the named properties (or the
    /// object's defaults). Requested properties without a value are answered as `null`, as
    /// HubSpot does; names that are no property are left out.
    pub fn to_json(&self, rec: &Record, wanted: Option<&[String]>) -> Map<String, Value> {
        let mut props = Map::new();
        match wanted {
            Some(names) if !names.is_empty() => {
                for n in names {
                    if self.is_property(n) {
                        props.insert(
                            n.clone(),
                            self.value(rec, n).map(Value::String).unwrap_or(Value::Null),
                        );
                    }
                }
            }
            _ => {
                for n in self.ty.default_props() {
                    props.insert(
                        (*n).to_owned(),
                        self.value(rec, n).map(Value::String).unwrap_or(Value::Null),
                    );
                }
            }
        }
        let mut out = Map::new();
        out.insert("id".into(), Value::String(rec.id.to_string()));
        out.insert("properties".into(), Value::Object(props));
        out.insert("createdAt".into(), Value::String(iso(rec.created_ms)));
        out.insert("updatedAt".into(), Value::String(iso(rec.updated_ms)));
        out.insert("archived".into(), Value::Bool(rec.archived_ms.is_some()));
        if let Some(a) = rec.archived_ms {
            out.insert("archivedAt".into(), Value::String(iso(a)));
        }
        out
    }

    pub fn is_property(&self, name: &str) -> bool {
        self.prop(name).is_some()
            || name == "hs_object_id"
            || name == self.ty.created_prop()
            || name == self.ty.modified_prop()
    }
}

/// A user of the portal that records can be assigned to (`hubspot_owner_id`).
///
/// HubSpot archives an owner when its user is deactivated or removed from the account: the
/// owner leaves `GET /crm/v3/owners` and is listed by `?archived=true` instead ("archived:
/// Whether to include archived owners", CRM Owners API v3,
/// https://developers.hubspot.com/docs/api/crm/owners). Its id is then no longer a valid
/// `hubspot_owner_id`. The sandbox archives one through `POST /_control/owners/{id}/archive`
/// (HubSpot has no API for it: users are deactivated in the account's settings).
#[derive(Debug, Clone)]
pub struct Owner {
    pub id: u64,
    pub user_id: u64,
    pub email: String,
    pub first_name: String,
    pub last_name: String,
    pub created_ms: i64,
    pub updated_ms: i64,
    pub archived: bool,
}

impl Owner {
    pub fn to_json(&self) -> Value {
        let mut o = json!({
            "id": self.id.to_string(),
            "email": self.email,
            "type": "PERSON",
            "firstName": self.first_name,
            "lastName": self.last_name,
            "userId": self.user_id,
            "userIdIncludingInactive": self.user_id,
            "createdAt": iso(self.created_ms),
            "updatedAt": iso(self.updated_ms),
            "archived": self.archived,
            "teams": [],
        });
        // `userId` is the id of an active user; `userIdIncludingInactive` keeps it for a
        // deactivated one (the two fields of the Owners API's `PublicOwner`).
        if self.archived
            && let Some(m) = o.as_object_mut()
        {
            m.remove("userId");
        }
        o
    }
}

/// Key of one direction of an association: (from type, from id, to type, to id).
pub type AssocKey = (ObjType, u64, ObjType, u64);

/// One HubSpot account (a "portal", identified by its hub id).
#[derive(Debug)]
pub struct Portal {
    pub id: u64,
    pub name: String,
    pub domain: String,
    pub time_zone: &'static str,
    pub currency: &'static str,
    pub private_app_token: String,
    pub next_id: u64,
    pub tables: Vec<Table>,
    /// Both directions of every association, with its association type ids.
    pub assoc: BTreeMap<AssocKey, Vec<u16>>,
    pub owners: Vec<Owner>,
}

impl Portal {
    pub fn table(&self, ty: ObjType) -> &Table {
        &self.tables[ty.index()]
    }

    pub fn table_mut(&mut self, ty: ObjType) -> &mut Table {
        &mut self.tables[ty.index()]
    }

    /// The ids of the owners records can be assigned to: the ones not archived.
    pub fn active_owner_ids(&self) -> Vec<u64> {
        self.owners
            .iter()
            .filter(|o| !o.archived)
            .map(|o| o.id)
            .collect()
    }

    pub fn new_id(&mut self) -> u64 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    pub fn live(&self, ty: ObjType, id: u64) -> bool {
        self.table(ty)
            .records
            .get(&id)
            .is_some_and(|r| r.archived_ms.is_none())
    }

    /// Adds association type `type_id` from `from` to `to` and its inverse (HubSpot stores
    /// both directions of every association).
    pub fn associate(&mut self, from: (ObjType, u64), to: (ObjType, u64), type_id: u16) {
        let inverse = super::assoc::inverse(type_id).unwrap_or(type_id);
        for (key, t) in [
            ((from.0, from.1, to.0, to.1), type_id),
            ((to.0, to.1, from.0, from.1), inverse),
        ] {
            let types = self.assoc.entry(key).or_default();
            if !types.contains(&t) {
                types.push(t);
                types.sort_unstable();
            }
        }
    }

    /// Removes every association between the two records, both directions.
    pub fn dissociate(&mut self, a: (ObjType, u64), b: (ObjType, u64)) {
        self.assoc.remove(&(a.0, a.1, b.0, b.1));
        self.assoc.remove(&(b.0, b.1, a.0, a.1));
    }

    /// The associations of `(ty, id)` to objects of type `to`, in id order.
    pub fn associations(
        &self,
        ty: ObjType,
        id: u64,
        to: ObjType,
    ) -> impl Iterator<Item = (u64, &Vec<u16>)> {
        self.assoc
            .range((ty, id, to, 0)..=(ty, id, to, u64::MAX))
            .map(|(k, v)| (k.3, v))
    }

    /// Removes every association of an archived record.
    pub fn drop_associations(&mut self, ty: ObjType, id: u64) {
        for to in ALL_TYPES {
            let others: Vec<u64> = self.associations(ty, id, to).map(|(o, _)| o).collect();
            for o in others {
                self.dissociate((ty, id), (to, o));
            }
        }
    }
}

/// `2019-10-30T03:30:17.883Z`: HubSpot's timestamp format (ISO 8601, UTC, milliseconds).
pub fn iso(ms: i64) -> String {
    crate::http::rfc3339(
        jiff::Timestamp::from_millisecond(ms).unwrap_or(jiff::Timestamp::UNIX_EPOCH),
    )
}
