//! Salesforce's JSON to renkei's types: users, and Leads and Contacts as [`RemotePerson`]s.

use renkei_core::Millis;

use crate::people::{PersonObject, PostalAddress, RemotePerson, text};
use crate::{ConnectorError, CrmUser, Provider};

use super::wire::{Person, User};

const P: Provider = Provider::Salesforce;

/// The value Salesforce puts in a Lead's required `Company` when the lead arrived without one
/// (Web-to-Lead fills its required fields this way,
/// https://help.salesforce.com/s/articleView?id=sf.setting_up_web-to-lead.htm). It is not a
/// company, so it is read as none.
pub const NOT_PROVIDED: &str = "[not provided]";

pub fn user(u: User) -> CrmUser {
    CrmUser {
        name: u.name.unwrap_or_default(),
        email: u.email.filter(|e| !e.is_empty()),
        active: u.is_active,
        id: u.id,
    }
}

/// Reads a Salesforce dateTime: the REST API writes `2024-01-15T09:30:00.000+0000` (an offset
/// without a colon, which RFC 3339 parsers refuse); RFC 3339 forms are accepted too.
pub fn parse_datetime(s: &str) -> Option<Millis> {
    let s = s.trim();
    if let Ok(ts) = s.parse::<jiff::Timestamp>() {
        return Some(Millis::from_timestamp(ts));
    }
    jiff::fmt::strtime::parse("%Y-%m-%dT%H:%M:%S%.f%z", s)
        .and_then(|tm| tm.to_timestamp())
        .ok()
        .map(Millis::from_timestamp)
}

fn protocol(message: String) -> ConnectorError {
    ConnectorError::Protocol {
        provider: P.as_str(),
        message,
    }
}

/// The record's id and `SystemModstamp`, which Salesforce always sends when selected: a record
/// without them is a broken answer, not odd data.
fn id_and_stamp(p: &mut Person) -> Result<(String, Millis), ConnectorError> {
    let id = text(p.id.take()).ok_or_else(|| protocol("a query record has no Id".into()))?;
    let stamp = p
        .system_modstamp
        .as_deref()
        .and_then(parse_datetime)
        .ok_or_else(|| protocol(format!("record {id} has no readable SystemModstamp")))?;
    Ok((id, stamp))
}

/// A live Lead or Contact. Each object's own fields are read: a Lead's `Company` and address,
/// a Contact's `Account.Name`, `Department` and mailing address.
pub fn person(object: PersonObject, mut p: Person) -> Result<RemotePerson, ConnectorError> {
    let (remote_id, updated_at) = id_and_stamp(&mut p)?;
    let (company, department, address) = match object {
        PersonObject::Lead => (
            text(p.company).filter(|c| c != NOT_PROVIDED),
            None,
            PostalAddress {
                street: text(p.street),
                city: text(p.city),
                state: text(p.state),
                postal_code: text(p.postal_code),
                country: text(p.country),
            },
        ),
        PersonObject::Contact => (
            text(p.account.and_then(|a| a.name)),
            text(p.department),
            PostalAddress {
                street: text(p.mailing_street),
                city: text(p.mailing_city),
                state: text(p.mailing_state),
                postal_code: text(p.mailing_postal_code),
                country: text(p.mailing_country),
            },
        ),
    };
    Ok(RemotePerson {
        object,
        remote_id,
        last_name: text(p.last_name),
        first_name: text(p.first_name),
        full_name: text(p.name),
        company,
        emails: text(p.email).into_iter().collect(),
        phone: text(p.phone),
        other_phones: text(p.mobile_phone).into_iter().collect(),
        address: (!address.is_empty()).then_some(address),
        department,
        title: text(p.title),
        description: text(p.description),
        owner_id: text(p.owner_id),
        // A creation date we cannot read is no reason to drop the person.
        created_at: p.created_date.as_deref().and_then(parse_datetime),
        updated_at,
        deleted: false,
    })
}

/// A record in the Recycle Bin (or a converted Lead), found through `queryAll`: its id, and its
/// `SystemModstamp`, which the deletion moved.
pub fn deleted_person(object: PersonObject, mut p: Person) -> Result<RemotePerson, ConnectorError> {
    let (remote_id, updated_at) = id_and_stamp(&mut p)?;
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
    fn datetimes_in_salesforce_and_rfc3339_notations() {
        let cases: &[(&str, Option<i64>)] = &[
            ("2024-01-15T09:30:00.000+0000", Some(1_705_311_000_000)),
            ("2024-01-15T09:30:00.123+0000", Some(1_705_311_000_123)),
            ("2024-01-15T18:30:00.000+0900", Some(1_705_311_000_000)),
            ("2024-01-15T09:30:00Z", Some(1_705_311_000_000)),
            ("2024-01-15T09:30:00.000Z", Some(1_705_311_000_000)),
            ("2024-01-15T04:30:00-05:00", Some(1_705_311_000_000)),
            ("2024-01-15", None),
            ("", None),
            ("yesterday", None),
        ];
        for (s, want) in cases {
            assert_eq!(parse_datetime(s).map(|m| m.0), *want, "{s}");
        }
    }
}
