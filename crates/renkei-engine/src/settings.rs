//! A connection's settings document (`GET/PUT …/connections/{provider}/settings`): what it
//! may hold, its defaults per provider and tenant locale, and its validation.
//!
//! The document is stored whole, defaults filled in, on the connection row. A `PUT` may send
//! only the parts it changes: they are merged over the current document (objects merge key by
//! key, `null` removes a key as in JSON Merge Patch, anything else replaces), and the result must parse with unknown fields refused and
//! pass [`ConnectionSettings::validate`]. The `people` section drives import and sync; the
//! recipe sections (`call_logging`, `meeting_notes`, `deal_room`, `booking_capture`) drive
//! write-back, each off until enabled.
//!
//! Validation has two layers. [`ConnectionSettings::validate`] needs nothing but the document
//! and the provider: templates parse, values are in range, and an enabled recipe asks only for
//! what its provider can do. Syntax is checked on disabled recipes too (a bad template is
//! refused even while its recipe is off), provider capabilities only on enabled ones, so that
//! the defaults of every provider, and documents stored before a rule existed, stay valid.
//! [`ConnectionSettings::check_fields`] then checks the CRM fields an enabled recipe names
//! (the room URL field, the booking mappings' properties) against the provider's live field
//! metadata, which the server fetches for the objects [`ConnectionSettings::objects_to_describe`]
//! lists.

use std::collections::BTreeMap;

use renkei_connectors::Provider;
use renkei_connectors::people::PersonObject;
use renkei_connectors::records::{FieldKind, FieldMeta};
use renkei_core::template::Template;
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
                // HubSpot has no leads among its people: an unlinked customer becomes a contact.
                create_as: match p {
                    Provider::Hubspot => CreateAs::Contact,
                    _ => CreateAs::Lead,
                },
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
            // A map key that does not parse (`deal_room.activities` with an unknown event)
            // has no segment of its own (`?`): the map is named instead.
            let path = path.trim_end_matches(".?").to_owned();
            SettingsError::new(
                "invalid_settings",
                if path == "." { String::new() } else { path },
                e.inner().to_string(),
            )
        })?;
        parsed.validate(p)?;
        Ok(parsed)
    }

    /// Checks the document for `p` without asking the provider (see the module doc for what
    /// is checked when). Errors name the offending field by path and carry a stable code:
    /// `invalid_settings`, `object_unsupported`, `field_not_writable`, `template_invalid`,
    /// `recipe_unsupported`, `activity_unsupported`, `email_required`,
    /// `company_key_required`, `mapping_empty`.
    pub fn validate(&self, p: Provider) -> Result<(), SettingsError> {
        self.validate_people(p)?;
        self.call_logging.validate(p)?;
        self.meeting_notes.validate(p)?;
        self.deal_room.validate(p)?;
        self.booking_capture.validate(p)?;
        Ok(())
    }

    fn validate_people(&self, p: Provider) -> Result<(), SettingsError> {
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

    /// The provider objects whose field metadata [`Self::check_fields`] needs (empty: none):
    /// the deal object when an enabled deal room names a URL field, HubSpot's companies and
    /// contacts when an enabled booking capture maps their properties. Disabled recipes need
    /// no metadata.
    pub fn objects_to_describe(&self, p: Provider) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for (object, _, _, _) in self.named_fields(p) {
            if !out.contains(&object) {
                out.push(object);
            }
        }
        out
    }

    /// Checks the fields enabled recipes name against the provider's metadata, by object
    /// name (as [`Self::objects_to_describe`] lists them; an object missing from `fields`
    /// has no fields). The first field that is unknown (`field_unknown`), of a type the recipe
    /// cannot write (`field_type_unsupported`) or read-only for the API user
    /// (`field_read_only`) is refused, with its path.
    pub fn check_fields(
        &self,
        p: Provider,
        fields: &BTreeMap<String, Vec<FieldMeta>>,
    ) -> Result<(), SettingsError> {
        for (object, name, path, allowed) in self.named_fields(p) {
            let meta = fields
                .get(object)
                .and_then(|fs| fs.iter().find(|f| f.name == name));
            let Some(meta) = meta else {
                return Err(SettingsError::new(
                    "field_unknown",
                    path,
                    format!("{} has no {object} field named {name:?}", p.as_str()),
                ));
            };
            if !allowed.contains(&meta.kind) {
                return Err(SettingsError::new(
                    "field_type_unsupported",
                    path,
                    format!(
                        "the {object} field {name:?} is of type {}, which cannot be used here",
                        meta.provider_type
                    ),
                ));
            }
            if !meta.writable {
                return Err(SettingsError::new(
                    "field_read_only",
                    path,
                    format!("the {object} field {name:?} is read-only for the API user"),
                ));
            }
        }
        Ok(())
    }

    /// Every provider field an enabled recipe names: `(object, field, path, allowed kinds)`,
    /// in document order.
    fn named_fields(
        &self,
        p: Provider,
    ) -> Vec<(&'static str, String, String, &'static [FieldKind])> {
        let mut out = Vec::new();
        let room = &self.deal_room;
        if room.enabled
            && let Some(field) = &room.url_field
        {
            match p {
                Provider::Hubspot => out.push((
                    "deals",
                    field.clone(),
                    "deal_room.url_field".to_owned(),
                    HUBSPOT_ROOM_URL_KINDS,
                )),
                Provider::Salesforce => out.push((
                    "Opportunity",
                    field.clone(),
                    "deal_room.url_field".to_owned(),
                    SALESFORCE_ROOM_URL_KINDS,
                )),
                // The deal room has no Zoho CRM target (`validate` refuses enabling it).
                Provider::ZohoCrm => {}
            }
        }
        let booking = &self.booking_capture;
        if booking.enabled && p == Provider::Hubspot {
            for (path, mapping) in booking.mappings() {
                for (object, props, side) in [
                    ("companies", &mapping.company, "company"),
                    ("contacts", &mapping.contact, "contact"),
                ] {
                    for name in props.keys() {
                        out.push((
                            object,
                            name.clone(),
                            format!("{path}.{side}.{name}"),
                            BOOKING_PROPERTY_KINDS,
                        ));
                    }
                }
            }
        }
        out
    }
}

