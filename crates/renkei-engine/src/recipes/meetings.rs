//! Meeting notes (PRODUCT.md 4.4, the meeting assistant of seed `003_…`): a
//! `meeting.report_ready` event becomes a Note holding the meeting's report on the customer's
//! lead or contact, which is created first when the CRM does not have the customer yet.
//!
//! **Whose meeting.** The customer is found, in order: the record this delivery already saved
//! (a retry), the record linked to the host app's customer (`customer:{id}`), the imported
//! person the customer id names, renkei's imported people by email and then by phone, by the
//! import's identity (company + name: a Lead's `Company`, a Contact's Account name, PRODUCT.md
//! 4.4), the record written earlier for the same company + name (`person:{company}:{name}`),
//! and last a live search by email or phone at the provider, whose answers are re-checked with
//! renkei's own normalisers. An empty company is the people settings' placeholder, as the
//! import makes it ("名前なし" in the seed).
//!
//! **Unknown customers.** `meeting_notes.create_as` decides: a Lead (its `Company` the
//! customer's, else the placeholder), a Contact (Salesforce and Zoho: under the Account of the
//! customer's company, reused or created, or the placeholder-named Account; HubSpot: with the
//! `company` property), or nothing, and the delivery is skipped (`no_match`).
//!
//! **The note.** Title: the meeting's title; body: the report, a blank line, and the rendered
//! `member_line` naming the member who held the meeting. The seed writes notes as the API
//! account and names the member in the text ("活動履歴に表示される担当者名は、Zoho APIの作成を
//! したZohoアカウント名で書き込みを行いますが、…メモ欄にFront Agentの担当者名を記載します"), so
//! the note has no owner of its own. Zoho keeps it under the Lead/Contact (`Parent_Id`),
//! Salesforce as a classic Note (`ParentId`), HubSpot as a note associated to the contact.
//!
//! **Once.** The person, the Account and the note are saved on the delivery as they land and
//! linked; the note goes through `create_activity_once` with the delivery's key. Deliveries
//! about one customer share a FIFO key (`customer:{id}`, else `person:{company}:{name}`), so
//! two meetings with one new customer cannot create two leads; customers who may become
//! Contacts under an Account share the Account's key instead, as call logging's do, so that
//! two new customers of one company cannot create its Account twice.

use renkei_connectors::Provider;
use renkei_connectors::people::{PersonObject, RemotePerson};
use renkei_connectors::records::{ActivityKind, NewActivity, NewPerson, PersonLookup, RecordRef};
use renkei_core::event::{MeetingCustomer, MeetingReportReady};
use renkei_core::{Millis, Region, company_key, name_key, normalize_text, split_name};
use renkei_store::people::PeopleFilter;
use serde_json::Value;

use super::calls::{
    imported, imported_by_customer_id, live_person, phone_key, phone_matches, remote_object,
};
use super::{Planned, activity_key, event_data, member_context, owner, render};
use crate::deliver::{Outcome, StepError, Writer};
use crate::settings::{ConnectionSettings, CreateAs};

/// The step writing a meeting's note.
pub const NOTE: &str = "meeting_note";

/// The delivery a `meeting.report_ready` event causes on connection `conn`.
pub fn plan(
    event_type: &str,
    data: &Value,
    conn: i64,
    provider: Provider,
    s: &ConnectionSettings,
) -> Option<Planned> {
    if !s.meeting_notes.enabled || event_type != "meeting.report_ready" {
        return None;
    }
    let m: MeetingReportReady = serde_json::from_value(data.clone()).ok()?;
    let c = &m.customer;
    let key = if s.meeting_notes.create_as == CreateAs::Contact && provider != Provider::Hubspot {
        // The key call logging gives the Account of this company (calls.rs), so that call and
        // meeting deliveries that may create it never run at once.
        let company = company(c).as_deref().and_then(company_key);
        format!("{conn}:account:{}", company.unwrap_or_default())
    } else {
        match &c.id {
            Some(id) => format!("{conn}:customer:{}", id.as_str()),
            None => format!("{conn}:{}", identity_link(c, s)),
        }
    };
    Some(Planned::new(
        NOTE,
        format!("meeting:{}", m.meeting_id.as_str()),
        key,
    ))
}

