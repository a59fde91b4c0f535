//! Call logging (PRODUCT.md 4.3, the cloud phone): a `call.ended` event becomes a call
//! activity on the caller's lead or contact, and `call.transcribed` appends the transcript to
//! that activity.
//!
//! **Whose call.** The caller is found, in order: the record this delivery already saved (a
//! retry), the record linked to the host app's customer (`customer:{id}`), the imported person
//! the customer id names, renkei's imported people by the normalised phone (then email), the
//! record created earlier for the same number (`phone:{e164}`), and last a live search of the
//! settings' objects at the provider, whose answers are re-checked with renkei's own
//! normaliser (CRMs keep phones as typed). An unknown caller is created as a Lead or Contact
//! when the settings say so — a Contact goes to the Account of its company name, reused or
//! created, or to the default Account, reused or created — and otherwise the delivery is
//! skipped, saying so.
//!
//! **Once.** The activity's key is derived from the event, and the connector can find it
//! again (`find_activity`); every record written is saved on the delivery and linked as it
//! lands. Deliveries about one caller share a FIFO key, so two calls from one unknown number
//! cannot race to create two leads.

use renkei_connectors::Provider;
use renkei_connectors::people::{PersonObject, RemotePerson};
use renkei_connectors::records::{
    ActivityKind, CallDetails, CallDirection, NewActivity, NewPerson, PersonLookup, RecordRef,
};
use renkei_core::event::{CallDirection as EventDirection, CallEnded, CallTranscribed};
use renkei_core::{E164, Millis, Region, company_key, normalize_phone, split_name};
use renkei_store::people::PeopleFilter;
use serde_json::json;

use super::{Planned, activity_key, event_data, member_context, owner, render};
use crate::deliver::{Outcome, StepError, Writer};
use crate::settings::{CallEvent, ConnectionSettings, CreateAs};

/// The step writing a call's activity.
pub const ACTIVITY: &str = "call_activity";
/// The step appending a transcript to it.
pub const TRANSCRIPT: &str = "call_transcript";

/// The deliveries a call event causes on connection `conn`.
pub fn plan(
    event_type: &str,
    data: &serde_json::Value,
    conn: i64,
    provider: Provider,
    s: &ConnectionSettings,
    region: &str,
) -> Option<Planned> {
    let c = &s.call_logging;
    if !c.enabled {
        return None;
    }
    match event_type {
        "call.ended" if c.events.contains(&CallEvent::Ended) => {
            let d: CallEnded = serde_json::from_value(data.clone()).ok()?;
            let caller = phone_key(d.customer_phone.as_str(), region)
                .map(|e| e.as_str().to_owned())
                .unwrap_or_else(|| d.customer_phone.as_str().trim().to_owned());
            // A caller who may become a Contact under an Account shares the FIFO key of that
            // Account (its company, or the default one), so that two new callers of one
            // company cannot both create it. Otherwise calls queue per caller.
            let key = if c.create_unknown == CreateAs::Contact && provider != Provider::Hubspot {
                let company = d
                    .customer
                    .as_ref()
                    .and_then(|c| c.company.as_deref())
                    .and_then(company_key)
                    .unwrap_or_default();
                format!("{conn}:account:{company}")
            } else {
                format!("{conn}:caller:{caller}")
            };
            Some(Planned::new(
                ACTIVITY,
                format!("call:{}", d.call_id.as_str()),
                key,
            ))
        }
        "call.transcribed" if c.events.contains(&CallEvent::Transcribed) => {
            let d: CallTranscribed = serde_json::from_value(data.clone()).ok()?;
            Some(Planned::new(
                TRANSCRIPT,
                format!("call:{}", d.call_id.as_str()),
                format!("{conn}:call:{}", d.call_id.as_str()),
            ))
        }
        _ => None,
    }
}

pub(super) fn phone_key(raw: &str, region: &str) -> Option<E164> {
    let region = Region::parse(region).ok()?;
    normalize_phone(raw, &region).ok().map(|p| p.e164)
}

