//! Webhook delivery: when `settings.webhook_url` is set, CRM writes made through the API
//! (creation, property change, deletion of contacts, companies and deals) are POSTed there as
//! HubSpot does ("Webhooks API" docs): a JSON array of events with `eventId`,
//! `subscriptionId`, `portalId`, `appId`, `occurredAt`, `subscriptionType`
//! (`contact.creation`, `contact.propertyChange`, `contact.deletion`, `company.…`, `deal.…`),
//! `attemptNumber`, `objectId`, `changeSource`, plus `propertyName`/`propertyValue` for a
//! property change and `changeFlag` for creation and deletion.
//!
//! Each request is signed twice, as HubSpot signs them ("Validating requests from HubSpot"):
//! `X-HubSpot-Signature-v3` is base64(HMAC-SHA256(client secret, method + URI + body +
//! timestamp)) with the timestamp (milliseconds) in `X-HubSpot-Request-Timestamp`, and the
//! legacy `X-HubSpot-Signature` (`X-HubSpot-Signature-Version: v1`) is hex(SHA-256(client
//! secret + body)). One API request's events go out as one batch (HubSpot batches up to 100);
//! a delivery that fails (no answer or a non-2xx status) is retried with `attemptNumber`
//! increased, up to `webhook_max_attempts` times, with short delays (HubSpot retries for 24
//! hours; the sandbox compresses that).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::store::ObjType;
use super::{APP_ID, CLIENT_SECRET, Hubspot};
use crate::env::lock;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventKind {
    Creation,
    PropertyChange,
    Deletion,
}

/// One change to announce.
#[derive(Debug, Clone)]
pub struct Event {
    pub ty: ObjType,
    pub kind: EventKind,
    pub object_id: u64,
    pub property: Option<(String, String)>,
}

impl Event {
    pub fn new(
        ty: ObjType,
        kind: EventKind,
        object_id: u64,
        property: Option<(String, String)>,
    ) -> Event {
        Event {
            ty,
            kind,
            object_id,
            property,
        }
    }
}

/// Numbers the events and sends them.
#[derive(Default)]
pub struct Outbox {
    next_event: AtomicU64,
}

/// The subscription ids the sandbox's app is subscribed with (one per subscription type).
fn subscription_id(ty: ObjType, kind: EventKind) -> Option<u64> {
    let base = match ty {
        ObjType::Contacts => 1_100_000,
        ObjType::Companies => 1_200_000,
        ObjType::Deals => 1_300_000,
        _ => return None,
    };
    Some(
        base + match kind {
            EventKind::Creation => 1,
            EventKind::PropertyChange => 2,
            EventKind::Deletion => 3,
        },
    )
}

/// `X-HubSpot-Signature-v3` for a request.
pub fn signature_v3(secret: &str, method: &str, uri: &str, body: &str, timestamp: &str) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body.as_bytes());
    mac.update(timestamp.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The legacy v1 `X-HubSpot-Signature`: hex SHA-256 of secret + body.
pub fn signature_v1(secret: &str, body: &str) -> String {
    let digest = Sha256::digest(format!("{secret}{body}").as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

impl Outbox {
    pub fn clear(&self) {
        self.next_event.store(0, Ordering::Relaxed);
    }

    /// Sends `events` of portal `hub_id` in the background, if a target is configured.
    pub fn dispatch(&self, hs: &Hubspot, hub_id: u64, events: Vec<Event>) {
        let (url, attempts) = {
            let s = lock(&hs.settings);
            match &s.webhook_url {
                Some(u) => (u.clone(), s.webhook_max_attempts),
                None => return,
            }
        };
        let now = hs.env.clock.now_ms();
        let payload: Vec<Value> = events
            .into_iter()
            .filter_map(|e| {
                let sub = subscription_id(e.ty, e.kind)?;
                let kind = match e.kind {
                    EventKind::Creation => "creation",
                    EventKind::PropertyChange => "propertyChange",
                    EventKind::Deletion => "deletion",
                };
                let mut v = json!({
                    "eventId": self.next_event.fetch_add(1, Ordering::Relaxed) + 1,
                    "subscriptionId": sub,
                    "portalId": hub_id,
                    "appId": APP_ID,
                    "occurredAt": now,
                    "subscriptionType": format!("{}.{kind}", e.ty.singular()),
                    "attemptNumber": 0,
                    "objectId": e.object_id,
                    "changeSource": "API",
                });
                match (e.kind, e.property) {
                    (EventKind::PropertyChange, Some((name, value))) => {
                        v["propertyName"] = json!(name);
                        v["propertyValue"] = json!(value);
                    }
                    (EventKind::Creation, _) => v["changeFlag"] = json!("NEW"),
                    (EventKind::Deletion, _) => v["changeFlag"] = json!("DELETED"),
                    _ => {}
                }
                Some(v)
            })
            .collect();
        if payload.is_empty() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let clock_offset = now - system_ms();
        runtime.spawn(deliver(url, payload, attempts, clock_offset));
    }
}

fn system_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

async fn deliver(url: String, mut payload: Vec<Value>, attempts: u32, clock_offset: i64) {
    let client = reqwest::Client::new();
    for chunk_start in (0..payload.len()).step_by(100) {
        let end = (chunk_start + 100).min(payload.len());
        for attempt in 0..attempts {
            let chunk: Vec<Value> = payload[chunk_start..end]
                .iter_mut()
                .map(|e| {
                    e["attemptNumber"] = json!(attempt);
                    e.clone()
                })
                .collect();
            let body = Value::Array(chunk).to_string();
            let timestamp = (system_ms() + clock_offset).to_string();
            let sent = client
                .post(&url)
                .header("content-type", "application/json")
                .header(
                    "X-HubSpot-Signature-v3",
                    signature_v3(CLIENT_SECRET, "POST", &url, &body, &timestamp),
                )
                .header("X-HubSpot-Request-Timestamp", &timestamp)
                .header("X-HubSpot-Signature", signature_v1(CLIENT_SECRET, &body))
                .header("X-HubSpot-Signature-Version", "v1")
                .body(body)
                .timeout(Duration::from_secs(5))
                .send()
                .await;
            match sent {
                Ok(r) if r.status().is_success() => break,
                Ok(r) => tracing::debug!(status = %r.status(), %url, "webhook delivery refused"),
                Err(e) => tracing::debug!(error = %e, %url, "webhook delivery failed"),
            }
            if attempt + 1 < attempts {
                tokio::time::sleep(Duration::from_millis(200 * (1 << attempt))).await;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v1_signature_matches_hubspots_documented_example() {
        // "v1 request validation" (developers.hubspot.com/docs/faq/v1-request-validation).
        let body = r#"[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,"changeSource":"CRM","changeFlag":"NEW","appId":54321}]"#;
        assert_eq!(
            signature_v1("yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy", body),
            "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
        );
    }
}