/// The kinds a HubSpot room URL property may have. PRODUCT.md 4.1 (and the Mazrica DSR seed:
/// 「"テキストタイプ"のカスタムフィールドのみ選択可能です」) allow only text-type properties.
/// HubSpot's properties guide ("Property type and fieldType values",
/// https://developers.hubspot.com/docs/api/crm/properties) describes `fieldType` `text` as a
/// plain text string displayed in a single-line text input and `textarea` as one displayed
/// as a multi-line input; a URL is one line, so only `type` `string` with `fieldType` `text`
/// ([`FieldKind::Text`]) is accepted. Rich text (`html`), phone numbers and files are strings
/// too, but not text-type.
const HUBSPOT_ROOM_URL_KINDS: &[FieldKind] = &[FieldKind::Text];

/// The kinds a Salesforce Opportunity field receiving the room URL may have: `string`,
/// `textarea` and `url` (Salesforce's describe `type`), all of which hold a URL as it is.
const SALESFORCE_ROOM_URL_KINDS: &[FieldKind] =
    &[FieldKind::Text, FieldKind::LongText, FieldKind::Url];

/// The kinds a booking mapping may write (PRODUCT.md 4.5: "only string and number properties
/// can be mapped"; the TimeRex seed: 「レコードが文字列または数字となるプロパティーのみ」).
/// HubSpot's strings are single-line, multi-line and rich text and phone numbers (the email and
/// URL kinds come only from other providers' metadata: HubSpot's `email` and `website` are
/// `string`/`text`); files and calculations ([`FieldKind::Other`]), enumerations, booleans and
/// dates are refused.
const BOOKING_PROPERTY_KINDS: &[FieldKind] = &[
    FieldKind::Text,
    FieldKind::LongText,
    FieldKind::Email,
    FieldKind::Phone,
    FieldKind::Url,
    FieldKind::Number,
];