/// The customer's company, normalised as the import normalises it; `None` when empty.
fn company(c: &MeetingCustomer) -> Option<String> {
    Some(normalize_text(&c.company)).filter(|s| !s.is_empty())
}

/// The company key the import gives a person of this customer's company: an empty company is
/// the people settings' placeholder (`people.missing_company`), or none.
fn identity_company_key(c: &MeetingCustomer, s: &ConnectionSettings) -> Option<String> {
    company(c)
        .or_else(|| s.people.missing_company.clone())
        .as_deref()
        .and_then(company_key)
}

/// The link (and FIFO key) of a customer by company + name: `person:{company key}:{name key}`.
fn identity_link(c: &MeetingCustomer, s: &ConnectionSettings) -> String {
    let name = name_key(c.name.as_str()).unwrap_or_else(|| c.name.as_str().to_owned());
    format!(
        "person:{}:{name}",
        identity_company_key(c, s).unwrap_or_default()
    )
}

/// Writes the note of a `meeting.report_ready` delivery.
pub async fn write_note(w: &mut Writer<'_>) -> Result<Outcome, StepError> {
    let m: MeetingReportReady = event_data(w)?;
    let person = match customer(w, &m.customer).await? {
        Some(p) => p,
        None => match create_customer(w, &m.customer).await? {
            Some(p) => p,
            None => {
                return Ok(Outcome::Skipped(format!(
                    "no_match: no lead or contact is the customer {:?} of {:?} and \
                     meeting_notes.create_as is none",
                    m.customer.name.as_str(),
                    m.customer.company
                )));
            }
        },
    };
    if let Some(id) = &m.customer.id {
        w.put_link(&format!("customer:{}", id.as_str()), &person)
            .await?;
    }
    w.put_link(&identity_link(&m.customer, &w.settings), &person)
        .await?;

    if w.saved("note").is_none() {
        let mut ctx = serde_json::to_value(&m).unwrap_or(Value::Null);
        let member = member_context(w).await?;
        if let Some(o) = ctx.as_object_mut() {
            o.insert("member".to_owned(), member);
        }
        let line = render(
            w,
            "meeting_notes.member_line",
            &w.settings.meeting_notes.member_line,
            &ctx,
        )?;
        let mut body = m.body.trim_end().to_owned();
        if !line.is_empty() {
            if !body.is_empty() {
                body.push_str("\n\n");
            }
            body.push_str(&line);
        }
        // Salesforce requires a Note's title; a report without one is still a report.
        let subject = match m.title.trim() {
            "" if w.locale == "ja" => "商談レポート".to_owned(),
            "" => "Meeting report".to_owned(),
            t => t.to_owned(),
        };
        let note = NewActivity {
            kind: ActivityKind::Note,
            key: activity_key(w),
            subject,
            body,
            occurred_at: Millis(m.held_at.as_millisecond()),
            ends_at: None,
            // Written by the API account; the member is named in the body (PRODUCT.md 4.4).
            owner_id: None,
            person: Some(person.clone()),
            deal: None,
            call: None,
            completed: false,
        };
        let written = super::create_activity_once(w, &note).await?;
        w.save("note", &written).await?;
    }
    if let Some(n) = w.saved("note") {
        w.put_link(&format!("meeting:{}", m.meeting_id.as_str()), &n)
            .await?;
    }
    Ok(Outcome::Written)
}

/// The customer's record, if the CRM has one; saved on the delivery when found.
async fn customer(w: &mut Writer<'_>, c: &MeetingCustomer) -> Result<Option<RecordRef>, StepError> {
    if let Some(p) = w.saved("person") {
        return Ok(Some(p));
    }
    let found = find_customer(w, c).await?;
    if let Some(r) = &found {
        w.save("person", r).await?;
    }
    Ok(found)
}

