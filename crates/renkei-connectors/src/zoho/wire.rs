//! Zoho's JSON, as far as renkei reads it.

use serde::Deserialize;

/// The token endpoint's answer. Errors come back with HTTP 200 as `{"error": "invalid_code"}`,
/// so every field is optional and `error` is checked first.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct TokenResponse {
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub api_domain: Option<String>,
    pub expires_in: Option<i64>,
    pub scope: Option<String>,
    pub error: Option<String>,
}

/// The CRM API's error body: `{"code", "details", "message", "status": "error"}`, alone or
/// inside `data[]` for per-record results.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiError {
    pub code: String,
    pub message: String,
    pub details: serde_json::Value,
}

#[derive(Debug, Deserialize)]
pub struct OrgResponse {
    pub org: Vec<Org>,
}

#[derive(Debug, Deserialize)]
pub struct Org {
    pub id: String,
    #[serde(default)]
    pub company_name: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct UsersResponse {
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub info: Option<Info>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    pub id: String,
    #[serde(default)]
    pub email: Option<String>,
    #[serde(default)]
    pub full_name: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
}

/// A list's `info`: whether more records follow, and from v7 on (records lists) the token of
/// the next page, which Zoho requires to read beyond the 2,000th record.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Info {
    pub more_records: bool,
    pub next_page_token: Option<String>,
    pub page: Option<u32>,
}

/// Reads a text value leniently: a string as it is, a number as its digits, anything else
/// (`null`, an object a custom layout put there) as absent. One odd value must not make a
/// whole page unreadable.
fn lenient_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(match serde_json::Value::deserialize(d)? {
        serde_json::Value::String(s) => Some(s),
        serde_json::Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

/// Reads a lookup (`{"name", "id"}`) leniently: anything but an object is absent.
fn lenient_lookup<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Lookup>, D::Error> {
    let v = serde_json::Value::deserialize(d)?;
    Ok(if v.is_object() {
        serde_json::from_value(v).ok()
    } else {
        None
    })
}

/// A page of records: `{"data": [...], "info": {...}}`.
#[derive(Debug, Deserialize)]
pub struct RecordsResponse<T> {
    #[serde(default = "Vec::new")]
    pub data: Vec<T>,
    #[serde(default)]
    pub info: Option<Info>,
}

/// A lookup or owner field: `{"name": "…", "id": "…"}` (the owner adds `email`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Lookup {
    #[serde(deserialize_with = "lenient_text")]
    pub name: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub id: Option<String>,
}

/// A Lead or Contact as the people lists request it (`zoho::people`). One shape serves both
/// modules: each list asks only for its own module's fields, and the others stay `None`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Person {
    #[serde(deserialize_with = "lenient_text")]
    pub id: Option<String>,
    #[serde(rename = "First_Name", deserialize_with = "lenient_text")]
    pub first_name: Option<String>,
    #[serde(rename = "Last_Name", deserialize_with = "lenient_text")]
    pub last_name: Option<String>,
    #[serde(rename = "Full_Name", deserialize_with = "lenient_text")]
    pub full_name: Option<String>,
    /// Leads only.
    #[serde(rename = "Company", deserialize_with = "lenient_text")]
    pub company: Option<String>,
    /// Contacts only: a lookup to the Accounts module.
    #[serde(rename = "Account_Name", deserialize_with = "lenient_lookup")]
    pub account_name: Option<Lookup>,
    #[serde(rename = "Email", deserialize_with = "lenient_text")]
    pub email: Option<String>,
    #[serde(rename = "Secondary_Email", deserialize_with = "lenient_text")]
    pub secondary_email: Option<String>,
    #[serde(rename = "Phone", deserialize_with = "lenient_text")]
    pub phone: Option<String>,
    #[serde(rename = "Mobile", deserialize_with = "lenient_text")]
    pub mobile: Option<String>,
    /// Leads' address.
    #[serde(rename = "Street", deserialize_with = "lenient_text")]
    pub street: Option<String>,
    #[serde(rename = "City", deserialize_with = "lenient_text")]
    pub city: Option<String>,
    #[serde(rename = "State", deserialize_with = "lenient_text")]
    pub state: Option<String>,
    #[serde(rename = "Zip_Code", deserialize_with = "lenient_text")]
    pub zip_code: Option<String>,
    #[serde(rename = "Country", deserialize_with = "lenient_text")]
    pub country: Option<String>,
    /// Contacts' mailing address.
    #[serde(rename = "Mailing_Street", deserialize_with = "lenient_text")]
    pub mailing_street: Option<String>,
    #[serde(rename = "Mailing_City", deserialize_with = "lenient_text")]
    pub mailing_city: Option<String>,
    #[serde(rename = "Mailing_State", deserialize_with = "lenient_text")]
    pub mailing_state: Option<String>,
    #[serde(rename = "Mailing_Zip", deserialize_with = "lenient_text")]
    pub mailing_zip: Option<String>,
    #[serde(rename = "Mailing_Country", deserialize_with = "lenient_text")]
    pub mailing_country: Option<String>,
    /// A Lead's title.
    #[serde(rename = "Designation", deserialize_with = "lenient_text")]
    pub designation: Option<String>,
    /// A Contact's title.
    #[serde(rename = "Title", deserialize_with = "lenient_text")]
    pub title: Option<String>,
    #[serde(rename = "Department", deserialize_with = "lenient_text")]
    pub department: Option<String>,
    #[serde(rename = "Description", deserialize_with = "lenient_text")]
    pub description: Option<String>,
    #[serde(rename = "Owner", deserialize_with = "lenient_lookup")]
    pub owner: Option<Lookup>,
    /// ISO 8601 with the org's offset: `2026-01-15T18:30:00+09:00`.
    #[serde(rename = "Created_Time", deserialize_with = "lenient_text")]
    pub created_time: Option<String>,
    #[serde(rename = "Modified_Time", deserialize_with = "lenient_text")]
    pub modified_time: Option<String>,
}