/// Writes the call activity of a `call.ended` delivery.
pub async fn write_activity(w: &mut Writer<'_>) -> Result<Outcome, StepError> {
    let call: CallEnded = event_data(w)?;
    let Some(e164) = phone_key(call.customer_phone.as_str(), &w.region) else {
        return Err(StepError::invalid(
            "data.customer_phone",
            format!(
                "{:?} is not a phone number in region {}",
                call.customer_phone.as_str(),
                w.region
            ),
        ));
    };
    let person = match caller(w, &call, &e164).await? {
        Some(p) => p,
        None => match create_caller(w, &call, &e164).await? {
            Some(p) => p,
            None => {
                return Ok(Outcome::Skipped(format!(
                    "no_match: no {} has the phone number {} and call_logging.create_unknown \
                     is none",
                    objects_text(&w.settings.call_logging.objects),
                    e164.as_str()
                )));
            }
        },
    };
    if let Some(id) = call.customer.as_ref().and_then(|c| c.id.as_ref()) {
        w.put_link(&format!("customer:{}", id.as_str()), &person)
            .await?;
    }

    if w.saved("activity").is_none() {
        let started = Millis(call.started_at.as_millisecond());
        let direction = match call.direction {
            EventDirection::Inbound => CallDirection::Inbound,
            EventDirection::Outbound => CallDirection::Outbound,
        };
        let ja = w.locale == "ja";
        let label = match (call.direction, ja) {
            (EventDirection::Inbound, true) => "着信",
            (EventDirection::Outbound, true) => "発信",
            (EventDirection::Inbound, false) => "Inbound",
            (EventDirection::Outbound, false) => "Outbound",
        };
        let mut ctx = json!({
            "call_id": call.call_id.as_str(),
            "direction": match call.direction {
                EventDirection::Inbound => "inbound",
                EventDirection::Outbound => "outbound",
            },
            "direction_label": label,
            "customer_phone": call.customer_phone.as_str(),
            "duration_seconds": call.duration_seconds,
            "customer": call.customer,
            "memo": call.memo,
            "recording_url": call.recording_url.as_ref().map(|u| u.as_str()),
        });
        ctx["member"] = member_context(w).await?;
        let subject = render(
            w,
            "call_logging.subject",
            &w.settings.call_logging.subject,
            &ctx,
        )?;
        let mut body = call.memo.clone().unwrap_or_default();
        if let Some(url) = &call.recording_url {
            if !body.is_empty() {
                body.push_str("\n\n");
            }
            body.push_str(if ja { "録音: " } else { "Recording: " });
            body.push_str(url.as_str());
        }
        let activity = NewActivity {
            kind: ActivityKind::Call,
            key: activity_key(w),
            subject,
            body,
            occurred_at: started,
            ends_at: Some(started.plus_ms(i64::from(call.duration_seconds) * 1000)),
            owner_id: owner(w).await?,
            person: Some(person.clone()),
            deal: None,
            call: Some(CallDetails {
                direction,
                duration_seconds: u64::from(call.duration_seconds),
                phone: Some(call.customer_phone.as_str().to_owned()),
                recording_url: call.recording_url.as_ref().map(|u| u.as_str().to_owned()),
            }),
            completed: true,
        };
        let written = super::create_activity_once(w, &activity).await?;
        w.save("activity", &written).await?;
    }
    if let Some(a) = w.saved("activity") {
        w.put_link(&format!("call:{}", call.call_id.as_str()), &a)
            .await?;
    }
    Ok(Outcome::Written)
}

/// Appends a `call.transcribed` delivery's transcript to its call's activity.
pub async fn append_transcript(w: &mut Writer<'_>) -> Result<Outcome, StepError> {
    let t: CallTranscribed = event_data(w)?;
    if w.delivery.remote_ids.get("transcript").is_some() {
        return Ok(Outcome::Written);
    }
    let subject = format!("call:{}", t.call_id.as_str());
    let Some(activity) = w.link(&subject).await? else {
        let calls = w
            .store
            .deliveries_about(w.connection.id, &subject, ACTIVITY)
            .await?;
        if calls.iter().any(|d| !d.status.is_final()) {
            return Err(StepError::Wait(format!(
                "the activity of call {} is not written yet",
                t.call_id.as_str()
            )));
        }
        return Ok(Outcome::Skipped(format!(
            "no_call_activity: call {} has no activity at this connection (its call.ended was \
             not written)",
            t.call_id.as_str()
        )));
    };
    if t.text.trim().is_empty() {
        return Ok(Outcome::Skipped(
            "empty_transcript: the transcript is empty".to_owned(),
        ));
    }
    let heading = if w.locale == "ja" {
        "【文字起こし】"
    } else {
        "[Transcript]"
    };
    let text = format!("{heading}\n{}", t.text.trim());
    let (p, r) = (w.provider, &activity);
    let text = &text;
    w.call(move |c, a| async move {
        c.append_to_activity(p, a.session(), ActivityKind::Call, r, text)
            .await
    })
    .await?;
    w.save("transcript", &activity).await?;
    Ok(Outcome::Written)
}

