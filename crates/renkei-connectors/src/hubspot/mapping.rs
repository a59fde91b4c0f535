//! HubSpot's JSON to renkei's types: owners as CRM users, contacts as people.

use renkei_core::Millis;

use crate::people::{PersonObject, PostalAddress, RemotePerson, text};
use crate::{ConnectorError, CrmUser, Provider};

use super::wire::{Contact, ContactProperties, Owner};

/// An owner as a CRM user. HubSpot owners have separate first and last names; the display
/// name joins what is present, or falls back to the email.
pub fn owner(o: Owner) -> CrmUser {
    let name = [o.first_name.as_deref(), o.last_name.as_deref()]
        .into_iter()
        .flatten()
        .filter(|s| !s.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    let name = if name.is_empty() {
        o.email.clone().unwrap_or_default()
    } else {
        name
    };
    CrmUser {
        id: o.id,
        email: o.email.filter(|e| !e.is_empty()),
        name,
        active: !o.archived,
    }
}

/// A HubSpot timestamp as [`Millis`]. The CRM v3 APIs answer ISO 8601 in UTC with
/// milliseconds (`2019-10-30T03:30:17.883Z`); older APIs, webhooks and some property values
/// use integer milliseconds since the epoch, which are read too. Anything else is `None`.
pub fn parse_time(s: &str) -> Option<Millis> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if s.bytes().all(|b| b.is_ascii_digit()) {
        return s.parse::<i64>().ok().map(Millis);
    }
    s.parse::<jiff::Timestamp>()
        .ok()
        .map(Millis::from_timestamp)
}

/// The record's modification stamp: the `lastmodifieddate` property renkei sorts and filters
/// searches by, else the object's `updatedAt`. HubSpot sends both on every record, so a record
/// with neither readable is a protocol error.
pub fn modified_at(c: &Contact) -> Result<Millis, ConnectorError> {
    c.properties
        .lastmodifieddate
        .as_deref()
        .and_then(parse_time)
        .or_else(|| c.updated_at.as_deref().and_then(parse_time))
        .ok_or_else(|| ConnectorError::Protocol {
            provider: Provider::Hubspot.as_str(),
            message: format!("contact {} has no readable lastmodifieddate", c.id),
        })
}

/// The id, which HubSpot always sends; an empty one is a protocol error.
fn remote_id(c: &Contact) -> Result<String, ConnectorError> {
    let id = c.id.trim();
    if id.is_empty() {
        return Err(ConnectorError::Protocol {
            provider: Provider::Hubspot.as_str(),
            message: "a contact without an id".into(),
        });
    }
    Ok(id.to_owned())
}

/// `email`, then each of the `;`-separated `hs_additional_emails`, without empties and without
/// repeating an address (compared ignoring ASCII case, which is how HubSpot itself refuses a
/// second contact with the same email).
fn emails(p: &ContactProperties) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let additional = p.hs_additional_emails.as_deref().unwrap_or_default();
    let candidates = text(p.email.clone()).into_iter().chain(
        additional
            .split(';')
            .filter_map(|e| text(Some(e.to_owned()))),
    );
    for e in candidates {
        if !out.iter().any(|seen| seen.eq_ignore_ascii_case(&e)) {
            out.push(e);
        }
    }
    out
}

/// A live contact as a person. HubSpot computes no display name (`full_name` is `None`), and a
/// contact has no `department` or `description` property, so those are `None` too. `company`
/// is the contact's own `company` text property, not its associated company record.
pub fn person(c: Contact) -> Result<RemotePerson, ConnectorError> {
    let updated_at = modified_at(&c)?;
    let remote_id = remote_id(&c)?;
    let created_at = c
        .properties
        .createdate
        .as_deref()
        .and_then(parse_time)
        .or_else(|| c.created_at.as_deref().and_then(parse_time));
    let emails = emails(&c.properties);
    let p = c.properties;
    let address = PostalAddress {
        street: text(p.address),
        city: text(p.city),
        state: text(p.state),
        postal_code: text(p.zip),
        country: text(p.country),
    };
    Ok(RemotePerson {
        object: PersonObject::Contact,
        remote_id,
        last_name: text(p.lastname),
        first_name: text(p.firstname),
        full_name: None,
        company: text(p.company),
        emails,
        phone: text(p.phone),
        other_phones: text(p.mobilephone).into_iter().collect(),
        address: (!address.is_empty()).then_some(address),
        department: None,
        title: text(p.jobtitle),
        description: None,
        owner_id: text(p.hubspot_owner_id),
        created_at,
        updated_at,
        deleted: false,
    })
}

/// An archived contact as a deleted person: its id and the time it was archived
/// (`archivedAt`, else `updatedAt`, which HubSpot moves when it archives), nothing else.
pub fn deleted_person(c: Contact) -> Result<RemotePerson, ConnectorError> {
    let remote_id = remote_id(&c)?;
    let updated_at = c
        .archived_at
        .as_deref()
        .and_then(parse_time)
        .or_else(|| c.updated_at.as_deref().and_then(parse_time))
        .ok_or_else(|| ConnectorError::Protocol {
            provider: Provider::Hubspot.as_str(),
            message: format!("archived contact {remote_id} has no readable archivedAt"),
        })?;
    Ok(RemotePerson {
        object: PersonObject::Contact,
        remote_id,
        last_name: None,
        first_name: None,
        full_name: None,
        company: None,
        emails: Vec::new(),
        phone: None,
        other_phones: Vec::new(),
        address: None,
        department: None,
        title: None,
        description: None,
        owner_id: None,
        created_at: None,
        updated_at,
        deleted: true,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hubspot_timestamps() {
        let cases: &[(&str, Option<i64>)] = &[
            ("2019-10-30T03:30:17.883Z", Some(1_572_406_217_883)),
            ("2019-10-30T03:30:17Z", Some(1_572_406_217_000)),
            ("2019-10-30T12:30:17.883+09:00", Some(1_572_406_217_883)),
            ("1572406217883", Some(1_572_406_217_883)),
            (" 1572406217883 ", Some(1_572_406_217_883)),
            ("", None),
            ("yesterday", None),
            ("2019-10-30", None),
            ("99999999999999999999999", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_time(input), want.map(Millis), "{input:?}");
        }
    }

    #[test]
    fn emails_primary_first_without_repeats() {
        let cases: &[(Option<&str>, Option<&str>, &[&str])] = &[
            (Some("a@x.jp"), None, &["a@x.jp"]),
            (None, Some("b@x.jp;c@x.jp"), &["b@x.jp", "c@x.jp"]),
            (
                Some("a@x.jp"),
                Some(" b@x.jp ; ;A@X.JP;"),
                &["a@x.jp", "b@x.jp"],
            ),
            (Some("  "), Some(""), &[]),
        ];
        for (email, more, want) in cases {
            let p = ContactProperties {
                email: email.map(str::to_owned),
                hs_additional_emails: more.map(str::to_owned),
                ..Default::default()
            };
            assert_eq!(emails(&p), *want, "{email:?} {more:?}");
        }
    }
}
