//! People as the CRMs hold them: the provider-neutral shape every connector maps its leads and
//! contacts into ([`RemotePerson`]), the queries the sync engine asks of a provider
//! ([`PeopleQuery`]), one page of answers ([`PeoplePage`]) and the two-way write
//! ([`PersonUpdate`]).
//!
//! Nothing here is normalised: values are the provider's, trimmed and with empty strings turned
//! into `None`. Phone numbers, emails and company names are normalised into matching keys by
//! `renkei_core::matching` in the engine, which knows the tenant's region and settings.
//!
//! Each provider module has a `people` file with the same three functions (`page`, `by_ids`,
//! `update`); [`crate::Connectors`] dispatches to them.

use renkei_core::Millis;
use serde::{Deserialize, Serialize};

use crate::{ConnectorError, Provider};

/// Which kind of CRM record holds a person.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PersonObject {
    /// Salesforce `Lead`, Zoho `Leads`. HubSpot has no leads among its people.
    Lead,
    /// Salesforce `Contact`, HubSpot `contacts`, Zoho `Contacts`.
    Contact,
}

impl PersonObject {
    pub const ALL: [PersonObject; 2] = [PersonObject::Lead, PersonObject::Contact];

    pub fn as_str(self) -> &'static str {
        match self {
            PersonObject::Lead => "lead",
            PersonObject::Contact => "contact",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "lead" => Some(PersonObject::Lead),
            "contact" => Some(PersonObject::Contact),
            _ => None,
        }
    }

    /// The provider's name for the object (API name), or `None` when the provider has no such
    /// object among its people.
    pub fn remote_name(self, p: Provider) -> Option<&'static str> {
        match (p, self) {
            (Provider::Salesforce, PersonObject::Lead) => Some("Lead"),
            (Provider::Salesforce, PersonObject::Contact) => Some("Contact"),
            (Provider::Hubspot, PersonObject::Lead) => None,
            (Provider::Hubspot, PersonObject::Contact) => Some("contacts"),
            (Provider::ZohoCrm, PersonObject::Lead) => Some("Leads"),
            (Provider::ZohoCrm, PersonObject::Contact) => Some("Contacts"),
        }
    }

    /// The objects `p` can import people from.
    pub fn supported(p: Provider) -> &'static [PersonObject] {
        match p {
            Provider::Hubspot => &[PersonObject::Contact],
            Provider::Salesforce | Provider::ZohoCrm => &PersonObject::ALL,
        }
    }
}

/// The largest page each provider serves for the listing a sync uses: HubSpot 100 per list
/// page (200 per search page), Salesforce 2,000 per SOQL batch, Zoho 200 per page.
pub fn max_page_size(p: Provider) -> usize {
    match p {
        Provider::Hubspot => 100,
        Provider::Salesforce => 2000,
        Provider::ZohoCrm => 200,
    }
}

/// A postal address as the CRM holds it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PostalAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub street: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub city: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub postal_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
}

impl PostalAddress {
    pub fn is_empty(&self) -> bool {
        self.street.is_none()
            && self.city.is_none()
            && self.state.is_none()
            && self.postal_code.is_none()
            && self.country.is_none()
    }
}