fn objects_text(objects: &[PersonObject]) -> String {
    objects
        .iter()
        .map(|o| o.as_str())
        .collect::<Vec<_>>()
        .join(" or ")
}

/// The caller's record, if the CRM has one.
async fn caller(
    w: &mut Writer<'_>,
    call: &CallEnded,
    e164: &E164,
) -> Result<Option<RecordRef>, StepError> {
    if let Some(p) = w.saved("person") {
        return Ok(Some(p));
    }
    let customer_id = call.customer.as_ref().and_then(|c| c.id.as_ref());
    if let Some(id) = customer_id
        && let Some(r) = w.link(&format!("customer:{}", id.as_str())).await?
    {
        w.save("person", &r).await?;
        return Ok(Some(r));
    }
    if let Some(id) = customer_id
        && let Some(r) = imported_by_customer_id(w, id.as_str()).await?
    {
        w.save("person", &r).await?;
        return Ok(Some(r));
    }
    // Only the objects the recipe writes to; the identity choice has already made the phone's
    // people one (the visible ones are the chosen), and the oldest import wins a remaining tie.
    let objects = w.settings.call_logging.objects.clone();
    let by_phone = PeopleFilter {
        phone_keys: vec![e164.as_str().to_owned()],
        ..PeopleFilter::default()
    };
    let mut found = imported(w, by_phone, &objects).await?;
    if found.is_none()
        && let Some(email) = call.customer.as_ref().and_then(|c| c.email.as_ref())
    {
        let by_email = PeopleFilter {
            email_key: Some(email.as_str().to_lowercase()),
            ..PeopleFilter::default()
        };
        found = imported(w, by_email, &objects).await?;
    }
    if let Some(r) = found {
        w.save("person", &r).await?;
        return Ok(Some(r));
    }
    if let Some(r) = w.link(&format!("phone:{}", e164.as_str())).await? {
        w.save("person", &r).await?;
        return Ok(Some(r));
    }
    let lookup = PersonLookup {
        phone_e164: Some(e164.as_str().to_owned()),
        phone_national: e164.national_forms(),
        email: None,
    };
    let region = Region::parse(&w.region).ok();
    let matches = |r: &RemotePerson| {
        let Some(region) = &region else { return false };
        phone_matches(r, region, e164)
    };
    if let Some(r) = live_person(w, &objects, &lookup, matches).await? {
        w.save("person", &r).await?;
        return Ok(Some(r));
    }
    Ok(None)
}

/// The imported person the host app's customer id names: renkei's own person id (the people
/// API's ids), or the remote id of one of this provider's leads or contacts. Deleted people
/// name nothing.
pub(super) async fn imported_by_customer_id(
    w: &Writer<'_>,
    id: &str,
) -> Result<Option<RecordRef>, StepError> {
    let provider = w.provider.as_str();
    if let Ok(n) = id.parse::<i64>()
        && let Some(p) = w.store.get_person(&w.event.tenant, n).await?
        && p.provider == provider
        && !p.deleted
    {
        return Ok(Some(RecordRef::new(
            remote_object(w, &p.object),
            p.remote_id,
        )));
    }
    for o in PersonObject::supported(w.provider) {
        if let Some(p) = w
            .store
            .get_person_by_remote(&w.event.tenant, provider, o.as_str(), id)
            .await?
            && !p.deleted
        {
            return Ok(Some(RecordRef::new(
                remote_object(w, &p.object),
                p.remote_id,
            )));
        }
    }
    Ok(None)
}

