//! A connection's settings document (`GET/PUT …/connections/{provider}/settings`): what it
//! may hold, its defaults per provider and tenant locale, and its validation.
//!
//! The document is stored whole, defaults filled in, on the connection row. A `PUT` may send
//! only the parts it changes: they are merged over the current document (objects merge key by
//! key, anything else replaces), and the result must parse with unknown fields refused and
//! pass [`ConnectionSettings::validate`]. The `people` section drives import and sync; the
//! recipe sections of the write-back issue will sit beside it.

use std::collections::BTreeMap;

use renkei_connectors::Provider;
use renkei_connectors::people::PersonObject;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The whole settings document of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ConnectionSettings {
    pub people: PeopleSettings,
    /// Calls written as activities (PRODUCT.md 4.3).
    #[serde(default)]
    pub call_logging: CallLogging,
    /// Meeting reports written as notes (4.4).
    #[serde(default)]
    pub meeting_notes: MeetingNotes,
    /// Deal-room activity and the room URL on the deal (4.1).
    #[serde(default)]
    pub deal_room: DealRoom,
    /// Completed bookings written as companies and contacts (4.5).
    #[serde(default)]
    pub booking_capture: BookingCapture,
}

/// Whether and as what a recipe creates a person the CRM does not have yet.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CreateAs {
    /// Do not create: the write is skipped when no record matches.
    #[default]
    None,
    Lead,
    Contact,
}

/// Which call events write.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub enum CallEvent {
    /// The call activity itself.
    #[serde(rename = "call.ended")]
    Ended,
    /// The transcript, appended to the call's activity.
    #[serde(rename = "call.transcribed")]
    Transcribed,
}

/// `call_logging` (PRODUCT.md 4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct CallLogging {
    pub enabled: bool,
    /// The events that write (`call.ended`, `call.transcribed`).
    pub events: Vec<CallEvent>,
    /// Where callers are looked up live: `lead`, `contact` (HubSpot: `contact`).
    #[schema(value_type = Vec<String>)]
    pub objects: Vec<PersonObject>,
    /// Unknown callers: `none` (skip the write), `lead` or `contact`.
    pub create_unknown: CreateAs,
    /// The account a created contact without a company is attached to (reused if it exists).
    pub default_account_name: String,
    /// The activity's subject, a template over the event (`direction`, `customer`, …).
    pub subject: String,
}

/// `meeting_notes` (PRODUCT.md 4.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct MeetingNotes {
    pub enabled: bool,
    /// A customer the CRM does not have yet: `lead`, `contact`, or `none` (skip).
    pub create_as: CreateAs,
    /// The line of the note naming the member who held the meeting, a template over the
    /// event with `member` (`name`, `email`).
    pub member_line: String,
}

/// The activity a deal-room event becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum RoomActivity {
    Task,
    Email,
    Meeting,
    Note,
    /// Not written.
    None,
}

/// The deal-room events that can write.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
pub enum RoomEvent {
    #[serde(rename = "chat.message_sent")]
    ChatMessageSent,
    #[serde(rename = "task.completed")]
    TaskCompleted,
    #[serde(rename = "content.updated")]
    ContentUpdated,
}

/// `deal_room` (PRODUCT.md 4.1; HubSpot and Salesforce).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct DealRoom {
    pub enabled: bool,
    /// The deal field that receives the room URL on `room.linked` (HubSpot: a text-type
    /// property; Salesforce: a text or URL field of Opportunity); `null` writes no URL.
    pub url_field: Option<String>,
    /// The activity type per event.
    pub activities: BTreeMap<RoomEvent, RoomActivity>,
}

/// `booking_capture` (PRODUCT.md 4.5; HubSpot).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BookingCapture {
    pub enabled: bool,
    /// Mappings per booking calendar id.
    pub calendars: BTreeMap<String, BookingMapping>,
    /// The mapping of calendars not listed; `null`: such bookings are skipped.
    pub default: Option<BookingMapping>,
}