/// A lead or contact, in renkei's names, with the provider's raw values.
///
/// A deleted record found by a [`PeopleQuery::DeletedSince`] query carries only `object`,
/// `remote_id`, `updated_at` (the deletion time) and `deleted: true`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemotePerson {
    pub object: PersonObject,
    /// The provider's record id (Salesforce: the 18-character form).
    pub remote_id: String,
    /// Family name (Salesforce `LastName`, HubSpot `lastname`, Zoho `Last_Name`).
    pub last_name: Option<String>,
    /// Given name.
    pub first_name: Option<String>,
    /// The provider's own display name where it computes one (Salesforce `Name`, Zoho
    /// `Full_Name`); `None` for HubSpot.
    pub full_name: Option<String>,
    /// Lead: the company field. Contact: the account's name (Salesforce `Account.Name`, Zoho
    /// `Account_Name.name`); HubSpot: the contact's `company` property.
    pub company: Option<String>,
    /// Email addresses, the primary first (Salesforce has one; HubSpot `email` then
    /// `hs_additional_emails`; Zoho `Email` then `Secondary_Email`).
    pub emails: Vec<String>,
    /// The main phone field (Salesforce `Phone`, HubSpot `phone`, Zoho `Phone`).
    pub phone: Option<String>,
    /// Other phone fields (mobile), in the provider's order.
    pub other_phones: Vec<String>,
    pub address: Option<PostalAddress>,
    pub department: Option<String>,
    pub title: Option<String>,
    pub description: Option<String>,
    /// The owning CRM user's id.
    pub owner_id: Option<String>,
    /// When the record was created at the provider, if it says.
    pub created_at: Option<Millis>,
    /// The provider's modification stamp (Salesforce `SystemModstamp`, HubSpot
    /// `lastmodifieddate`, Zoho `Modified_Time`), or the deletion time of a deleted record.
    pub updated_at: Millis,
    pub deleted: bool,
}

/// What a sync asks of a provider.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PeopleQuery {
    /// Every live record, for an initial import. `updated_since` limits it to records modified
    /// at or after that time; `newest_first` orders by modification time, newest first, so
    /// that a caller who stops after N records has the N most recently updated (PRODUCT.md
    /// 4.4). Without it the provider's cheapest order is used.
    All {
        updated_since: Option<Millis>,
        newest_first: bool,
    },
    /// Live records modified at or after `since`, oldest first. Inclusive, so the caller
    /// overlaps its windows and drops what it has already seen.
    ChangedSince { since: Millis },
    /// Records deleted at or after `since` (Salesforce `IsDeleted` through `queryAll`, HubSpot
    /// archived contacts, Zoho's deleted records).
    DeletedSince { since: Millis },
}

/// One page of a query's answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PeoplePage {
    pub people: Vec<RemotePerson>,
    /// Where the next page starts, `None` at the end. Opaque: the caller stores it in its
    /// checkpoint and hands it back unchanged, with the same query.
    pub next: Option<String>,
    /// The requests this page cost at the provider, retries included.
    pub api_calls: u32,
}

/// A two-way write of a person's fields (PRODUCT.md 4.3: name, phone, email, description).
/// `None` leaves a field as it is; `Some("")` clears it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonUpdate {
    pub last_name: Option<String>,
    pub first_name: Option<String>,
    pub phone: Option<String>,
    pub email: Option<String>,
    pub description: Option<String>,
}

impl PersonUpdate {
    pub fn is_empty(&self) -> bool {
        self.last_name.is_none()
            && self.first_name.is_none()
            && self.phone.is_none()
            && self.email.is_none()
            && self.description.is_none()
    }
}

/// Trims `s` and turns an empty string into `None`: how every mapping reads a text field.
pub fn text(s: Option<String>) -> Option<String> {
    let s = s?;
    let t = s.trim();
    if t.is_empty() {
        None
    } else if t.len() == s.len() {
        Some(s)
    } else {
        Some(t.to_owned())
    }
}

/// `Invalid` with a field, as every provider's people module reports a refused argument.
pub(crate) fn invalid(
    p: Provider,
    code: &str,
    field: Option<&str>,
    message: impl Into<String>,
) -> ConnectorError {
    ConnectorError::Invalid {
        provider: p.as_str(),
        code: code.to_owned(),
        field: field.map(str::to_owned),
        message: message.into(),
    }
}

/// A provider answer that does not have the shape its documentation promises.
pub(crate) fn protocol(p: Provider, message: impl Into<String>) -> ConnectorError {
    ConnectorError::Protocol {
        provider: p.as_str(),
        message: message.into(),
    }
}

/// The provider's name of `object`, or `object_unsupported` (HubSpot has no leads among its
/// people).
pub fn remote_object(p: Provider, object: PersonObject) -> Result<&'static str, ConnectorError> {
    object.remote_name(p).ok_or_else(|| {
        invalid(
            p,
            "object_unsupported",
            Some("object"),
            format!(
                "{} has no {} among its people",
                p.info().display_name,
                object.as_str()
            ),
        )
    })
}
