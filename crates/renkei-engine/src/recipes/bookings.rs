//! Booking capture (PRODUCT.md 4.5, the scheduling tool of seed `004_…`, TimeRex): a
//! `booking.completed` event becomes a HubSpot company and/or contact, built from the guest and
//! the booking form's answers through the mapping of the booking's calendar (else the default
//! mapping), and the contact is associated with the company when the contact is new.
//!
//! **What is written.** Every mapped property is a template over `guest`, `answers`,
//! `booking_id`, `calendar_id`, `starts_at`, `ends_at` and `member`; a property that renders
//! empty is not written. The company (only when the mapping has company properties) is named by
//! its rendered `name` and keyed by its rendered `domain`, of which only the part after `@` is
//! kept and nothing at all for free-mail domains (the seed's 注意事項4). It is looked up by name
//! **or** domain and created only when HubSpot has neither (注意事項2); without a name and a
//! domain there is no company. The contact is looked up by its rendered `email` (mandatory) and
//! created only when HubSpot has no contact with that address; an existing contact is neither
//! updated nor associated. A contact this delivery created is associated with the company found
//! or created (注意事項3).
//!
//! **Once.** The company, the contact and the association are saved on the delivery as each
//! lands, so a retry continues where the last attempt stopped; before creating a contact the
//! delivery records that the lookup found none, so that a contact an earlier attempt created
//! without seeing the answer is recognised as this delivery's own (and still associated).
//! Bookings of one company (by domain, else name) share a FIFO key, so that two of them cannot
//! both create it.

use renkei_connectors::people::{PersonObject, RemotePerson};
use renkei_connectors::records::{NewCompany, NewPerson, PersonLookup, RecordRef};
use renkei_connectors::{ConnectorError, Provider};
use renkei_core::event::BookingCompleted;
use renkei_core::{EmailAddress, FreeMailDomains, company_key, split_name};
use serde_json::{Map, Value};

use super::{Planned, event_data, member_context, owner, render};
use crate::deliver::{Outcome, StepError, Writer};
use crate::settings::{BookingCapture, BookingMapping, ConnectionSettings};
use crate::vault::VaultError;

/// The step writing a booking's company and contact.
pub const RECORDS: &str = "booking_records";

/// The marker saved before a contact is created: the lookup found none, so a contact with the
/// address found by a later attempt is the one this delivery created.
const CONTACT_NEW: &str = "contact_new";

/// The deliveries a booking event causes on connection `conn`.
pub fn plan(
    event_type: &str,
    data: &Value,
    conn: i64,
    provider: Provider,
    s: &ConnectionSettings,
    region: &str,
) -> Option<Planned> {
    let b = &s.booking_capture;
    if !b.enabled || event_type != "booking.completed" {
        return None;
    }
    let d: BookingCompleted = serde_json::from_value(data.clone()).ok()?;
    let subject = format!("booking:{}", d.booking_id.as_str());
    let contact_key = format!(
        "{conn}:contact:{}",
        d.guest.email.as_str().trim().to_lowercase()
    );
    // Settings validation refuses enabling the recipe elsewhere; a document that got past it
    // still gets a visible answer rather than a write the provider cannot take.
    if provider != Provider::Hubspot {
        return Some(Planned {
            step: RECORDS,
            subject,
            record_key: contact_key,
            skipped: Some(format!(
                "recipe_unsupported: booking capture writes to HubSpot only, not {}",
                provider.as_str()
            )),
        });
    }
    let Some((_, mapping)) = mapping_for(b, d.calendar_id.as_str()) else {
        return Some(Planned {
            step: RECORDS,
            subject,
            record_key: contact_key,
            skipped: Some(no_mapping(d.calendar_id.as_str())),
        });
    };
    // Bookings that may create one company queue together, so that the second one finds the
    // company the first created instead of creating it again. The key is the company's domain
    // before its name: guests of one company type its name in many ways ("Acme", "ACME Japan",
    // "アクメ") but write from one domain, and HubSpot matches either (the seed's 注意事項2).
    // One queue per connection would close the last gap (a free-mail guest naming a company
    // that another guest's domain creates at the same moment), but the FIFO holds a queue
    // behind each retry's backoff, and measured under the chaos test's faults that ran about
    // one booking every three seconds.
    let key = if mapping.company.is_empty() {
        contact_key
    } else {
        match planned_company_key(&d, mapping, region) {
            Some(k) => format!("{conn}:company:{k}"),
            None => contact_key,
        }
    };
    Some(Planned::new(RECORDS, subject, key))
}

