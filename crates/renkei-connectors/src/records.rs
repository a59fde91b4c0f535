//! The CRM writes of the write-back recipes, in provider-neutral terms: activities (calls,
//! notes, tasks, emails, meetings) on a person or a deal, people and companies created when the
//! CRM has none yet, live lookups, field updates and the field metadata that settings are
//! validated against.
//!
//! The recipes (PRODUCT.md 4.1, 4.3–4.5) live in the engine and decide *what* to write; each
//! provider module has a `records` file with the same functions that decide *how*:
//!
//! | function | what it does |
//! | --- | --- |
//! | `find_people` | live search of leads/contacts by phone or email |
//! | `create_person` | a new lead or contact |
//! | `find_company` | a company (HubSpot company, Salesforce/Zoho Account) by name or domain |
//! | `create_company` | a new company/account |
//! | `associate` | link two records (HubSpot's default association; elsewhere a lookup field) |
//! | `create_activity` | a call, note, task, email or meeting on a person and/or a deal |
//! | `find_activity` | the activity written earlier under the same [`NewActivity::key`], if any |
//! | `append_to_activity` | add text to an activity's body (a call's transcript), idempotently |
//! | `create_record` | a record of any object from its fields (a deal, a custom object's) |
//! | `update_record` | set fields of any record (the deal's room URL) |
//! | `describe_fields` | an object's fields with their types, for validating settings |
//! | `list_objects` | the objects (sObjects, object types, modules) the API user can work with |
//! | `search_records` | a record picker's live search of one object by name and/or relation |
//!
//! **Exactly once.** A write may fail ambiguously (timeout, connection dropped after sending:
//! [`ConnectorError::may_have_been_sent`]). Before writing again the engine asks
//! `find_activity` with the same key; each provider documents in its `records` file where the
//! key is kept so that the lookup is deterministic. People and companies are naturally keyed
//! (phone, email, name, domain), so the engine looks them up with `find_people` and
//! `find_company` before creating them again.

use renkei_core::Millis;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::people::PersonObject;

/// A record at the provider: its object's API name and its id.
///
/// `object` is the provider's own name (`"Task"`, `"Lead"`, `"Opportunity"`, `"Account"` for
/// Salesforce; `"calls"`, `"contacts"`, `"deals"`, `"companies"` for HubSpot; `"Calls"`,
/// `"Notes"`, `"Leads"`, `"Accounts"`, `"Deals"` for Zoho CRM).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RecordRef {
    pub object: String,
    pub id: String,
}

impl RecordRef {
    pub fn new(object: impl Into<String>, id: impl Into<String>) -> Self {
        Self {
            object: object.into(),
            id: id.into(),
        }
    }
}

/// How to look people up live at the provider. At least one of the two is set; with both,
/// records matching either are returned.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PersonLookup {
    /// The phone number in E.164 (`+81312345678`). Providers keep phones as typed
    /// (`03-1234-5678`), so each connector searches the forms it can (E.164, the national form
    /// with and without separators) and the engine re-checks the answers with its own
    /// normaliser; a connector may return records whose phone does not match.
    pub phone_e164: Option<String>,
    /// The national significant number's usual written forms (`03-1234-5678`,
    /// `0312345678`), which the engine derives from the tenant's region; a connector that
    /// cannot search digits alone searches these.
    pub phone_national: Vec<String>,
    /// An email address, lower-cased.
    pub email: Option<String>,
}

/// A lead or contact to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewPerson {
    pub object: PersonObject,
    pub last_name: String,
    pub first_name: Option<String>,
    /// Lead: the company text field (Salesforce requires `Company` on a Lead: a lead without
    /// one is written with the engine's placeholder). Contact: ignored for Salesforce and
    /// Zoho, whose contacts point at an account with `account`; HubSpot: the `company`
    /// property.
    pub company: Option<String>,
    /// Contact: the account it belongs to (Salesforce `AccountId`, Zoho `Account_Name`).
    pub account: Option<RecordRef>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub description: Option<String>,
    /// The owning CRM user's id.
    pub owner_id: Option<String>,
    /// Further fields by their API names (booking capture's mapped properties), written as
    /// given. They win over the named fields above.
    pub extra: Map<String, Value>,
}

/// A company (HubSpot company; Salesforce and Zoho Account) to create.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NewCompany {
    pub name: String,
    /// A domain (`example.co.jp`), never a free-mail one: the engine filters those.
    pub domain: Option<String>,
    pub owner_id: Option<String>,
    pub extra: Map<String, Value>,
}

/// What kind of activity.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActivityKind {
    /// Salesforce Task with `TaskSubtype` Call; HubSpot `calls`; Zoho `Calls`.
    Call,
    /// Salesforce `Note`; HubSpot `notes`; Zoho `Notes`.
    Note,
    /// Salesforce Task; HubSpot `tasks`; Zoho `Tasks`.
    Task,
    /// Salesforce Task with `TaskSubtype` Email; HubSpot `emails`.
    Email,
    /// Salesforce Event; HubSpot `meetings`; Zoho `Events`.
    Meeting,
}

impl ActivityKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ActivityKind::Call => "call",
            ActivityKind::Note => "note",
            ActivityKind::Task => "task",
            ActivityKind::Email => "email",
            ActivityKind::Meeting => "meeting",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Inbound,
    Outbound,
}

/// The facts of a call, for [`ActivityKind::Call`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallDetails {
    pub direction: CallDirection,
    /// Whole seconds. Each provider converts to its unit (HubSpot `hs_call_duration` is in
    /// milliseconds; Zoho `Call_Duration` is `mm:ss`).
    pub duration_seconds: u64,
    /// The other party's number as the host app gave it.
    pub phone: Option<String>,
    pub recording_url: Option<String>,
}