/// The longest default account name: Salesforce's `Account.Name` holds 255 characters.
const MAX_ACCOUNT_NAME: usize = 255;

fn template(path: impl Into<String>, src: &str) -> Result<(), SettingsError> {
    Template::parse(src).map(drop).map_err(|e| {
        SettingsError::new(
            "template_invalid",
            path,
            format!("the template does not parse: {}", e.message),
        )
    })
}

/// How a person object is named for `p` in messages, refusing objects `p` does not have.
fn person_object(p: Provider, o: PersonObject, path: String) -> Result<(), SettingsError> {
    match o.remote_name(p) {
        Some(_) => Ok(()),
        None => Err(SettingsError::new(
            "object_unsupported",
            path,
            format!(
                "{} has no {} object among its people",
                p.as_str(),
                o.as_str()
            ),
        )),
    }
}

/// `CreateAs` as the person object it creates.
fn created_object(c: CreateAs) -> Option<PersonObject> {
    match c {
        CreateAs::None => None,
        CreateAs::Lead => Some(PersonObject::Lead),
        CreateAs::Contact => Some(PersonObject::Contact),
    }
}

impl CallLogging {
    fn validate(&self, p: Provider) -> Result<(), SettingsError> {
        template("call_logging.subject", &self.subject)?;
        let name = self.default_account_name.trim();
        if name.is_empty() || self.default_account_name.chars().count() > MAX_ACCOUNT_NAME {
            return Err(SettingsError::new(
                "invalid_settings",
                "call_logging.default_account_name",
                format!("the default account name must be 1 to {MAX_ACCOUNT_NAME} characters"),
            ));
        }
        for (i, e) in self.events.iter().enumerate() {
            if self.events[..i].contains(e) {
                return Err(SettingsError::new(
                    "invalid_settings",
                    format!("call_logging.events[{i}]"),
                    format!("{} is listed twice", wire_name(e)),
                ));
            }
        }
        for (i, o) in self.objects.iter().enumerate() {
            if self.objects[..i].contains(o) {
                return Err(SettingsError::new(
                    "invalid_settings",
                    format!("call_logging.objects[{i}]"),
                    format!("{} is listed twice", o.as_str()),
                ));
            }
        }
        if !self.enabled {
            return Ok(());
        }
        if self.events.is_empty() {
            return Err(SettingsError::new(
                "invalid_settings",
                "call_logging.events",
                "choose at least one call event to write",
            ));
        }
        if self.objects.is_empty() {
            return Err(SettingsError::new(
                "invalid_settings",
                "call_logging.objects",
                "choose at least one object to look callers up in",
            ));
        }
        for (i, o) in self.objects.iter().enumerate() {
            person_object(p, *o, format!("call_logging.objects[{i}]"))?;
        }
        if let Some(o) = created_object(self.create_unknown) {
            person_object(p, o, "call_logging.create_unknown".to_owned())?;
        }
        Ok(())
    }
}

impl MeetingNotes {
    fn validate(&self, p: Provider) -> Result<(), SettingsError> {
        template("meeting_notes.member_line", &self.member_line)?;
        if !self.enabled {
            return Ok(());
        }
        if let Some(o) = created_object(self.create_as) {
            person_object(p, o, "meeting_notes.create_as".to_owned())?;
        }
        Ok(())
    }
}

/// Whether `p` can write a deal-room event as `a`: HubSpot has an engagement per type
/// (PRODUCT.md 4.1's table, and notes), Salesforce writes everything to the Opportunity's
/// activity history as Tasks, Zoho CRM has no deal room.
fn room_activity_supported(p: Provider, a: RoomActivity) -> bool {
    match p {
        Provider::Hubspot => true,
        Provider::Salesforce => matches!(a, RoomActivity::Task | RoomActivity::None),
        Provider::ZohoCrm => false,
    }
}