/// The mapping of `calendar`, else the default, with its settings path.
fn mapping_for<'a>(b: &'a BookingCapture, calendar: &str) -> Option<(String, &'a BookingMapping)> {
    match b.calendars.get(calendar) {
        Some(m) => Some((format!("booking_capture.calendars.{calendar}"), m)),
        None => b
            .default
            .as_ref()
            .map(|m| ("booking_capture.default".to_owned(), m)),
    }
}

fn no_mapping(calendar: &str) -> String {
    format!(
        "no_mapping: booking calendar {calendar:?} has no mapping and booking_capture.default \
         is not set"
    )
}

/// The company key of the FIFO key: the company's rendered domain (not a free-mail one), else
/// its name, else (when a template does not render) the guest's email domain or company.
fn planned_company_key(d: &BookingCompleted, m: &BookingMapping, region: &str) -> Option<String> {
    let ctx = context(d, Value::Null);
    let rendered = |prop: &str| {
        m.company
            .get(prop)
            .and_then(|src| renkei_core::template::render(src, &ctx, region).ok())
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    let name = rendered("name");
    let domain = rendered("domain").and_then(|v| company_domain(&v));
    domain
        .or(name)
        .or_else(|| company_domain(d.guest.email.as_str()))
        .or_else(|| d.guest.company.clone())
        .and_then(|k| company_key(&k))
}

/// The template context of a booking: the event's data as sent, and `member`.
fn context(d: &BookingCompleted, member: Value) -> Value {
    let mut ctx = serde_json::to_value(d).unwrap_or_else(|_| Value::Object(Map::new()));
    ctx["member"] = member;
    ctx
}

/// What a value mapped into the company's domain stores: the part after `@` when it is an
/// address, lower-cased, and nothing for a free-mail domain (PRODUCT.md 4.5; the seed's
/// 注意事項4, whose list renkei-core ships as [`FreeMailDomains::builtin`]).
fn company_domain(rendered: &str) -> Option<String> {
    let v = rendered.trim();
    let domain = v.rsplit_once('@').map_or(v, |(_, d)| d);
    let domain = domain.trim().trim_end_matches('.').to_lowercase();
    if domain.is_empty() || FreeMailDomains::builtin().is_free_domain(&domain) {
        return None;
    }
    Some(domain)
}

/// Renders every property of one side of the mapping; empty renders are left out.
fn render_all(
    w: &Writer<'_>,
    path: &str,
    props: &std::collections::BTreeMap<String, String>,
    ctx: &Value,
) -> Result<Map<String, Value>, StepError> {
    let mut out = Map::new();
    for (name, src) in props {
        let v = render(w, &format!("{path}.{name}"), src, ctx)?;
        if !v.is_empty() {
            out.insert(name.clone(), Value::String(v));
        }
    }
    Ok(out)
}

fn take_text(props: &mut Map<String, Value>, name: &str) -> Option<String> {
    props
        .remove(name)
        .and_then(|v| v.as_str().map(str::to_owned))
        .filter(|s| !s.is_empty())
}

/// Writes a `booking.completed` delivery's company and contact.
pub async fn write_records(w: &mut Writer<'_>) -> Result<Outcome, StepError> {
    let b: BookingCompleted = event_data(w)?;
    let Some((path, mapping)) = mapping_for(&w.settings.booking_capture, b.calendar_id.as_str())
        .map(|(p, m)| (p, m.clone()))
    else {
        return Ok(Outcome::Skipped(no_mapping(b.calendar_id.as_str())));
    };
    let ctx = context(&b, member_context(w).await?);
    let company_props = render_all(w, &format!("{path}.company"), &mapping.company, &ctx)?;
    let contact_props = render_all(w, &format!("{path}.contact"), &mapping.contact, &ctx)?;

    // The contact's email is checked before anything is written, so that a booking that
    // cannot give a contact leaves no company behind either.
    let email = if mapping.contact.is_empty() {
        None
    } else {
        Some(contact_email(&path, &contact_props)?)
    };

    let company = if mapping.company.is_empty() {
        None
    } else {
        company_once(w, company_props).await?
    };
    let contact = match email {
        None => None,
        Some(email) => {
            let names_mapped = mapping.contact.contains_key("lastname")
                || mapping.contact.contains_key("firstname");
            Some(contact_once(w, &email, &b, names_mapped, contact_props).await?)
        }
    };

    // Only a contact this delivery created is associated (the seed's 注意事項3); an existing
    // one is left as its owner keeps it.
    if let (Some(company), Some((contact, true))) = (&company, &contact)
        && w.delivery.remote_ids.get("associated").is_none()
    {
        let p = w.provider;
        w.call(move |c, a| async move { c.associate(p, a.session(), contact, company).await })
            .await?;
        w.save_value("associated", Value::Bool(true)).await?;
    }

    let booking = format!("booking:{}", b.booking_id.as_str());
    match (contact, company) {
        (Some((contact, _)), _) => w.put_link(&booking, &contact).await?,
        (None, Some(company)) => w.put_link(&booking, &company).await?,
        (None, None) => {
            return Ok(Outcome::Skipped(
                "no_company: the booking gives the company neither a name nor a domain, and \
                 the mapping writes no contact"
                    .to_owned(),
            ));
        }
    }
    Ok(Outcome::Written)
}

/// The booking's company: saved by an earlier attempt, found by name or domain, or created
/// with the mapped properties. `None` when it has neither a name nor a domain.
async fn company_once(
    w: &mut Writer<'_>,
    mut props: Map<String, Value>,
) -> Result<Option<RecordRef>, StepError> {
    if let Some(r) = w.saved("company") {
        return Ok(Some(r));
    }
    let name = take_text(&mut props, "name");
    let domain = take_text(&mut props, "domain").and_then(|d| company_domain(&d));
    if name.is_none() && domain.is_none() {
        return Ok(None);
    }
    let p = w.provider;
    let (n, d) = (name.as_deref(), domain.as_deref());
    let found = w
        .call(move |c, a| async move { c.find_company(p, a.session(), n, d).await })
        .await?;
    let r = match found {
        Some(r) => r,
        None => {
            // HubSpot itself names a company without a name by its domain; the connector
            // needs a name, and the domain is what the guest gave.
            let company = NewCompany {
                name: name.clone().or_else(|| domain.clone()).unwrap_or_default(),
                domain: domain.clone(),
                owner_id: owner(w).await?,
                extra: props,
            };
            let company = &company;
            w.call(move |c, a| async move { c.create_company(p, a.session(), company).await })
                .await?
        }
    };
    w.save("company", &r).await?;
    Ok(Some(r))
}

/// The contact's rendered `email`, which HubSpot needs to find or create the contact (the
/// seed's 「Eメール(必須)」).
fn contact_email(path: &str, props: &Map<String, Value>) -> Result<EmailAddress, StepError> {
    let field = format!("{path}.contact.email");
    let Some(raw) = props.get("email").and_then(Value::as_str) else {
        return Err(StepError::invalid(
            field,
            "the contact's email renders empty; HubSpot needs it to find or create the contact",
        ));
    };
    EmailAddress::parse(raw).map_err(|e| {
        StepError::invalid(
            field,
            format!("the contact's email {raw:?} is not an address: {e}"),
        )
    })
}

/// The booking's contact and whether this delivery created it: saved by an earlier attempt,
/// found by email (never updated), or created with the mapped properties.
async fn contact_once(
    w: &mut Writer<'_>,
    email: &EmailAddress,
    b: &BookingCompleted,
    names_mapped: bool,
    mut props: Map<String, Value>,
) -> Result<(RecordRef, bool), StepError> {
    let address = email.as_str().to_lowercase();
    // An earlier attempt of this delivery found no contact with the address and went on to
    // create one.
    let ours_before = w.delivery.remote_ids.get(CONTACT_NEW) == Some(&Value::Bool(true));
    if let Some(r) = w.saved("contact") {
        return Ok((r, ours_before));
    }

    let p = w.provider;
    let lookup = PersonLookup {
        email: Some(address.clone()),
        ..PersonLookup::default()
    };
    let lookup = &lookup;
    let objects = &[PersonObject::Contact][..];
    let live = w
        .call(move |c, a| async move { c.find_people(p, a.session(), objects, lookup).await })
        .await?;
    // HubSpot compares the whole value ignoring case; the answers are checked again, so that
    // only a contact with this very address counts.
    let same = |r: &RemotePerson| r.emails.iter().any(|e| e.trim().to_lowercase() == address);
    let existing = live.into_iter().filter(same).min_by(|x, y| {
        (x.created_at.map(|m| m.0), &x.remote_id).cmp(&(y.created_at.map(|m| m.0), &y.remote_id))
    });
    if let Some(e) = existing {
        if ours_before {
            tracing::info!(
                delivery = w.delivery.id,
                "an earlier attempt's contact had landed"
            );
        }
        let r = RecordRef::new("contacts", e.remote_id);
        w.save("contact", &r).await?;
        return Ok((r, ours_before));
    }

    w.save_value(CONTACT_NEW, Value::Bool(true)).await?;
    let (last, first) = if names_mapped {
        (
            props
                .get("lastname")
                .and_then(Value::as_str)
                .map(str::to_owned),
            props
                .get("firstname")
                .and_then(Value::as_str)
                .map(str::to_owned),
        )
    } else {
        split_name(b.guest.name.as_str())
    };
    props.insert("email".to_owned(), Value::String(email.as_str().to_owned()));
    let person = NewPerson {
        object: PersonObject::Contact,
        last_name: last.unwrap_or_default(),
        first_name: first,
        company: None,
        account: None,
        email: Some(email.as_str().to_owned()),
        phone: None,
        description: None,
        owner_id: owner(w).await?,
        extra: props,
    };
    let person = &person;
    let created = w
        .call(move |c, a| async move { c.create_person(p, a.session(), person).await })
        .await;
    let (r, created) = match created {
        Ok(r) => (r, true),
        // HubSpot refuses a second contact with one address and names the first. The search
        // index trails writes by a few seconds, so the lookup above can miss a contact that
        // exists: one an earlier attempt of this delivery created (ours), or one that was
        // there before (not ours).
        Err(StepError::Vault(VaultError::Connector(ConnectorError::Duplicate {
            existing_id,
            ..
        }))) => (RecordRef::new("contacts", existing_id), ours_before),
        Err(e) => return Err(e),
    };
    w.save("contact", &r).await?;
    Ok((r, created))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domains_keep_the_part_after_the_at_sign_and_drop_free_mail() {
        let cases: &[(&str, Option<&str>)] = &[
            ("taro@Example.CO.JP", Some("example.co.jp")),
            ("example.com", Some("example.com")),
            ("  sales@sub.example.com. ", Some("sub.example.com")),
            ("hanako@gmail.com", None),
            ("jiro@yahoo.co.jp", None),
            ("gmail.com", None),
            ("", None),
            ("x@", None),
        ];
        for (raw, want) in cases {
            assert_eq!(company_domain(raw).as_deref(), *want, "{raw}");
        }
    }

    fn settings(m: Value) -> ConnectionSettings {
        let doc = serde_json::json!({"booking_capture": m});
        ConnectionSettings::effective(Provider::Hubspot, "ja", &doc.to_string()).unwrap()
    }

    fn booking(calendar: &str, company: Option<&str>, email: &str) -> Value {
        let mut d = serde_json::json!({
            "booking_id": "bk-1", "calendar_id": calendar,
            "starts_at": "2026-11-21T09:00:00Z", "ends_at": "2026-11-21T09:30:00Z",
            "guest": {"name": "山田 太郎", "email": email},
            "answers": {"company": "回答商事"},
        });
        if let Some(c) = company {
            d["guest"]["company"] = Value::from(c);
        }
        d
    }

    #[test]
    fn plans_per_company_domain_or_name_or_contact_and_skips_unmapped_calendars() {
        let s = settings(serde_json::json!({
            "enabled": true,
            "calendars": {
                "sales": {"company": {"name": "{{ guest.company | default(answers.company) }}",
                                      "domain": "{{ guest.email }}"},
                          "contact": {"email": "{{ guest.email }}"}},
                "free": {"company": {"domain": "{{ guest.email }}"},
                         "contact": {"email": "{{ guest.email }}"}},
                "people": {"contact": {"email": "{{ guest.email }}"}},
            },
        }));
        let pl = |cal: &str, company: Option<&str>, email: &str, p: Provider| {
            plan(
                "booking.completed",
                &booking(cal, company, email),
                7,
                p,
                &s,
                "JP",
            )
            .unwrap()
        };
        let h = Provider::Hubspot;
        let a = pl("sales", Some("株式会社サンプル"), "t@example.com", h);
        assert_eq!(
            (a.step, a.subject.as_str(), a.skipped.as_deref()),
            (RECORDS, "booking:bk-1", None)
        );
        // The domain first: guests of one company spell its name in many ways.
        let domain = format!("7:company:{}", company_key("example.com").unwrap());
        assert_eq!(a.record_key, domain);
        let b = pl("sales", Some("サンプル Japan"), "u@example.com", h);
        assert_eq!(b.record_key, domain);
        // A free-mail guest: the company's name, the guest's or else the form's answer.
        let b = pl("sales", Some("株式会社サンプル"), "t@gmail.com", h);
        assert_eq!(
            b.record_key,
            format!("7:company:{}", company_key("サンプル").unwrap())
        );
        let b = pl("sales", None, "t@gmail.com", h);
        assert_eq!(
            b.record_key,
            format!("7:company:{}", company_key("回答商事").unwrap())
        );
        // Only a domain, and a free-mail one: no company, so the contact's key.
        let c = pl("free", None, "T@gmail.com", h);
        assert_eq!(c.record_key, "7:contact:t@gmail.com");
        let d = pl("free", None, "t@example.com", h);
        assert_eq!(
            d.record_key,
            format!("7:company:{}", company_key("example.com").unwrap())
        );
        let e = pl("people", None, "t@example.com", h);
        assert_eq!(e.record_key, "7:contact:t@example.com");
        let f = pl("other", None, "t@example.com", h);
        assert!(
            f.skipped.as_deref().unwrap().starts_with("no_mapping:"),
            "{f:?}"
        );
        assert!(
            plan(
                "booking.completed",
                &booking("sales", None, "t@example.com"),
                7,
                h,
                &ConnectionSettings::defaults(h, "ja"),
                "JP"
            )
            .is_none()
        );
        assert!(
            plan(
                "call.ended",
                &booking("sales", None, "t@example.com"),
                7,
                h,
                &s,
                "JP"
            )
            .is_none()
        );
    }
}