/// The oldest of renkei's visible imported people of this provider that `filter` finds, among
/// `objects`.
pub(super) async fn imported(
    w: &Writer<'_>,
    filter: PeopleFilter,
    objects: &[PersonObject],
) -> Result<Option<RecordRef>, StepError> {
    let filter = PeopleFilter {
        provider: Some(w.provider.as_str().to_owned()),
        ..filter
    };
    let found = w.store.find_people(&w.event.tenant, &filter, 0, 20).await?;
    Ok(found
        .into_iter()
        .filter(|p| PersonObject::parse(&p.object).is_some_and(|o| objects.contains(&o)))
        .min_by_key(|p| p.id)
        .map(|p| RecordRef::new(remote_object(w, &p.object), p.remote_id)))
}

/// Whether one of `r`'s phones is `e164` by renkei's own normaliser (CRMs keep phones as
/// typed).
pub(super) fn phone_matches(r: &RemotePerson, region: &Region, e164: &E164) -> bool {
    r.phone
        .iter()
        .chain(r.other_phones.iter())
        .filter_map(|ph| normalize_phone(ph, region).ok())
        .any(|n| &n.e164 == e164)
}

/// A live search of `objects` at the provider: among the answers `matches` accepts, the one of
/// the earliest object in `objects`, then the oldest.
pub(super) async fn live_person(
    w: &Writer<'_>,
    objects: &[PersonObject],
    lookup: &PersonLookup,
    matches: impl Fn(&RemotePerson) -> bool,
) -> Result<Option<RecordRef>, StepError> {
    let p = w.provider;
    let live = w
        .call(move |c, a| async move { c.find_people(p, a.session(), objects, lookup).await })
        .await?;
    let best = live.into_iter().filter(|r| matches(r)).min_by(|a, b| {
        let rank = |r: &RemotePerson| objects.iter().position(|o| *o == r.object);
        (rank(a), a.created_at.map(|m| m.0), &a.remote_id).cmp(&(
            rank(b),
            b.created_at.map(|m| m.0),
            &b.remote_id,
        ))
    });
    Ok(best.and_then(|b| {
        b.object
            .remote_name(w.provider)
            .map(|object| RecordRef::new(object, b.remote_id))
    }))
}

/// The provider's object name of a stored person's object (`lead` → `Lead`).
pub(super) fn remote_object(w: &Writer<'_>, stored: &str) -> String {
    PersonObject::parse(stored)
        .and_then(|o| o.remote_name(w.provider))
        .map(str::to_owned)
        .unwrap_or_else(|| stored.to_owned())
}

/// Creates the unknown caller as the settings say; `None` when they say not to.
async fn create_caller(
    w: &mut Writer<'_>,
    call: &CallEnded,
    e164: &E164,
) -> Result<Option<RecordRef>, StepError> {
    let object = match w.settings.call_logging.create_unknown {
        CreateAs::None => return Ok(None),
        CreateAs::Lead => PersonObject::Lead,
        CreateAs::Contact => PersonObject::Contact,
    };
    let customer = call.customer.as_ref();
    let name = customer
        .and_then(|c| c.name.as_deref())
        .map(str::trim)
        .filter(|n| !n.is_empty());
    let (last, first) = name.map(split_name).unwrap_or_default();
    // A Lead and a Contact need a last name; without one, the number is what the caller is
    // known by.
    let last = last
        .or_else(|| first.clone())
        .unwrap_or_else(|| call.customer_phone.as_str().to_owned());
    let first = first.filter(|f| *f != last);
    let company = customer
        .and_then(|c| c.company.as_deref())
        .map(str::trim)
        .filter(|c| !c.is_empty())
        .map(str::to_owned);
    let default_account = w.settings.call_logging.default_account_name.clone();
    let account = super::contact_account(w, object, company.as_deref(), &default_account).await?;
    let person = NewPerson {
        object,
        last_name: last,
        first_name: first,
        company: company
            .or_else(|| (object == PersonObject::Lead).then(|| super::missing_company(w))),
        account,
        email: customer
            .and_then(|c| c.email.as_ref())
            .map(|e| e.as_str().to_owned()),
        phone: Some(call.customer_phone.as_str().to_owned()),
        description: None,
        owner_id: owner(w).await?,
        extra: Default::default(),
    };
    let (p, person) = (w.provider, &person);
    let created = w
        .call(move |c, a| async move { c.create_person(p, a.session(), person).await })
        .await?;
    w.save("person", &created).await?;
    w.put_link(&format!("phone:{}", e164.as_str()), &created)
        .await?;
    Ok(Some(created))
}