/// One entry of `GET /{module}/deleted`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DeletedRecord {
    #[serde(deserialize_with = "lenient_text")]
    pub id: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub deleted_time: Option<String>,
}

/// A write's answer: one result per record, `{"code", "details", "message", "status"}` with
/// `status` `success` or `error` (an error's `details` name the field).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WriteResponse {
    pub data: Vec<WriteResult>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct WriteResult {
    pub status: String,
    pub code: String,
    pub message: String,
    pub details: serde_json::Value,
}

/// `GET /settings/fields?module=…`: `{"fields": [...]}`
/// (https://www.zoho.com/crm/developer/docs/api/v8/field-meta.html).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FieldsResponse {
    pub fields: Vec<Field>,
}

/// One field's metadata, as far as `records::describe_fields` reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Field {
    #[serde(deserialize_with = "lenient_text")]
    pub api_name: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub field_label: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub display_label: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub data_type: Option<String>,
    /// Mandatory in every layout (layout-level "required" is not in this answer).
    pub system_mandatory: Option<bool>,
    /// Read-only for everybody (`read_only`) or for the API user's profile
    /// (`field_read_only`).
    pub read_only: Option<bool>,
    pub field_read_only: Option<bool>,
    pub pick_list_values: Option<Vec<PickListValue>>,
    /// A lookup's target: `{"module": {"api_name": "Accounts"}, …}`. Multi-module lookups
    /// name the pseudo-module `se_module`.
    pub lookup: Option<FieldLookup>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct FieldLookup {
    pub module: Option<LookupModule>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct LookupModule {
    #[serde(deserialize_with = "lenient_text")]
    pub api_name: Option<String>,
}

/// `GET /settings/modules`: `{"modules": [...]}`
/// (https://www.zoho.com/crm/developer/docs/api/v8/module-meta.html).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ModulesResponse {
    pub modules: Vec<Module>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Module {
    #[serde(deserialize_with = "lenient_text")]
    pub api_name: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub singular_label: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub plural_label: Option<String>,
    /// `default` for Zoho's own modules, `custom` for an admin's.
    #[serde(deserialize_with = "lenient_text")]
    pub generated_type: Option<String>,
    /// Whether the module can be used through the API at all (some system modules cannot).
    pub api_supported: Option<bool>,
    pub creatable: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PickListValue {
    #[serde(deserialize_with = "lenient_text")]
    pub actual_value: Option<String>,
    #[serde(deserialize_with = "lenient_text")]
    pub display_value: Option<String>,
}

/// An Account as `records::find_company` reads it from a search.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountRow {
    #[serde(deserialize_with = "lenient_text")]
    pub id: Option<String>,
    #[serde(rename = "Account_Name", deserialize_with = "lenient_text")]
    pub account_name: Option<String>,
    #[serde(rename = "Website", deserialize_with = "lenient_text")]
    pub website: Option<String>,
    #[serde(rename = "Created_Time", deserialize_with = "lenient_text")]
    pub created_time: Option<String>,
}

/// A Note, Call, Task or Event as `records::find_activity` and `append_to_activity` read it:
/// its id and its body (`Note_Content` for a note, `Description` for the others).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActivityRow {
    #[serde(deserialize_with = "lenient_text")]
    pub id: Option<String>,
    #[serde(rename = "Note_Content", deserialize_with = "lenient_text")]
    pub note_content: Option<String>,
    #[serde(rename = "Description", deserialize_with = "lenient_text")]
    pub description: Option<String>,
}
