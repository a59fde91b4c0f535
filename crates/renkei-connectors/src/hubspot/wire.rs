//! HubSpot's JSON, as far as renkei reads it.

use serde::Deserialize;

/// `POST /oauth/v1/token`. HubSpot answers `hub_id`, `user_id` and `scopes` too on newer
/// apps; we read them when present and ask the token-info endpoint otherwise.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub expires_in: Option<i64>,
    #[serde(default)]
    pub hub_id: Option<u64>,
    #[serde(default)]
    pub user_id: Option<u64>,
    #[serde(default)]
    pub scopes: Option<Vec<String>>,
}

/// `GET /oauth/v1/access-tokens/{token}`.
#[derive(Debug, Deserialize)]
pub struct AccessTokenInfo {
    pub hub_id: u64,
    #[serde(default)]
    pub user: Option<String>,
    #[serde(default)]
    pub hub_domain: Option<String>,
    #[serde(default)]
    pub user_id: Option<u64>,
}

/// The error body of the OAuth endpoints (`{"status": "BAD_REFRESH_TOKEN", "message"}`) and of
/// the CRM APIs (`{"status": "error", "category": "…", "message"}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorBody {
    pub status: String,
    pub message: String,
    pub category: Option<String>,
    #[serde(rename = "subCategory")]
    pub sub_category: Option<String>,
    pub errors: Vec<ErrorDetail>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ErrorDetail {
    pub message: String,
    pub code: Option<String>,
    pub context: Option<serde_json::Value>,
}

/// `GET /crm/v3/owners`.
#[derive(Debug, Deserialize)]
pub struct OwnersPage {
    pub results: Vec<Owner>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

#[derive(Debug, Deserialize)]
pub struct Owner {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default, rename = "firstName")]
    pub first_name: Option<String>,
    #[serde(default, rename = "lastName")]
    pub last_name: Option<String>,
    #[serde(default)]
    pub archived: bool,
}

#[derive(Debug, Deserialize)]
pub struct Paging {
    pub next: Option<PagingNext>,
}

#[derive(Debug, Deserialize)]
pub struct PagingNext {
    pub after: String,
}

/// A CRM v3 record (`SimplePublicObject`) of the contacts object: the list, search and batch
/// read answers all carry this shape
/// (https://developers.hubspot.com/docs/api/crm/contacts).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Contact {
    #[serde(deserialize_with = "scalar_text")]
    pub id: String,
    #[serde(default)]
    pub properties: ContactProperties,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub created_at: Option<String>,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub updated_at: Option<String>,
    #[serde(default)]
    pub archived: bool,
    #[serde(default, deserialize_with = "opt_scalar_text")]
    pub archived_at: Option<String>,
}

/// The contact properties renkei asks for ([`ContactProperties::NAMES`]). HubSpot answers every
/// property value as a string, and `null` for a requested property without a value.
///
/// There is no `description` and no `department` among a contact's default properties (the
/// sandbox's `props.rs` models the same set), so neither is read.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct ContactProperties {
    #[serde(deserialize_with = "opt_scalar_text")]
    pub firstname: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub lastname: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub email: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub hs_additional_emails: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub phone: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub mobilephone: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub company: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub jobtitle: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub address: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub city: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub state: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub zip: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub country: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub hubspot_owner_id: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub createdate: Option<String>,
    #[serde(deserialize_with = "opt_scalar_text")]
    pub lastmodifieddate: Option<String>,
}

impl ContactProperties {
    /// Every property the mapping reads, in the order they are requested.
    pub const NAMES: [&'static str; 16] = [
        "firstname",
        "lastname",
        "email",
        "hs_additional_emails",
        "phone",
        "mobilephone",
        "company",
        "jobtitle",
        "address",
        "city",
        "state",
        "zip",
        "country",
        "hubspot_owner_id",
        "createdate",
        "lastmodifieddate",
    ];
}