async fn find_customer(
    w: &Writer<'_>,
    c: &MeetingCustomer,
) -> Result<Option<RecordRef>, StepError> {
    if let Some(id) = &c.id {
        if let Some(r) = w.link(&format!("customer:{}", id.as_str())).await? {
            return Ok(Some(r));
        }
        if let Some(r) = imported_by_customer_id(w, id.as_str()).await? {
            return Ok(Some(r));
        }
    }
    let objects = PersonObject::supported(w.provider);
    let email = c.email.as_ref().map(|e| e.as_str().to_lowercase());
    let e164 = c
        .phone
        .as_ref()
        .and_then(|p| phone_key(p.as_str(), &w.region));
    if let Some(email) = &email {
        let by_email = PeopleFilter {
            email_key: Some(email.clone()),
            ..PeopleFilter::default()
        };
        if let Some(r) = imported(w, by_email, objects).await? {
            return Ok(Some(r));
        }
    }
    if let Some(e164) = &e164 {
        let by_phone = PeopleFilter {
            phone_keys: vec![e164.as_str().to_owned()],
            ..PeopleFilter::default()
        };
        if let Some(r) = imported(w, by_phone, objects).await? {
            return Ok(Some(r));
        }
    }
    if let Some(r) = by_identity(w, c, objects).await? {
        return Ok(Some(r));
    }
    if let Some(r) = w.link(&identity_link(c, &w.settings)).await? {
        return Ok(Some(r));
    }
    if email.is_none() && e164.is_none() {
        return Ok(None);
    }
    let lookup = PersonLookup {
        phone_e164: e164.as_ref().map(|e| e.as_str().to_owned()),
        phone_national: e164
            .as_ref()
            .map(|e| e.national_forms())
            .unwrap_or_default(),
        email: email.clone(),
    };
    // The objects the import reads first (the "sync target" of 4.4), then the others.
    let mut order: Vec<PersonObject> = w
        .settings
        .people
        .objects
        .iter()
        .copied()
        .filter(|o| objects.contains(o))
        .collect();
    let rest: Vec<PersonObject> = objects
        .iter()
        .copied()
        .filter(|o| !order.contains(o))
        .collect();
    order.extend(rest);
    let region = Region::parse(&w.region).ok();
    let matches = |r: &RemotePerson| {
        let by_email = email
            .as_deref()
            .is_some_and(|e| r.emails.iter().any(|x| x.trim().eq_ignore_ascii_case(e)));
        let by_phone = match (&e164, &region) {
            (Some(e), Some(region)) => phone_matches(r, region, e),
            _ => false,
        };
        by_email || by_phone
    };
    live_person(w, &order, &lookup, matches).await
}

/// The imported person who is this customer by the import's identity rule of PRODUCT.md 4.4:
/// the same name and the same company (a Lead's `Company`, a Contact's Account name, the
/// placeholder when empty), each compared by its matching key. The oldest import wins a tie.
async fn by_identity(
    w: &Writer<'_>,
    c: &MeetingCustomer,
    objects: &[PersonObject],
) -> Result<Option<RecordRef>, StepError> {
    let Some(name) = name_key(c.name.as_str()) else {
        return Ok(None);
    };
    let company = identity_company_key(c, &w.settings);
    let filter = PeopleFilter {
        name_key: Some(name),
        company_key: company.clone(),
        provider: Some(w.provider.as_str().to_owned()),
        ..PeopleFilter::default()
    };
    let found = w.store.find_people(&w.event.tenant, &filter, 0, 50).await?;
    Ok(found
        .into_iter()
        .filter(|p| p.company_key == company)
        .filter(|p| PersonObject::parse(&p.object).is_some_and(|o| objects.contains(&o)))
        .min_by_key(|p| p.id)
        .map(|p| RecordRef::new(remote_object(w, &p.object), p.remote_id)))
}

