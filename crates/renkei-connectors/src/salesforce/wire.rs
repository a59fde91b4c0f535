//! Salesforce's JSON, as far as renkei reads it.

use serde::Deserialize;

/// The token endpoint's answer. There is no `expires_in`: a session lasts until the org's
/// timeout after its last use.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    pub access_token: String,
    #[serde(default)]
    pub refresh_token: Option<String>,
    #[serde(default)]
    pub instance_url: Option<String>,
    /// The identity URL, `…/id/{orgId}/{userId}`.
    #[serde(default)]
    pub id: Option<String>,
    #[serde(default)]
    pub scope: Option<String>,
    #[serde(default)]
    pub issued_at: Option<String>,
    #[serde(default)]
    pub signature: Option<String>,
}

/// `{"error": "invalid_grant", "error_description": "expired access/refresh token"}`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct OAuthError {
    pub error: String,
    pub error_description: String,
}

/// One element of the REST API's error array.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ApiError {
    pub message: String,
    #[serde(rename = "errorCode")]
    pub error_code: String,
    pub fields: Vec<String>,
}

/// The identity service's answer.
#[derive(Debug, Deserialize)]
pub struct Identity {
    pub user_id: String,
    pub organization_id: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub display_name: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

/// A SOQL query page.
#[derive(Debug, Deserialize)]
pub struct QueryPage<T> {
    pub done: bool,
    #[serde(default, rename = "nextRecordsUrl")]
    pub next_records_url: Option<String>,
    pub records: Vec<T>,
}

#[derive(Debug, Deserialize)]
pub struct User {
    #[serde(rename = "Id")]
    pub id: String,
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
    #[serde(rename = "Email", default)]
    pub email: Option<String>,
    #[serde(rename = "IsActive", default)]
    pub is_active: bool,
}

#[derive(Debug, Deserialize)]
pub struct Organization {
    #[serde(rename = "Name", default)]
    pub name: Option<String>,
}

/// A Lead or Contact as the people queries select it (`salesforce::people`). One shape serves
/// both objects: each query selects only its own object's fields, and the others stay `None`.
/// A deleted record found through `queryAll` carries only `Id` and `SystemModstamp`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct Person {
    #[serde(rename = "Id")]
    pub id: Option<String>,
    #[serde(rename = "FirstName")]
    pub first_name: Option<String>,
    #[serde(rename = "LastName")]
    pub last_name: Option<String>,
    /// The full name Salesforce composes from the name fields (read-only).
    #[serde(rename = "Name")]
    pub name: Option<String>,
    /// Lead only.
    #[serde(rename = "Company")]
    pub company: Option<String>,
    /// Contact only: `Account.Name` comes as `{"attributes": …, "Name": …}`, or `null` when the
    /// contact has no account.
    #[serde(rename = "Account")]
    pub account: Option<AccountRef>,
    #[serde(rename = "Email")]
    pub email: Option<String>,
    #[serde(rename = "Phone")]
    pub phone: Option<String>,
    #[serde(rename = "MobilePhone")]
    pub mobile_phone: Option<String>,
    /// Lead address.
    #[serde(rename = "Street")]
    pub street: Option<String>,
    #[serde(rename = "City")]
    pub city: Option<String>,
    #[serde(rename = "State")]
    pub state: Option<String>,
    #[serde(rename = "PostalCode")]
    pub postal_code: Option<String>,
    #[serde(rename = "Country")]
    pub country: Option<String>,
    /// Contact mailing address.
    #[serde(rename = "MailingStreet")]
    pub mailing_street: Option<String>,
    #[serde(rename = "MailingCity")]
    pub mailing_city: Option<String>,
    #[serde(rename = "MailingState")]
    pub mailing_state: Option<String>,
    #[serde(rename = "MailingPostalCode")]
    pub mailing_postal_code: Option<String>,
    #[serde(rename = "MailingCountry")]
    pub mailing_country: Option<String>,
    #[serde(rename = "Title")]
    pub title: Option<String>,
    /// Contact only.
    #[serde(rename = "Department")]
    pub department: Option<String>,
    #[serde(rename = "Description")]
    pub description: Option<String>,
    #[serde(rename = "OwnerId")]
    pub owner_id: Option<String>,
    /// `2024-01-15T09:30:00.000+0000`.
    #[serde(rename = "CreatedDate")]
    pub created_date: Option<String>,
    /// Changed by every write, including the system's own (a lookup's cascade, a deletion),
    /// unlike `LastModifiedDate`, which only a user's edit moves.
    #[serde(rename = "SystemModstamp")]
    pub system_modstamp: Option<String>,
}

/// A parent record read through a relationship (`Account.Name`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountRef {
    #[serde(rename = "Name")]
    pub name: Option<String>,
}

/// `POST /sobjects/{type}`'s answer: `{"id": "…", "success": true, "errors": []}`.
#[derive(Debug, Deserialize)]
pub struct CreateResult {
    pub id: String,
    #[serde(default)]
    pub success: bool,
}

/// A record's `attributes` (`{"type": "Lead", "url": …}`).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct RecordAttributes {
    #[serde(rename = "type")]
    pub ty: String,
}

/// One record of a SOSL answer: its `attributes.type` says which `RETURNING` object it is.
#[derive(Debug, Deserialize)]
pub struct SearchRecord {
    #[serde(default)]
    pub attributes: RecordAttributes,
    #[serde(flatten)]
    pub person: Person,
}

/// `GET /search?q=<SOSL>`: `{"searchRecords": [...]}`.
#[derive(Debug, Deserialize)]
pub struct SearchResponse {
    #[serde(rename = "searchRecords", default)]
    pub search_records: Vec<SearchRecord>,
}

/// An Account as `records::find_company` selects it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct AccountRow {
    #[serde(rename = "Id")]
    pub id: Option<String>,
    #[serde(rename = "Name")]
    pub name: Option<String>,
    #[serde(rename = "Website")]
    pub website: Option<String>,
}

/// A Task, Event or Note as `records` reads it back: its id and its body (`Description` on
/// Task and Event, `Body` on Note).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ActivityRow {
    #[serde(rename = "Id")]
    pub id: Option<String>,
    #[serde(rename = "Description")]
    pub description: Option<String>,
    #[serde(rename = "Body")]
    pub body: Option<String>,
}

/// `GET /sobjects/{type}/describe`, as far as field metadata goes.
#[derive(Debug, Deserialize)]
pub struct Describe {
    pub fields: Vec<DescribeField>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct DescribeField {
    pub name: String,
    pub label: String,
    #[serde(rename = "type")]
    pub ty: String,
    pub nillable: bool,
    pub createable: bool,
    pub updateable: bool,
    pub defaulted_on_create: bool,
    pub picklist_values: Vec<PicklistValue>,
    /// The objects a `reference` field points at.
    pub reference_to: Vec<String>,
}

/// `GET /sobjects` ("Describe Global"): every sObject the org has, with the API user's rights.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct DescribeGlobal {
    pub sobjects: Vec<GlobalSObject>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default, rename_all = "camelCase")]
pub struct GlobalSObject {
    pub name: String,
    pub label: String,
    pub label_plural: String,
    pub custom: bool,
    pub createable: bool,
    pub queryable: bool,
    pub deprecated_and_hidden: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct PicklistValue {
    pub value: String,
    pub label: Option<String>,
    pub active: bool,
}