/// How a booking's `guest` and `answers` become properties: property name → template.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields, default)]
pub struct BookingMapping {
    /// Company properties; empty: no company is written.
    pub company: BTreeMap<String, String>,
    /// Contact properties; must map `email` when not empty.
    pub contact: BTreeMap<String, String>,
}

impl Default for CallLogging {
    fn default() -> Self {
        Self {
            enabled: false,
            events: vec![CallEvent::Ended, CallEvent::Transcribed],
            objects: vec![PersonObject::Lead, PersonObject::Contact],
            create_unknown: CreateAs::None,
            default_account_name: "renkei 取引先".to_owned(),
            subject: "{{ direction_label }}".to_owned(),
        }
    }
}

impl Default for MeetingNotes {
    fn default() -> Self {
        Self {
            enabled: false,
            create_as: CreateAs::Lead,
            member_line: "担当: {{ member.name | default(member.id) }}".to_owned(),
        }
    }
}

impl Default for DealRoom {
    fn default() -> Self {
        Self {
            enabled: false,
            url_field: None,
            activities: BTreeMap::from([
                (RoomEvent::ChatMessageSent, RoomActivity::Email),
                (RoomEvent::TaskCompleted, RoomActivity::Task),
                (RoomEvent::ContentUpdated, RoomActivity::Meeting),
            ]),
        }
    }
}