/// Creates the unknown customer as `meeting_notes.create_as` says; `None` when it says not to.
async fn create_customer(
    w: &mut Writer<'_>,
    c: &MeetingCustomer,
) -> Result<Option<RecordRef>, StepError> {
    let object = match w.settings.meeting_notes.create_as {
        CreateAs::None => return Ok(None),
        CreateAs::Lead => PersonObject::Lead,
        CreateAs::Contact => PersonObject::Contact,
    };
    let name = c.name.as_str().trim();
    let (last, first) = split_name(name);
    // A Lead and a Contact need a last name: a lone given name is the last name.
    let last = last
        .or_else(|| first.clone())
        .unwrap_or_else(|| name.to_owned());
    let first = first.filter(|f| *f != last);
    let company = company(c);
    // A customer without a company goes under the placeholder-named Account, as the seed
    // imports a contact without an Account under "名前なし".
    let placeholder = super::missing_company(w);
    let account = super::contact_account(w, object, company.as_deref(), &placeholder).await?;
    let person = NewPerson {
        object,
        last_name: last,
        first_name: first,
        company: company
            .or_else(|| (object == PersonObject::Lead).then(|| super::missing_company(w))),
        account,
        email: c.email.as_ref().map(|e| e.as_str().to_owned()),
        phone: c.phone.as_ref().map(|p| p.as_str().to_owned()),
        description: None,
        owner_id: owner(w).await?,
        extra: Default::default(),
    };
    let (p, person) = (w.provider, &person);
    let created = w
        .call(move |c, a| async move { c.create_person(p, a.session(), person).await })
        .await?;
    w.save("person", &created).await?;
    tracing::info!(
        delivery = w.delivery.id,
        object = object.as_str(),
        "created the meeting's customer"
    );
    Ok(Some(created))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn settings(p: Provider, create_as: CreateAs) -> ConnectionSettings {
        let mut s = ConnectionSettings::defaults(p, "ja");
        s.meeting_notes.enabled = true;
        s.meeting_notes.create_as = create_as;
        s
    }

    fn data(customer: Value) -> Value {
        json!({"meeting_id": "mt1", "title": "定例", "body": "議事録",
               "held_at": "2026-11-21T08:00:00Z", "customer": customer})
    }

    fn key(p: Provider, create_as: CreateAs, customer: Value) -> String {
        let planned = plan(
            "meeting.report_ready",
            &data(customer),
            7,
            p,
            &settings(p, create_as),
        )
        .unwrap();
        assert_eq!(
            (planned.step, planned.subject.as_str()),
            (NOTE, "meeting:mt1")
        );
        assert_eq!(planned.skipped, None);
        planned.record_key
    }

    #[test]
    fn one_fifo_key_per_customer() {
        use CreateAs::{Contact, Lead};
        use Provider::{Hubspot, Salesforce, ZohoCrm};
        let with_id = json!({"id": "c-1", "name": "山田 太郎", "company": "山田商事"});
        assert_eq!(key(ZohoCrm, Lead, with_id.clone()), "7:customer:c-1");
        // Without an id: company + name by their keys, so spacing and legal forms do not
        // split one customer across keys; an empty company is the placeholder.
        let a = key(
            ZohoCrm,
            Lead,
            json!({"name": "山田 太郎", "company": "株式会社山田商事"}),
        );
        let b = key(
            ZohoCrm,
            Lead,
            json!({"name": "山田太郎", "company": "山田商事"}),
        );
        assert_eq!(a, b);
        assert_eq!(a, "7:person:山田商事:山田太郎");
        assert_eq!(
            key(ZohoCrm, Lead, json!({"name": "山田 太郎", "company": ""})),
            "7:person:名前なし:山田太郎"
        );
        // Contacts under an Account queue with that Account (as call logging's do); HubSpot
        // contacts have no Account.
        assert_eq!(
            key(Salesforce, Contact, with_id.clone()),
            "7:account:山田商事"
        );
        assert_eq!(key(Hubspot, Contact, with_id), "7:customer:c-1");
    }

    #[test]
    fn only_enabled_meeting_events_plan() {
        let d = data(json!({"name": "山田 太郎", "company": ""}));
        let mut s = settings(Provider::ZohoCrm, CreateAs::Lead);
        assert!(plan("call.ended", &d, 7, Provider::ZohoCrm, &s).is_none());
        s.meeting_notes.enabled = false;
        assert!(plan("meeting.report_ready", &d, 7, Provider::ZohoCrm, &s).is_none());
    }
}