impl DealRoom {
    fn validate(&self, p: Provider) -> Result<(), SettingsError> {
        if let Some(f) = &self.url_field
            && (f.trim().is_empty() || f.trim() != f)
        {
            return Err(SettingsError::new(
                "invalid_settings",
                "deal_room.url_field",
                "name the field's API name without surrounding spaces (or null for no URL)",
            ));
        }
        if !self.enabled {
            return Ok(());
        }
        if p == Provider::ZohoCrm {
            return Err(SettingsError::new(
                "recipe_unsupported",
                "deal_room.enabled",
                "the deal room writes to HubSpot and Salesforce only",
            ));
        }
        for (e, a) in &self.activities {
            if !room_activity_supported(p, *a) {
                return Err(SettingsError::new(
                    "activity_unsupported",
                    format!("deal_room.activities.{}", wire_name(e)),
                    format!(
                        "{} cannot write a {} for a deal-room event",
                        p.as_str(),
                        wire_name(a)
                    ),
                ));
            }
        }
        Ok(())
    }
}

impl BookingCapture {
    /// The mappings with their paths: each calendar's, then the default.
    fn mappings(&self) -> impl Iterator<Item = (String, &BookingMapping)> {
        self.calendars
            .iter()
            .map(|(id, m)| (format!("booking_capture.calendars.{id}"), m))
            .chain(
                self.default
                    .iter()
                    .map(|m| ("booking_capture.default".to_owned(), m)),
            )
    }

    fn validate(&self, p: Provider) -> Result<(), SettingsError> {
        if self.calendars.keys().any(|id| id.trim().is_empty()) {
            return Err(SettingsError::new(
                "invalid_settings",
                "booking_capture.calendars",
                "a booking calendar id must not be empty",
            ));
        }
        for (path, m) in self.mappings() {
            m.validate(&path)?;
        }
        if !self.enabled {
            return Ok(());
        }
        if p != Provider::Hubspot {
            return Err(SettingsError::new(
                "recipe_unsupported",
                "booking_capture.enabled",
                "booking capture writes to HubSpot only",
            ));
        }
        if self.calendars.is_empty() && self.default.is_none() {
            return Err(SettingsError::new(
                "invalid_settings",
                "booking_capture.calendars",
                "map at least one booking calendar, or a default mapping",
            ));
        }
        Ok(())
    }
}

impl BookingMapping {
    fn validate(&self, path: &str) -> Result<(), SettingsError> {
        if self.company.is_empty() && self.contact.is_empty() {
            return Err(SettingsError::new(
                "mapping_empty",
                path,
                "a mapping must write company or contact properties",
            ));
        }
        for (side, props) in [("company", &self.company), ("contact", &self.contact)] {
            for (name, src) in props {
                if name.trim().is_empty() {
                    return Err(SettingsError::new(
                        "invalid_settings",
                        format!("{path}.{side}"),
                        "a property name must not be empty",
                    ));
                }
                template(format!("{path}.{side}.{name}"), src)?;
            }
        }
        // HubSpot deduplicates contacts by email and requires it on a contact created from a
        // booking (PRODUCT.md 4.5; the TimeRex seed: 「Eメール(必須)」).
        if !self.contact.is_empty() && !self.contact.contains_key("email") {
            return Err(SettingsError::new(
                "email_required",
                format!("{path}.contact"),
                "a contact mapping must map email",
            ));
        }
        // Companies are deduplicated by name or domain (4.5): without either a company would
        // be created on every booking.
        if !self.company.is_empty()
            && !self.company.contains_key("name")
            && !self.company.contains_key("domain")
        {
            return Err(SettingsError::new(
                "company_key_required",
                format!("{path}.company"),
                "a company mapping must map name or domain",
            ));
        }
        Ok(())
    }
}

/// The wire name of an enum value (`call.ended`, `chat.message_sent`, `task`).
fn wire_name<T: Serialize>(v: &T) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

fn field_name(f: PersonField) -> String {
    wire_name(&f)
}

