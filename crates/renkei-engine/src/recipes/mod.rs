//! The write-back recipes of PRODUCT.md section 4: which deliveries an event causes on a
//! connection (routing's half, [`plan`]) and what each delivery step writes (the `deliver`
//! job's half, [`run_step`]).
//!
//! | step | event | recipe |
//! | --- | --- | --- |
//! | `call_activity` | `call.ended` | [`calls`]: the call as an activity on the caller's record |
//! | `call_transcript` | `call.transcribed` | [`calls`]: the transcript appended to it |
//! | `meeting_note` | `meeting.report_ready` | [`meetings`]: the report as a note on the customer's record |
//! | `room_url` | `room.linked` | [`deal_room`]: the room linked to its deal, its URL written |
//! | `room_activity` | `chat.message_sent`, `task.completed`, `content.updated` | [`deal_room`]: an activity on the room's deal |
//! | `booking_records` | `booking.completed` | [`bookings`]: the guest's HubSpot company and contact |
//!
//! The helpers here are the parts every recipe shares: the activity key, the owner, the
//! template context of the event's member, "create this activity unless an earlier attempt
//! did", "find this company or create it".

pub mod bookings;
pub mod calls;
pub mod deal_room;
pub mod meetings;

use renkei_connectors::Provider;
use renkei_connectors::records::{NewActivity, NewCompany, RecordRef};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::deliver::{Outcome, StepError, Writer};
use crate::settings::ConnectionSettings;

/// A delivery routing decided on: its step, what it is about, and its FIFO key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub step: &'static str,
    pub subject: String,
    pub record_key: String,
    /// `Some`: recorded as skipped at once, with this reason.
    pub skipped: Option<String>,
}

impl Planned {
    pub fn new(step: &'static str, subject: String, record_key: String) -> Self {
        Self {
            step,
            subject,
            record_key,
            skipped: None,
        }
    }
}

/// The deliveries `event_type` causes on the tenant connection `conn` with settings `s`.
pub fn plan(
    event_type: &str,
    data: &Value,
    conn: i64,
    provider: Provider,
    s: &ConnectionSettings,
    region: &str,
) -> Vec<Planned> {
    let mut out = Vec::new();
    out.extend(calls::plan(event_type, data, conn, provider, s, region));
    out.extend(meetings::plan(event_type, data, conn, provider, s));
    out.extend(deal_room::plan(event_type, data, conn, provider, s));
    out.extend(bookings::plan(event_type, data, conn, provider, s, region));
    out
}

/// Runs the step of `w.delivery`.
pub async fn run_step(w: &mut Writer<'_>) -> Result<Outcome, StepError> {
    match w.delivery.step.as_str() {
        calls::ACTIVITY => calls::write_activity(w).await,
        calls::TRANSCRIPT => calls::append_transcript(w).await,
        meetings::NOTE => meetings::write_note(w).await,
        deal_room::URL => deal_room::write_url(w).await,
        deal_room::ACTIVITY => deal_room::write_activity(w).await,
        bookings::RECORDS => bookings::write_records(w).await,
        other => Err(StepError::invalid(
            "step",
            format!("this release does not know the delivery step {other:?}"),
        )),
    }
}

/// The event's data as `T`.
fn event_data<T: DeserializeOwned>(w: &Writer<'_>) -> Result<T, StepError> {
    serde_json::from_value(w.event.data.clone()).map_err(|e| {
        StepError::invalid(
            "data",
            format!("the {} event's data is unreadable: {e}", w.event.event_type),
        )
    })
}

/// The activity key of this delivery: `renkei:{tenant}:{event}:{step}` when that is short
/// ASCII, else a digest of it (the connectors keep keys of at most 200 ASCII characters).
fn activity_key(w: &Writer<'_>) -> String {
    let plain = format!(
        "renkei:{}:{}:{}",
        w.event.tenant.as_str(),
        w.event.id.as_str(),
        w.delivery.step
    );
    if plain.len() <= 120 && plain.bytes().all(|b| b.is_ascii_graphic()) {
        return plain;
    }
    let digest = Sha256::digest(plain.as_bytes());
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("renkei:{hex}")
}