/// A page of a CRM v3 list (`GET /crm/v3/objects/{type}`) or search
/// (`POST /crm/v3/objects/{type}/search`, which adds `total`).
#[derive(Debug, Deserialize)]
pub struct ObjectPage<T> {
    pub results: Vec<T>,
    #[serde(default)]
    pub paging: Option<Paging>,
}

/// `POST /crm/v3/objects/{type}/batch/read`: 200, or 207 with `errors` naming the ids that
/// were not found (which renkei ignores: absent is the answer).
#[derive(Debug, Deserialize)]
pub struct BatchResults<T> {
    #[serde(default = "Vec::new")]
    pub results: Vec<T>,
}

/// A JSON scalar as text: HubSpot sends ids and property values as strings, but a number or a
/// boolean where a string was expected is still readable, and one odd value should not make a
/// whole page unreadable.
fn scalar_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    match opt_scalar_text(d)? {
        Some(s) => Ok(s),
        None => Err(serde::de::Error::custom("expected a string, got null")),
    }
}

fn opt_scalar_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    use serde_json::Value;
    Ok(match Value::deserialize(d)? {
        Value::Null => None,
        Value::String(s) => Some(s),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        // An array or object where text belongs carries nothing renkei can use as text.
        Value::Array(_) | Value::Object(_) => None,
    })
}

/// Any CRM v3 record (`SimplePublicObject`) with the properties asked for, as the create,
/// read and search answers of companies and engagements carry it. Values stay JSON: HubSpot
/// sends strings, and `null` for a requested property without a value.
#[derive(Debug, Clone, Deserialize)]
pub struct SimpleObject {
    #[serde(deserialize_with = "scalar_text")]
    pub id: String,
    #[serde(default)]
    pub properties: serde_json::Map<String, serde_json::Value>,
}

impl SimpleObject {
    /// The property's value as text, `None` when absent, `null` or not a scalar.
    pub fn prop(&self, name: &str) -> Option<String> {
        match self.properties.get(name)? {
            serde_json::Value::String(s) => Some(s.clone()),
            serde_json::Value::Number(n) => Some(n.to_string()),
            serde_json::Value::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }
}

/// `GET /crm/v3/properties/{objectType}`
/// (https://developers.hubspot.com/docs/api/crm/properties).
#[derive(Debug, Deserialize)]
pub struct PropertiesPage {
    pub results: Vec<PropertyDefinition>,
}

/// One property definition, as far as renkei reads it.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PropertyDefinition {
    pub name: String,
    #[serde(default)]
    pub label: String,
    /// `string`, `number`, `date`, `datetime`, `enumeration`, `bool`, `phone_number`, …
    #[serde(rename = "type")]
    pub ptype: String,
    /// `text`, `textarea`, `html`, `number`, `select`, `radio`, `checkbox`,
    /// `booleancheckbox`, `date`, `file`, `phonenumber`, `calculation_equation`, …
    #[serde(default)]
    pub field_type: String,
    #[serde(default)]
    pub options: Vec<PropertyOption>,
    /// True when the options come from elsewhere (owners, pipelines) rather than `options`.
    #[serde(default)]
    pub external_options: bool,
    #[serde(default)]
    pub calculated: bool,
    #[serde(default)]
    pub archived: bool,
    #[serde(default)]
    pub modification_metadata: Option<ModificationMetadata>,
    /// What an `externalOptions` property's values are ids of (`OWNER` for
    /// `hubspot_owner_id`).
    #[serde(default)]
    pub referenced_object_type: Option<String>,
}

/// `GET /crm/v3/schemas`: the account's custom object definitions
/// (https://developers.hubspot.com/docs/api/crm/crm-custom-objects).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SchemasPage {
    pub results: Vec<Schema>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct Schema {
    pub object_type_id: String,
    pub name: String,
    pub labels: SchemaLabels,
    pub archived: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct SchemaLabels {
    pub singular: Option<String>,
    pub plural: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PropertyOption {
    #[serde(default)]
    pub label: String,
    #[serde(deserialize_with = "scalar_text")]
    pub value: String,
    #[serde(default)]
    pub hidden: bool,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModificationMetadata {
    #[serde(default)]
    pub read_only_value: bool,
}