/// JSON merge: objects merge key by key, anything else replaces.
fn merge(into: &mut Value, patch: &Value) {
    match (into, patch) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in b {
                // JSON Merge Patch (RFC 7396): `null` removes the key, which is how a booking
                // calendar or a mapped property is taken out; an optional setting removed
                // reads as unset.
                if v.is_null() {
                    a.remove(k);
                    continue;
                }
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
    fn null_removes_a_key_as_in_json_merge_patch() {
        let mut doc = json!({"a": {"x": 1, "y": {"z": 2}}, "b": 3});
        merge(
            &mut doc,
            &json!({"a": {"x": null, "y": {"w": 4}}, "b": null}),
        );
        assert_eq!(doc, json!({"a": {"y": {"z": 2, "w": 4}}}));
    }

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

    /// The code and path a case is refused with (`None`: accepted).
    type Want = Option<(&'static str, &'static str)>;

    /// Recipe settings: each patch over the provider's defaults, and the code and path it
    /// gets.
    #[test]
    fn recipe_settings_are_validated() {
        use Provider::{Hubspot as H, Salesforce as S, ZohoCrm as Z};
        let booking =
            |m: Value| json!({"booking_capture": {"enabled": true, "calendars": {"cal-1": m}}});
        let cases: Vec<(Provider, Value, Want)> = vec![
            // call_logging
            (S, json!({"call_logging": {"enabled": true}}), None),
            (
                H,
                json!({"call_logging": {"enabled": true, "create_unknown": "contact"}}),
                None,
            ),
            (
                S,
                json!({"call_logging": {"enabled": true, "events": []}}),
                Some(("invalid_settings", "call_logging.events")),
            ),
            // Emptiness matters only to an enabled recipe.
            (
                S,
                json!({"call_logging": {"events": [], "objects": []}}),
                None,
            ),
            (
                S,
                json!({"call_logging": {"enabled": true, "objects": []}}),
                Some(("invalid_settings", "call_logging.objects")),
            ),
            (
                S,
                json!({"call_logging": {"objects": ["contact", "contact"]}}),
                Some(("invalid_settings", "call_logging.objects[1]")),
            ),
            (
                S,
                json!({"call_logging": {"events": ["call.ended", "call.ended"]}}),
                Some(("invalid_settings", "call_logging.events[1]")),
            ),
            (
                S,
                json!({"call_logging": {"events": ["call.started"]}}),
                Some(("invalid_settings", "call_logging.events[0]")),
            ),
            (
                H,
                json!({"call_logging": {"enabled": true, "objects": ["contact", "lead"]}}),
                Some(("object_unsupported", "call_logging.objects[1]")),
            ),
            (
                H,
                json!({"call_logging": {"enabled": true, "create_unknown": "lead"}}),
                Some(("object_unsupported", "call_logging.create_unknown")),
            ),
            // A disabled recipe is not held to its provider's capabilities.
            (H, json!({"call_logging": {"create_unknown": "lead"}}), None),
            (
                S,
                json!({"call_logging": {"default_account_name": " "}}),
                Some(("invalid_settings", "call_logging.default_account_name")),
            ),
            (
                S,
                json!({"call_logging": {"default_account_name": "取".repeat(256)}}),
                Some(("invalid_settings", "call_logging.default_account_name")),
            ),
            (
                S,
                json!({"call_logging": {"default_account_name": "取".repeat(255)}}),
                None,
            ),
            // Syntax is checked while the recipe is off.
            (
                S,
                json!({"call_logging": {"subject": "通話（{{ direction_label }）"}}),
                Some(("template_invalid", "call_logging.subject")),
            ),
            (
                S,
                json!({"call_logging": {"subject": "{{ direction_label | shout }}"}}),
                Some(("template_invalid", "call_logging.subject")),
            ),
            // meeting_notes
            (Z, json!({"meeting_notes": {"enabled": true}}), None),
            (H, json!({"meeting_notes": {"enabled": true}}), None),
            (
                H,
                json!({"meeting_notes": {"enabled": true, "create_as": "lead"}}),
                Some(("object_unsupported", "meeting_notes.create_as")),
            ),
            (
                H,
                json!({"meeting_notes": {"enabled": true, "create_as": "none"}}),
                None,
            ),
            (
                Z,
                json!({"meeting_notes": {"member_line": "{% if member.name %}{{ member.name }}"}}),
                Some(("template_invalid", "meeting_notes.member_line")),
            ),
            // deal_room
            (
                H,
                json!({"deal_room": {"enabled": true, "url_field": "room_url"}}),
                None,
            ),
            (S, json!({"deal_room": {"enabled": true}}), None),
            (Z, json!({"deal_room": {"url_field": "Room_URL"}}), None),
            (
                Z,
                json!({"deal_room": {"enabled": true}}),
                Some(("recipe_unsupported", "deal_room.enabled")),
            ),
            (
                S,
                json!({"deal_room": {"enabled": true, "activities": {"chat.message_sent": "email"}}}),
                Some((
                    "activity_unsupported",
                    "deal_room.activities.chat.message_sent",
                )),
            ),
            (
                S,
                json!({"deal_room": {"enabled": true, "activities": {"content.updated": "none"}}}),
                None,
            ),
            (
                H,
                json!({"deal_room": {"enabled": true, "activities": {"content.updated": "note"}}}),
                None,
            ),
            (
                H,
                json!({"deal_room": {"activities": {"room.opened": "task"}}}),
                Some(("invalid_settings", "deal_room.activities")),
            ),
            (
                H,
                json!({"deal_room": {"url_field": ""}}),
                Some(("invalid_settings", "deal_room.url_field")),
            ),
            // booking_capture
            (
                H,
                booking(json!({
                    "company": {"name": "{{ guest.company }}", "domain": "{{ guest.email | email_domain }}"},
                    "contact": {"email": "{{ guest.email }}", "phone": "{{ guest.phone | e164 }}"},
                })),
                None,
            ),
            (
                H,
                booking(json!({"company": {"domain": "{{ guest.email | email_domain }}"}})),
                None,
            ),
            (
                H,
                booking(json!({"contact": {"email": "{{ guest.email }}"}})),
                None,
            ),
            (
                H,
                json!({"booking_capture": {"enabled": true, "default": {"contact": {"email": "{{ guest.email }}"}}}}),
                None,
            ),
            (
                S,
                booking(json!({"contact": {"email": "{{ guest.email }}"}})),
                Some(("recipe_unsupported", "booking_capture.enabled")),
            ),
            // Off, a mapping on another provider is only checked for syntax.
            (
                S,
                json!({"booking_capture": {"calendars": {"cal-1": {"contact": {"email": "{{ guest.email }}"}}}}}),
                None,
            ),
            (
                H,
                booking(json!({"contact": {"firstname": "{{ guest.name }}"}})),
                Some(("email_required", "booking_capture.calendars.cal-1.contact")),
            ),
            (
                H,
                booking(json!({"company": {"numberofemployees": "{{ answers.size }}"}})),
                Some((
                    "company_key_required",
                    "booking_capture.calendars.cal-1.company",
                )),
            ),
            (
                H,
                booking(json!({})),
                Some(("mapping_empty", "booking_capture.calendars.cal-1")),
            ),
            (
                H,
                booking(json!({"contact": {"email": "{{ guest.email | nope }}"}})),
                Some((
                    "template_invalid",
                    "booking_capture.calendars.cal-1.contact.email",
                )),
            ),
            (
                S,
                json!({"booking_capture": {"default": {"contact": {"email": "{{ guest.email"}}}}),
                Some(("template_invalid", "booking_capture.default.contact.email")),
            ),
            (
                H,
                booking(json!({"contact": {"email": "{{ guest.email }}", "": "x"}})),
                Some((
                    "invalid_settings",
                    "booking_capture.calendars.cal-1.contact",
                )),
            ),
            (
                H,
                json!({"booking_capture": {"enabled": true}}),
                Some(("invalid_settings", "booking_capture.calendars")),
            ),
            (
                H,
                booking(json!({"contact": {"email": "x"}, "deal": {}})),
                Some(("invalid_settings", "booking_capture.calendars.cal-1.deal")),
            ),
        ];
        for (p, patch, want) in cases {
            let cur = ConnectionSettings::defaults(p, "ja");
            let got = ConnectionSettings::merged(p, "ja", &cur, &patch);
            match (want, got) {
                (None, Ok(_)) => {}
                (None, Err(e)) => panic!("{p:?} {patch}: refused {} {}: {e}", e.code, e.field),
                (Some(w), Ok(_)) => panic!("{p:?} {patch}: accepted, wanted {w:?}"),
                (Some(w), Err(e)) => {
                    assert_eq!((e.code, e.field.as_str()), w, "{p:?} {patch}: {e}")
                }
            }
        }
    }

    fn field(name: &str, kind: FieldKind, writable: bool) -> FieldMeta {
        FieldMeta {
            name: name.into(),
            label: name.into(),
            kind,
            provider_type: format!("{kind:?}").to_lowercase(),
            required: false,
            writable,
            options: Vec::new(),
            references: Vec::new(),
        }
    }

    /// The emulators' and providers' shapes in miniature: HubSpot deals, companies, contacts
    /// and Salesforce's Opportunity.
    fn metadata() -> BTreeMap<String, Vec<FieldMeta>> {
        use FieldKind::*;
        BTreeMap::from([
            (
                "deals".to_owned(),
                vec![
                    field("dealname", Text, true),
                    field("room_url", Text, true),
                    field("description", LongText, true),
                    field("amount", Number, true),
                    field("dealstage", Picklist, true),
                    field("hs_object_id", Number, false),
                    field("locked_url", Text, false),
                ],
            ),
            (
                "companies".to_owned(),
                vec![
                    field("name", Text, true),
                    field("domain", Text, true),
                    field("phone", Phone, true),
                    field("description", LongText, true),
                    field("numberofemployees", Number, true),
                    field("industry", Picklist, true),
                    field("is_public", Bool, true),
                    field("founded", Date, true),
                    field("hs_object_id", Number, false),
                ],
            ),
            (
                "contacts".to_owned(),
                vec![
                    field("email", Text, true),
                    field("firstname", Text, true),
                    field("mobilephone", Phone, true),
                    field("lifecyclestage", Picklist, true),
                    field("photo", Other, true),
                ],
            ),
            (
                "Opportunity".to_owned(),
                vec![
                    field("Name", Text, true),
                    field("Room_URL__c", Url, true),
                    field("Room_Notes__c", LongText, true),
                    field("Amount", Number, true),
                    field("IsWon", Bool, false),
                ],
            ),
        ])
    }

    #[test]
    fn fields_are_checked_against_metadata() {
        use Provider::{Hubspot as H, Salesforce as S, ZohoCrm as Z};
        let room = |f: &str| json!({"deal_room": {"enabled": true, "url_field": f}});
        let company = |props: Value| json!({"booking_capture": {"enabled": true, "calendars": {"cal-1": {"company": props}}}});
        let contact = |props: Value| json!({"booking_capture": {"enabled": true, "default": {"contact": props}}});
        let cases: Vec<(Provider, Value, Vec<&str>, Want)> = vec![
            (H, room("room_url"), vec!["deals"], None),
            (H, room("dealname"), vec!["deals"], None),
            (
                H,
                room("description"),
                vec!["deals"],
                Some(("field_type_unsupported", "deal_room.url_field")),
            ),
            (
                H,
                room("amount"),
                vec!["deals"],
                Some(("field_type_unsupported", "deal_room.url_field")),
            ),
            (
                H,
                room("locked_url"),
                vec!["deals"],
                Some(("field_read_only", "deal_room.url_field")),
            ),
            (
                H,
                room("room_link"),
                vec!["deals"],
                Some(("field_unknown", "deal_room.url_field")),
            ),
            (S, room("Room_URL__c"), vec!["Opportunity"], None),
            (S, room("Room_Notes__c"), vec!["Opportunity"], None),
            (S, room("Name"), vec!["Opportunity"], None),
            (
                S,
                room("Amount"),
                vec!["Opportunity"],
                Some(("field_type_unsupported", "deal_room.url_field")),
            ),
            // A deal room without a URL field, or switched off, needs no metadata.
            (
                H,
                json!({"deal_room": {"enabled": true, "url_field": null}}),
                vec![],
                None,
            ),
            (
                H,
                json!({"deal_room": {"url_field": "amount"}}),
                vec![],
                None,
            ),
            (
                H,
                company(
                    json!({"name": "{{ guest.company }}", "numberofemployees": "{{ answers.size }}",
                    "phone": "{{ guest.phone | e164 }}", "description": "{{ answers.note }}"}),
                ),
                vec!["companies"],
                None,
            ),
            (
                H,
                company(json!({"name": "x", "industry": "{{ answers.industry }}"})),
                vec!["companies"],
                Some((
                    "field_type_unsupported",
                    "booking_capture.calendars.cal-1.company.industry",
                )),
            ),
            (
                H,
                company(json!({"name": "x", "is_public": "true"})),
                vec!["companies"],
                Some((
                    "field_type_unsupported",
                    "booking_capture.calendars.cal-1.company.is_public",
                )),
            ),
            (
                H,
                company(json!({"name": "x", "founded": "2020-01-01"})),
                vec!["companies"],
                Some((
                    "field_type_unsupported",
                    "booking_capture.calendars.cal-1.company.founded",
                )),
            ),
            (
                H,
                company(json!({"name": "x", "hs_object_id": "1"})),
                vec!["companies"],
                Some((
                    "field_read_only",
                    "booking_capture.calendars.cal-1.company.hs_object_id",
                )),
            ),
            (
                H,
                company(json!({"name": "x", "employees": "1"})),
                vec!["companies"],
                Some((
                    "field_unknown",
                    "booking_capture.calendars.cal-1.company.employees",
                )),
            ),
            (
                H,
                contact(json!({"email": "{{ guest.email }}", "mobilephone": "{{ guest.phone }}"})),
                vec!["contacts"],
                None,
            ),
            (
                H,
                contact(json!({"email": "{{ guest.email }}", "photo": "{{ answers.photo }}"})),
                vec!["contacts"],
                Some((
                    "field_type_unsupported",
                    "booking_capture.default.contact.photo",
                )),
            ),
            (
                H,
                json!({"booking_capture": {"enabled": true, "calendars": {"cal-1": {
                    "company": {"name": "x"}, "contact": {"email": "y"}}}}}),
                vec!["companies", "contacts"],
                None,
            ),
            (Z, json!({"people": {"enabled": true}}), vec![], None),
        ];
        let meta = metadata();
        for (p, patch, objects, want) in cases {
            let cur = ConnectionSettings::defaults(p, "ja");
            let s = ConnectionSettings::merged(p, "ja", &cur, &patch)
                .unwrap_or_else(|e| panic!("{patch}: {e}"));
            assert_eq!(s.objects_to_describe(p), objects, "{patch}");
            match (want, s.check_fields(p, &meta)) {
                (None, Ok(())) => {}
                (None, Err(e)) => panic!("{patch}: refused {} {}: {e}", e.code, e.field),
                (Some(w), Ok(())) => panic!("{patch}: accepted, wanted {w:?}"),
                (Some(w), Err(e)) => assert_eq!((e.code, e.field.as_str()), w, "{patch}: {e}"),
            }
        }
        // Metadata without the object: every field is unknown.
        let s = ConnectionSettings::merged(
            H,
            "ja",
            &ConnectionSettings::defaults(H, "ja"),
            &room("room_url"),
        )
        .unwrap();
        let e = s.check_fields(H, &BTreeMap::new()).unwrap_err();
        assert_eq!(
            (e.code, e.field.as_str()),
            ("field_unknown", "deal_room.url_field")
        );
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