/// The CRM user owning what this delivery writes: the event member's mapped user, else the
/// connecting user (PRODUCT.md 4.3); `None` leaves the provider's default.
async fn owner(w: &Writer<'_>) -> Result<Option<String>, StepError> {
    if let Some(v) = w.delivery.remote_ids.get("owner") {
        return Ok(v.as_str().map(str::to_owned));
    }
    let Some(member) = w.event.member.clone() else {
        return Ok(None);
    };
    let found =
        crate::directory::owner_for(w.vault(), &w.event.tenant, w.provider, &member).await?;
    Ok(found.map(|(id, _)| id))
}

/// `member` in templates: the event's member (`id`, `name`, `email`), or null.
async fn member_context(w: &Writer<'_>) -> Result<Value, StepError> {
    let Some(m) = &w.event.member else {
        return Ok(Value::Null);
    };
    Ok(match w.store.get_member(&w.event.tenant, m).await? {
        Some(m) => json!({"id": m.id.as_str(), "name": m.display_name, "email": m.email.as_str()}),
        None => json!({"id": m.as_str()}),
    })
}

/// Renders the settings template at `field` over `ctx`.
fn render(w: &Writer<'_>, field: &str, src: &str, ctx: &Value) -> Result<String, StepError> {
    renkei_core::template::render(src, ctx, &w.region)
        .map(|s| s.trim().to_owned())
        .map_err(|e| StepError::invalid(field, format!("the template does not render: {e}")))
}

/// The placeholder company of a person without one (a Lead needs a company).
fn missing_company(w: &Writer<'_>) -> String {
    w.settings
        .people
        .missing_company
        .clone()
        .unwrap_or_else(|| {
            if w.locale == "ja" {
                "名前なし"
            } else {
                "Unknown"
            }
            .to_owned()
        })
}

/// Writes `a` unless this delivery already did: after an earlier attempt, the provider is
/// asked first whether that attempt's write landed.
async fn create_activity_once(w: &Writer<'_>, a: &NewActivity) -> Result<RecordRef, StepError> {
    let p = w.provider;
    if w.resumed {
        let found = w
            .call(move |c, s| async move { c.find_activity(p, s.session(), a).await })
            .await?;
        if let Some(r) = found {
            tracing::info!(
                delivery = w.delivery.id,
                "an earlier attempt's activity had landed"
            );
            return Ok(r);
        }
    }
    w.call(move |c, s| async move { c.create_activity(p, s.session(), a).await })
        .await
}

/// The company (account) named `name` or at `domain`: saved under `save_as` by an earlier
/// attempt, found at the provider, or created. Created companies are saved at once.
async fn company_once(
    w: &mut Writer<'_>,
    save_as: &str,
    name: &str,
    domain: Option<&str>,
) -> Result<RecordRef, StepError> {
    if let Some(r) = w.saved(save_as) {
        return Ok(r);
    }
    let p = w.provider;
    let found = w
        .call(move |c, s| async move { c.find_company(p, s.session(), Some(name), domain).await })
        .await?;
    let r = match found {
        Some(r) => r,
        None => {
            let company = NewCompany {
                name: name.to_owned(),
                domain: domain.map(str::to_owned),
                owner_id: None,
                extra: Default::default(),
            };
            let company = &company;
            w.call(move |c, s| async move { c.create_company(p, s.session(), company).await })
                .await?
        }
    };
    w.save(save_as, &r).await?;
    Ok(r)
}

/// The Account a new Contact goes under: its company's, else the one named `default`, reused
/// or created. HubSpot contacts carry the company as a property instead, and Leads have no
/// Account, so those get `None`.
async fn contact_account(
    w: &mut Writer<'_>,
    object: renkei_connectors::people::PersonObject,
    company: Option<&str>,
    default: &str,
) -> Result<Option<RecordRef>, StepError> {
    if object != renkei_connectors::people::PersonObject::Contact || w.provider == Provider::Hubspot
    {
        return Ok(None);
    }
    let name = company.unwrap_or(default);
    Ok(Some(company_once(w, "account", name, None).await?))
}
