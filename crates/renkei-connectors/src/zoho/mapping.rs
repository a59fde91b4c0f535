//! Zoho's JSON to renkei's types: users, and Leads and Contacts as [`RemotePerson`]s.

use renkei_core::Millis;

use crate::people::{PersonObject, PostalAddress, RemotePerson, text};
use crate::{ConnectorError, CrmUser, Provider};

use super::wire::{DeletedRecord, Person, User};

const P: Provider = Provider::ZohoCrm;

pub fn user(u: User) -> CrmUser {
    CrmUser {
        name: u.full_name.unwrap_or_default(),
        email: u.email.filter(|e| !e.is_empty()),
        active: u.status.as_deref().is_none_or(|s| s == "active"),
        id: u.id,
    }
}

/// Reads a Zoho timestamp: ISO 8601 with the org's offset (`2026-01-15T18:30:00+09:00`).
pub fn parse_time(s: &str) -> Option<Millis> {
    s.trim()
        .parse::<jiff::Timestamp>()
        .ok()
        .map(Millis::from_timestamp)
}

fn protocol(message: String) -> ConnectorError {
    ConnectorError::Protocol {
        provider: P.as_str(),
        message,
    }
}

/// A record's id and a timestamp Zoho always sends with it (`Modified_Time` when asked for,
/// `deleted_time`): without them the answer is broken, not odd.
fn id_and_time(
    id: Option<String>,
    time: Option<&str>,
    what: &str,
) -> Result<(String, Millis), ConnectorError> {
    let id = text(id).ok_or_else(|| protocol(format!("a {what} has no id")))?;
    let at = time
        .and_then(parse_time)
        .ok_or_else(|| protocol(format!("{what} {id} has no readable timestamp")))?;
    Ok((id, at))
}

/// A live Lead or Contact. A Lead's company is its `Company` text, kept as Zoho holds it (a
/// lead created without one may hold a placeholder such as "-", which Zoho does not document
/// as one); a Contact's is the name of its `Account_Name` lookup.
pub fn person(object: PersonObject, p: Person) -> Result<RemotePerson, ConnectorError> {
    let (remote_id, updated_at) = id_and_time(p.id, p.modified_time.as_deref(), "record")?;
    let (company, title, department, address) = match object {
        PersonObject::Lead => (
            text(p.company),
            text(p.designation),
            None,
            PostalAddress {
                street: text(p.street),
                city: text(p.city),
                state: text(p.state),
                postal_code: text(p.zip_code),
                country: text(p.country),
            },
        ),
        PersonObject::Contact => (
            text(p.account_name.and_then(|a| a.name)),
            text(p.title),
            text(p.department),
            PostalAddress {
                street: text(p.mailing_street),
                city: text(p.mailing_city),
                state: text(p.mailing_state),
                postal_code: text(p.mailing_zip),
                country: text(p.mailing_country),
            },
        ),
    };
    let mut emails: Vec<String> = text(p.email).into_iter().collect();
    if let Some(second) = text(p.secondary_email)
        && !emails.contains(&second)
    {
        emails.push(second);
    }
    Ok(RemotePerson {
        object,
        remote_id,
        last_name: text(p.last_name),
        first_name: text(p.first_name),
        full_name: text(p.full_name),
        company,
        emails,
        phone: text(p.phone),
        other_phones: text(p.mobile).into_iter().collect(),
        address: (!address.is_empty()).then_some(address),
        department,
        title,
        description: text(p.description),
        owner_id: text(p.owner.and_then(|o| o.id)),
        // A creation time we cannot read is no reason to drop the person.
        created_at: p.created_time.as_deref().and_then(parse_time),
        updated_at,
        deleted: false,
    })
}

/// An entry of the deleted-records list: its id and `deleted_time`.
pub fn deleted_person(
    object: PersonObject,
    d: DeletedRecord,
) -> Result<RemotePerson, ConnectorError> {
    let (remote_id, updated_at) = id_and_time(d.id, d.deleted_time.as_deref(), "deleted record")?;
    Ok(RemotePerson {
        object,
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
    fn zoho_times() {
        let cases: &[(&str, Option<i64>)] = &[
            ("2024-01-15T18:30:00+09:00", Some(1_705_311_000_000)),
            ("2024-01-15T01:30:00-08:00", Some(1_705_311_000_000)),
            ("2024-01-15T09:30:00Z", Some(1_705_311_000_000)),
            ("2024-01-15", None),
            ("", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_time(s).map(|m| m.0), *want, "{s}");
        }
    }
}