/// Import and sync of the CRM's people (PRODUCT.md 4.3, 4.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PeopleSettings {
    /// Import and sync at all.
    pub enabled: bool,
    /// Which objects hold the people to import: `lead`, `contact` (HubSpot: `contact` only).
    #[schema(value_type = Vec<String>)]
    pub objects: Vec<PersonObject>,
    /// A person lacking any of these is skipped and counted: `phone` (a usable main phone,
    /// for call logging), `name` (for meeting notes), `email`, `company`.
    pub required: Vec<RequiredField>,
    /// How people who collide are made one host-app customer: `phone` (same main phone:
    /// exactly one chosen, PRODUCT.md 4.3), `name_company` (4.4), `email`, or `none`.
    pub identity: IdentityRule,
    /// The company shown for a person without one (default "名前なし" in Japanese tenants).
    pub missing_company: Option<String>,
    /// Per field: `sync` (two-way: `customer.updated` events write it back) or `import`
    /// (one-way). Only name, phone, email and description can be `sync`.
    pub fields: BTreeMap<PersonField, FieldMode>,
    /// Also match on the other phone fields (mobile). Off by default: the seed product uses
    /// only the main phone field.
    pub other_phones: bool,
    pub initial: InitialLimits,
    /// Seconds between incremental syncs (at least 60).
    pub interval_seconds: u64,
    /// The share of a provider's daily API quota sync may use before it waits for the next
    /// window (0 < share ≤ 1).
    pub quota_share: f64,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InitialLimits {
    /// Import at most this many people, the most recently updated first.
    pub max_records: Option<u64>,
    /// Import only people updated within this many days.
    pub updated_within_days: Option<u32>,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum RequiredField {
    Phone,
    Name,
    Email,
    Company,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum IdentityRule {
    Phone,
    NameCompany,
    Email,
    None,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum PersonField {
    Name,
    Phone,
    Email,
    Description,
    Company,
    Address,
    Department,
    Title,
}

impl PersonField {
    pub const ALL: [PersonField; 8] = [
        PersonField::Name,
        PersonField::Phone,
        PersonField::Email,
        PersonField::Description,
        PersonField::Company,
        PersonField::Address,
        PersonField::Department,
        PersonField::Title,
    ];

    /// Whether renkei can write the field back to the CRM.
    pub fn writable(self) -> bool {
        matches!(
            self,
            PersonField::Name | PersonField::Phone | PersonField::Email | PersonField::Description
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldMode {
    Sync,
    Import,
}

/// A settings document that does not hold.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    /// Stable snake_case code.
    pub code: &'static str,
    /// The path of the offending field (`people.objects[1]`).
    pub field: String,
    pub message: String,
}

impl SettingsError {
    fn new(code: &'static str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code,
            field: field.into(),
            message: message.into(),
        }
    }
}

impl ConnectionSettings {
    /// The defaults for `p` in a tenant of `locale`, from the seed products: Salesforce as the
    /// cloud phone (4.3: leads and contacts, phone required and the identity, address and a
    /// contact's company one-way), Zoho as the meeting assistant (4.4: leads, name required,
    /// name + company identity, import only), HubSpot as the deal room's contact copy (4.1).
    pub fn defaults(p: Provider, locale: &str) -> Self {
        let import_all = || -> BTreeMap<PersonField, FieldMode> {
            PersonField::ALL
                .into_iter()
                .map(|f| (f, FieldMode::Import))
                .collect()
        };
        let (objects, required, identity, fields) = match p {
            Provider::Salesforce => (
                vec![PersonObject::Lead, PersonObject::Contact],
                vec![RequiredField::Phone],
                IdentityRule::Phone,
                PersonField::ALL
                    .into_iter()
                    .map(|f| {
                        let mode = if f.writable() {
                            FieldMode::Sync
                        } else {
                            FieldMode::Import
                        };
                        (f, mode)
                    })
                    .collect(),
            ),
            Provider::ZohoCrm => (
                vec![PersonObject::Lead],
                vec![RequiredField::Name],
                IdentityRule::NameCompany,
                import_all(),
            ),
            Provider::Hubspot => (
                vec![PersonObject::Contact],
                vec![],
                IdentityRule::Email,
                import_all(),
            ),
        };
        let ja = locale == "ja";
        Self {
            people: PeopleSettings {
                enabled: true,
                objects,
                required,
                identity,
                missing_company: (locale == "ja").then(|| "名前なし".to_owned()),
                fields,
                other_phones: false,
                initial: InitialLimits::default(),
                interval_seconds: 300,
                quota_share: 0.5,
            },
            call_logging: CallLogging {
                objects: match p {
                    Provider::Hubspot => vec![PersonObject::Contact],
                    _ => vec![PersonObject::Lead, PersonObject::Contact],
                },
                default_account_name: if ja {
                    "renkei 取引先"
                } else {
                    "renkei account"
                }
                .into(),
                subject: if ja {
                    "通話（{{ direction_label }}）"
                } else {
                    "{{ direction_label }} call"
                }
                .into(),
                ..CallLogging::default()
            },
            meeting_notes: MeetingNotes {
                member_line: if ja {
                    "担当: {{ member.name | default(member.id) }}"
                } else {
                    "Held by {{ member.name | default(member.id) }}"
                }
                .into(),
                ..MeetingNotes::default()
            },
            deal_room: DealRoom {
                // Salesforce writes every room event to the Opportunity's activity history as
                // a Task (4.1); HubSpot has an engagement type per event.
                activities: match p {
                    Provider::Salesforce => [
                        RoomEvent::ChatMessageSent,
                        RoomEvent::TaskCompleted,
                        RoomEvent::ContentUpdated,
                    ]
                    .into_iter()
                    .map(|e| (e, RoomActivity::Task))
                    .collect(),
                    _ => DealRoom::default().activities,
                },
                ..DealRoom::default()
            },
            booking_capture: BookingCapture::default(),
        }
    }

    /// The effective settings: `stored` (the connection's document, possibly `{}` or older and
    /// partial) over the defaults.
    pub fn effective(p: Provider, locale: &str, stored: &str) -> Result<Self, SettingsError> {
        let stored: Value = serde_json::from_str(stored).unwrap_or(Value::Null);
        Self::merged(p, locale, &Self::defaults(p, locale), &stored)
    }

    /// `patch` merged over `current`, parsed and validated.
    pub fn merged(
        p: Provider,
        _locale: &str,
        current: &ConnectionSettings,
        patch: &Value,
    ) -> Result<Self, SettingsError> {
        let mut doc = serde_json::to_value(current).unwrap_or(Value::Null);
        if !patch.is_null() && !patch.is_object() {
            return Err(SettingsError::new(
                "invalid_settings",
                "",
                "settings must be a JSON object",
            ));
        }
        merge(&mut doc, patch);
        let parsed: ConnectionSettings = serde_path_to_error::deserialize(doc).map_err(|e| {
            let path = e.path().to_string();
            SettingsError::new(
                "invalid_settings",
                if path == "." { String::new() } else { path },
                e.inner().to_string(),
            )
        })?;
        parsed.validate(p)?;
        Ok(parsed)
    }

    pub fn validate(&self, p: Provider) -> Result<(), SettingsError> {
        let s = &self.people;
        if s.objects.is_empty() {
            return Err(SettingsError::new(
                "invalid_settings",
                "people.objects",
                "choose at least one object to import",
            ));
        }
        for (i, o) in s.objects.iter().enumerate() {
            if o.remote_name(p).is_none() {
                return Err(SettingsError::new(
                    "object_unsupported",
                    format!("people.objects[{i}]"),
                    format!(
                        "{} has no {} object among its people",
                        p.as_str(),
                        o.as_str()
                    ),
                ));
            }
            if s.objects[..i].contains(o) {
                return Err(SettingsError::new(
                    "invalid_settings",
                    format!("people.objects[{i}]"),
                    format!("{} is listed twice", o.as_str()),
                ));
            }
        }
        for (f, mode) in &s.fields {
            if *mode == FieldMode::Sync && !f.writable() {
                return Err(SettingsError::new(
                    "field_not_writable",
                    format!("people.fields.{}", field_name(*f)),
                    format!(
                        "{} can only be imported (renkei does not write it back)",
                        field_name(*f)
                    ),
                ));
            }
        }
        if s.interval_seconds < 60 {
            return Err(SettingsError::new(
                "invalid_settings",
                "people.interval_seconds",
                "the sync interval must be at least 60 seconds",
            ));
        }
        if !(s.quota_share > 0.0 && s.quota_share <= 1.0) {
            return Err(SettingsError::new(
                "invalid_settings",
                "people.quota_share",
                "the quota share must be greater than 0 and at most 1",
            ));
        }
        if s.initial.max_records == Some(0) {
            return Err(SettingsError::new(
                "invalid_settings",
                "people.initial.max_records",
                "max_records must be at least 1 (leave it null for no limit)",
            ));
        }
        if s.initial.updated_within_days == Some(0) {
            return Err(SettingsError::new(
                "invalid_settings",
                "people.initial.updated_within_days",
                "updated_within_days must be at least 1 (leave it null for no limit)",
            ));
        }
        if let Some(c) = &s.missing_company
            && (c.trim().is_empty() || c.chars().count() > 255)
        {
            return Err(SettingsError::new(
                "invalid_settings",
                "people.missing_company",
                "the placeholder company must be 1 to 255 characters (or null)",
            ));
        }
        Ok(())
    }

    /// The mode of `f` (`import` when the document does not name it).
    pub fn mode(&self, f: PersonField) -> FieldMode {
        self.people
            .fields
            .get(&f)
            .copied()
            .unwrap_or(FieldMode::Import)
    }
}

fn field_name(f: PersonField) -> String {
    serde_json::to_value(f)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// JSON merge: objects merge key by key, anything else replaces.
fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                match a.get_mut(k) {
                    Some(slot) if slot.is_object() && v.is_object() => merge(slot, v),
                    _ => {
                        a.insert(k.clone(), v.clone());
                    }
                }
            }
        }
        (slot, v) if !v.is_null() => *slot = v.clone(),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn defaults_follow_the_seed_products() {
        let sf = ConnectionSettings::defaults(Provider::Salesforce, "ja");
        assert_eq!(sf.people.identity, IdentityRule::Phone);
        assert_eq!(sf.mode(PersonField::Address), FieldMode::Import);
        assert_eq!(sf.mode(PersonField::Company), FieldMode::Import);
        assert_eq!(sf.mode(PersonField::Phone), FieldMode::Sync);
        assert_eq!(sf.people.missing_company.as_deref(), Some("名前なし"));
        let zoho = ConnectionSettings::defaults(Provider::ZohoCrm, "en");
        assert_eq!(zoho.people.identity, IdentityRule::NameCompany);
        assert_eq!(zoho.people.missing_company, None);
        assert_eq!(zoho.mode(PersonField::Name), FieldMode::Import);
        for p in [Provider::Hubspot, Provider::Salesforce, Provider::ZohoCrm] {
            ConnectionSettings::defaults(p, "ja").validate(p).unwrap();
        }
    }

    #[test]
    fn patches_merge_and_bad_ones_name_the_field() {
        let cur = ConnectionSettings::defaults(Provider::Salesforce, "ja");
        let ok = ConnectionSettings::merged(
            Provider::Salesforce,
            "ja",
            &cur,
            &json!({"people": {"objects": ["contact"], "initial": {"max_records": 2000}}}),
        )
        .unwrap();
        assert_eq!(ok.people.objects, vec![PersonObject::Contact]);
        assert_eq!(ok.people.initial.max_records, Some(2000));
        assert_eq!(ok.people.identity, IdentityRule::Phone);

        let cases = [
            (
                json!({"people": {"objects": ["lead"]}}),
                Provider::Hubspot,
                "object_unsupported",
                "people.objects[0]",
            ),
            (
                json!({"people": {"objects": []}}),
                Provider::Salesforce,
                "invalid_settings",
                "people.objects",
            ),
            (
                json!({"people": {"objects": ["deal"]}}),
                Provider::Salesforce,
                "invalid_settings",
                "people.objects[0]",
            ),
            (
                json!({"people": {"fields": {"address": "sync"}}}),
                Provider::Salesforce,
                "field_not_writable",
                "people.fields.address",
            ),
            (
                json!({"people": {"interval_seconds": 5}}),
                Provider::Salesforce,
                "invalid_settings",
                "people.interval_seconds",
            ),
            (
                json!({"people": {"quota_share": 1.5}}),
                Provider::Salesforce,
                "invalid_settings",
                "people.quota_share",
            ),
            (
                json!({"people": {"identity": "fuzzy"}}),
                Provider::Salesforce,
                "invalid_settings",
                "people.identity",
            ),
            (
                json!({"people": {"colour": "red"}}),
                Provider::Salesforce,
                "invalid_settings",
                "people.colour",
            ),
            (
                json!({"recipes": {}}),
                Provider::Salesforce,
                "invalid_settings",
                "recipes",
            ),
            (json!([1]), Provider::Salesforce, "invalid_settings", ""),
            (
                json!({"people": {"initial": {"max_records": 0}}}),
                Provider::Salesforce,
                "invalid_settings",
                "people.initial.max_records",
            ),
            (
                json!({"people": {"missing_company": " "}}),
                Provider::Salesforce,
                "invalid_settings",
                "people.missing_company",
            ),
        ];
        for (patch, p, code, field) in cases {
            let cur = ConnectionSettings::defaults(p, "ja");
            let e = ConnectionSettings::merged(p, "ja", &cur, &patch).unwrap_err();
            assert_eq!((e.code, e.field.as_str()), (code, field), "{patch}: {e}");
        }
    }

    #[test]
    fn stored_documents_fill_in_from_defaults() {
        let s = ConnectionSettings::effective(Provider::ZohoCrm, "ja", "{}").unwrap();
        assert_eq!(s, ConnectionSettings::defaults(Provider::ZohoCrm, "ja"));
        let s = ConnectionSettings::effective(
            Provider::ZohoCrm,
            "ja",
            r#"{"people":{"objects":["contact"]}}"#,
        )
        .unwrap();
        assert_eq!(s.people.objects, vec![PersonObject::Contact]);
    }
}