/// An activity to write.
#[derive(Debug, Clone, PartialEq)]
pub struct NewActivity {
    pub kind: ActivityKind,
    /// renkei's deterministic key for this write (`renkei:{tenant}:{event id}:{step}`, at most
    /// 200 characters, ASCII). The provider module keeps it in the record where
    /// the provider's `find_activity` can find it again, and documents where.
    pub key: String,
    /// Title or subject.
    pub subject: String,
    /// Description, note body, email text, meeting body. Plain text; line breaks kept.
    pub body: String,
    /// When it happened (call start, message sent, task completed, meeting start).
    pub occurred_at: Millis,
    /// When it ended (meetings; calls derive it from the duration).
    pub ends_at: Option<Millis>,
    /// The CRM user who owns it; `None` leaves the provider's default (the API user).
    pub owner_id: Option<String>,
    /// The lead or contact it is about (Salesforce `WhoId`, HubSpot association to the contact,
    /// Zoho `Who_Id` or the note's parent).
    pub person: Option<RecordRef>,
    /// The deal it is about (Salesforce `WhatId` on an Opportunity, HubSpot association to the
    /// deal, Zoho `What_Id` on a Deal).
    pub deal: Option<RecordRef>,
    /// Calls only.
    pub call: Option<CallDetails>,
    /// Tasks: written as completed (Salesforce `Status` Completed, HubSpot `hs_task_status`
    /// COMPLETED). Calls are always written as completed.
    pub completed: bool,
}

/// The broad type of a field, enough to validate settings (PRODUCT.md 4.1: only text-type
/// properties may receive a room URL; 4.5: only string and number properties may be mapped).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    /// A single-line string (Salesforce `string`, HubSpot `string` with `fieldType` `text`,
    /// Zoho `text`).
    Text,
    /// Multi-line text (Salesforce `textarea`, HubSpot `textarea`, Zoho `textarea`).
    LongText,
    Url,
    Email,
    Phone,
    Number,
    Bool,
    Date,
    DateTime,
    /// One or several of fixed options.
    Picklist,
    /// A lookup to another record.
    Reference,
    /// Anything else (formulas, ids, files, …).
    Other,
}

/// One field of an object, as its provider describes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldMeta {
    /// The API name (`Room_URL__c`, `room_url`, `Room_URL`).
    pub name: String,
    pub label: String,
    pub kind: FieldKind,
    /// The provider's own type name (`string`, `textarea`, `enumeration`, …) for messages.
    pub provider_type: String,
    pub required: bool,
    /// Whether the API user may write it (Salesforce `updateable`/`createable`, HubSpot
    /// `modificationMetadata.readOnlyValue`, Zoho `read_only`).
    pub writable: bool,
    /// Picklist options: `(value, label)`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub options: Vec<(String, String)>,
    /// For a lookup: the objects it may point at (Salesforce `referenceTo`, Zoho
    /// `lookup.module`, `users` for a Zoho owner lookup, `owners` for HubSpot's owner property).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub references: Vec<String>,
}

/// One object a connection can work with: a Salesforce sObject, a HubSpot object type, a Zoho
/// CRM module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectMeta {
    /// The API name (`Lead`, `Project__c`; `contacts`; `Leads`, `Custom_Module1`).
    pub name: String,
    /// The label in the CRM account's language, as the provider gives it.
    pub label: String,
    pub plural_label: String,
    /// Made by the CRM's admin rather than shipped with the CRM.
    pub custom: bool,
    /// Whether the API user may create records of it.
    pub creatable: bool,
}

/// A record picker's live search (PRODUCT.md 4.1: a deal to link a room to; the contacts of the
/// deal's company as room guests; an account).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordQuery {
    /// The object's API name, as [`ObjectMeta::name`] gives it.
    pub object: String,
    /// Text the record's name contains (Salesforce, HubSpot's `query`) or starts with (Zoho
    /// with a relation); `None` lists records without a text condition.
    pub text: Option<String>,
    /// Only records related to this one: a Contact of an Account, a Deal of a company.
    pub related: Option<Relation>,
    /// At most this many records, 1 to [`RECORD_QUERY_MAX`].
    pub limit: usize,
}

/// The most records one picker search answers: the smallest of the providers' page sizes
/// (HubSpot search: 200, Zoho: 200; a SOQL query has no such limit).
pub const RECORD_QUERY_MAX: usize = 200;

/// "Related to this record", for [`RecordQuery::related`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Relation {
    /// The lookup field of the searched object that points at `record` (Salesforce
    /// `AccountId`, Zoho `Account_Name`), chosen by the engine from the object's fields.
    /// HubSpot relates records by association rather than by a field and ignores it.
    pub field: Option<String>,
    pub record: RecordRef,
}

/// One record a picker offers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FoundRecord {
    pub id: String,
    /// What the CRM shows as the record's name (a person's full name, an account's name, a
    /// deal's name, a task's subject).
    pub name: String,
    /// The few further fields a picker shows beside the name (email, website, stage, amount),
    /// by their API names, as the provider gave them; absent fields are left out.
    pub fields: Map<String, Value>,
}

/// The names of `wanted` that `fields` has, in the order of `wanted`: a search selects only
/// fields the object has, since every provider refuses a query naming an unknown one.
pub fn present<'a>(fields: &[FieldMeta], wanted: &[&'a str]) -> Vec<&'a str> {
    wanted
        .iter()
        .copied()
        .filter(|w| fields.iter().any(|f| f.name == *w))
        .collect()
}
