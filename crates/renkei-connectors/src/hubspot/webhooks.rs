//! HubSpot's webhook deliveries: checking that one came from HubSpot ([`verify_v3`]), reading
//! its events ([`parse_events`]) and reducing them to the contacts a sync should look at
//! ([`contact_changes`]).
//!
//! A delivery is a `POST` of a JSON array of events
//! (https://developers.hubspot.com/docs/api/webhooks). It is signed with the app's client
//! secret, version 3 (https://developers.hubspot.com/docs/api/webhooks/validating-requests):
//! `X-HubSpot-Signature-v3` is base64(HMAC-SHA256(secret, method + URI + body + timestamp)),
//! where the timestamp is `X-HubSpot-Request-Timestamp` (milliseconds since the epoch) and the
//! URI is the full URL the subscription targets, query included. HubSpot signs the URI with a
//! few percent-escapes decoded (`%3A` → `:`, `%2F` → `/`, `%3F` → `?`, `%40` → `@`, `%21` →
//! `!`, `%24` → `$`, `%27` → `'`, `%28` → `(`, `%29` → `)`, `%2A` → `*`, `%2C` → `,`,
//! `%3B` → `;`); a signature over the URI exactly as configured (which is what the sandbox's
//! emulator signs) is accepted too. Both need the secret, so accepting either costs nothing.
//! A timestamp more than five minutes from now is refused, as the doc asks, so that a captured
//! delivery cannot be replayed later.
//!
//! Nothing here logs a body, a signature or a property value.

use base64::Engine as _;
use hmac::{Hmac, Mac};
use renkei_core::Millis;
use serde::Deserialize;
use serde_json::Value;
use sha2::Sha256;

/// The header with the v3 signature.
pub const SIGNATURE_V3_HEADER: &str = "x-hubspot-signature-v3";
/// The header with the signing time, milliseconds since the epoch.
pub const TIMESTAMP_HEADER: &str = "x-hubspot-request-timestamp";
/// How far the signing time may be from now, either way.
pub const MAX_SKEW_MS: i64 = 5 * 60 * 1000;

/// One event of a delivery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookEvent {
    pub event_id: Option<i64>,
    /// `contact.creation`, `contact.propertyChange`, `contact.deletion`, `contact.merge`,
    /// `contact.restore`, `contact.privacyDeletion`, `company.…`, `deal.…`, …
    pub subscription_type: String,
    pub portal_id: String,
    /// The record the event is about (for an association change, its `fromObjectId`).
    pub object_id: String,
    pub occurred_at: Millis,
    /// The property a `propertyChange` changed. Its new value is not kept: it may be
    /// personal data, and a sync reads the record anyway.
    pub property_name: Option<String>,
    pub attempt_number: u32,
    /// A merge: the records merged into the surviving one, which no longer exist as such.
    pub merged_object_ids: Vec<String>,
    /// A merge: the record that survived it (`primaryObjectId`).
    pub primary_object_id: Option<String>,
    /// A merge: the record the merge created, when it created one (`newObjectId`).
    pub new_object_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    /// The signing time is too far from now, or unreadable (`skew_ms` is then `None`).
    #[error("the request timestamp is {}", match skew_ms { Some(ms) => format!("{} s from now", ms / 1000), None => "unreadable".to_owned() })]
    Stale { skew_ms: Option<i64> },
    #[error("the signature does not match")]
    BadSignature,
    #[error("the payload is not HubSpot's event array: {0}")]
    Malformed(String),
}

impl WebhookError {
    /// A stable code for APIs and logs.
    pub fn code(&self) -> &'static str {
        match self {
            WebhookError::MissingHeader(_) => "signature_missing",
            WebhookError::Stale { .. } => "signature_stale",
            WebhookError::BadSignature => "signature_invalid",
            WebhookError::Malformed(_) => "payload_invalid",
        }
    }
}

/// HubSpot's decoding of the signed URI: these escapes only, either case of hex digit.
fn decode_uri(uri: &str) -> String {
    const DECODED: [(&str, char); 12] = [
        ("3A", ':'),
        ("2F", '/'),
        ("3F", '?'),
        ("40", '@'),
        ("21", '!'),
        ("24", '$'),
        ("27", '\''),
        ("28", '('),
        ("29", ')'),
        ("2A", '*'),
        ("2C", ','),
        ("3B", ';'),
    ];
    let mut out = String::with_capacity(uri.len());
    let mut rest = uri;
    while let Some((before, after)) = rest.split_once('%') {
        out.push_str(before);
        let decoded = after.get(..2).zip(after.get(2..)).and_then(|(hex, tail)| {
            DECODED
                .iter()
                .find(|(code, _)| code.eq_ignore_ascii_case(hex))
                .map(|(_, c)| (*c, tail))
        });
        match decoded {
            Some((c, tail)) => {
                out.push(c);
                rest = tail;
            }
            None => {
                out.push('%');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Whether `expected` is the v3 MAC of the request, compared in constant time.
fn signed(
    secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: &str,
    expected: &[u8],
) -> bool {
    // HMAC takes a key of any length, so this cannot fail; a failure would only refuse.
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.as_bytes()) else {
        return false;
    };
    mac.update(method.as_bytes());
    mac.update(uri.as_bytes());
    mac.update(body);
    mac.update(timestamp.as_bytes());
    mac.verify_slice(expected).is_ok()
}

/// Checks a v3 signature: base64(HMAC-SHA256(client_secret, method + uri + body + timestamp)),
/// with `timestamp` no more than five minutes from `now`, compared in constant time.
///
/// `uri` is the full URL HubSpot was configured to call (`https://host/path?query`), as the
/// receiver reconstructs it; `timestamp` and `signature` are the headers' values, empty when
/// absent.
pub fn verify_v3(
    client_secret: &str,
    method: &str,
    uri: &str,
    body: &[u8],
    timestamp: &str,
    signature: &str,
    now: Millis,
) -> Result<(), WebhookError> {
    let signature = signature.trim();
    let timestamp = timestamp.trim();
    if signature.is_empty() {
        return Err(WebhookError::MissingHeader("X-HubSpot-Signature-v3"));
    }
    if timestamp.is_empty() {
        return Err(WebhookError::MissingHeader("X-HubSpot-Request-Timestamp"));
    }
    let at = timestamp
        .parse::<i64>()
        .map_err(|_| WebhookError::Stale { skew_ms: None })?;
    let skew = now.0.saturating_sub(at);
    if skew.saturating_abs() > MAX_SKEW_MS {
        return Err(WebhookError::Stale {
            skew_ms: Some(skew),
        });
    }
    let expected = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .map_err(|_| WebhookError::BadSignature)?;
    let decoded = decode_uri(uri);
    if signed(client_secret, method, &decoded, body, timestamp, &expected)
        || (decoded != uri && signed(client_secret, method, uri, body, timestamp, &expected))
    {
        Ok(())
    } else {
        Err(WebhookError::BadSignature)
    }
}

/// [`verify_v3`] with the signature and timestamp read from the request's headers.
pub fn verify_v3_request(
    client_secret: &str,
    method: &str,
    uri: &str,
    headers: &http::HeaderMap,
    body: &[u8],
    now: Millis,
) -> Result<(), WebhookError> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
    };
    verify_v3(
        client_secret,
        method,
        uri,
        body,
        header(TIMESTAMP_HEADER),
        header(SIGNATURE_V3_HEADER),
        now,
    )
}

/// An event as HubSpot sends it. Ids come as numbers; strings are read too.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireEvent {
    #[serde(default)]
    event_id: Option<i64>,
    subscription_type: String,
    portal_id: Value,
    #[serde(default)]
    object_id: Option<Value>,
    #[serde(default)]
    from_object_id: Option<Value>,
    occurred_at: Value,
    #[serde(default)]
    property_name: Option<String>,
    #[serde(default)]
    attempt_number: u32,
    #[serde(default)]
    merged_object_ids: Vec<Value>,
    #[serde(default)]
    primary_object_id: Option<Value>,
    #[serde(default)]
    new_object_id: Option<Value>,
}

/// An id as text: a number or a non-empty string.
fn id_text(v: &Value) -> Option<String> {
    match v {
        Value::Number(n) => Some(n.to_string()),
        Value::String(s) if !s.trim().is_empty() => Some(s.trim().to_owned()),
        _ => None,
    }
}

/// The events of a delivery body. The body must be a JSON array of events, each with a
/// `subscriptionType`, a `portalId` and an `occurredAt`; an event about no record at all (no
/// `objectId`, no `fromObjectId`) is skipped rather than failing the delivery.
pub fn parse_events(body: &[u8]) -> Result<Vec<WebhookEvent>, WebhookError> {
    let raw: Vec<Value> = serde_json::from_slice(body)
        .map_err(|e| WebhookError::Malformed(format!("not a JSON array of events: {e}")))?;
    let mut out = Vec::with_capacity(raw.len());
    for (i, v) in raw.into_iter().enumerate() {
        let e: WireEvent = serde_json::from_value(v)
            .map_err(|err| WebhookError::Malformed(format!("event {i}: {err}")))?;
        let portal_id = id_text(&e.portal_id)
            .ok_or_else(|| WebhookError::Malformed(format!("event {i}: portalId is not an id")))?;
        let occurred_at = match &e.occurred_at {
            Value::Number(n) => n.as_i64().map(Millis),
            Value::String(s) => super::mapping::parse_time(s),
            _ => None,
        }
        .ok_or_else(|| {
            WebhookError::Malformed(format!("event {i}: occurredAt is not a timestamp"))
        })?;
        let Some(object_id) = e
            .object_id
            .as_ref()
            .and_then(id_text)
            .or_else(|| e.from_object_id.as_ref().and_then(id_text))
        else {
            tracing::debug!(
                subscription_type = %e.subscription_type,
                "HubSpot webhook event about no record; skipped"
            );
            continue;
        };
        out.push(WebhookEvent {
            event_id: e.event_id,
            subscription_type: e.subscription_type,
            portal_id,
            object_id,
            occurred_at,
            property_name: e.property_name.filter(|p| !p.is_empty()),
            attempt_number: e.attempt_number,
            merged_object_ids: e.merged_object_ids.iter().filter_map(id_text).collect(),
            primary_object_id: e.primary_object_id.as_ref().and_then(id_text),
            new_object_id: e.new_object_id.as_ref().and_then(id_text),
        });
    }
    Ok(out)
}

/// What a delivery says about contacts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ContactChanges {
    /// The portals the contact events came from, in order of first appearance.
    pub portal_ids: Vec<String>,
    /// Contacts that exist after the events and may have changed: read them again.
    pub changed: Vec<String>,
    /// Contacts that are gone after the events (deleted, privacy-deleted, merged away).
    pub deleted: Vec<String>,
}

/// The object ids of the contact events worth a sync (creation, propertyChange, deletion,
/// privacyDeletion, merge, restore), deduplicated. The events are taken in `occurredAt` order
/// and the last word on an id wins, so a contact deleted and then restored in one delivery is
/// `changed`, and one changed and then deleted is `deleted`; each id is in one list only.
pub fn contact_changes(events: &[WebhookEvent]) -> ContactChanges {
    #[derive(Clone, Copy, PartialEq)]
    enum State {
        Changed,
        Deleted,
    }
    let mut sorted: Vec<&WebhookEvent> = events
        .iter()
        .filter(|e| e.subscription_type.starts_with("contact."))
        .collect();
    // A stable sort keeps the delivery's order for events of the same instant.
    sorted.sort_by_key(|e| e.occurred_at);
    let mut order: Vec<String> = Vec::new();
    let mut state: std::collections::HashMap<String, State> = std::collections::HashMap::new();
    let mut portal_ids: Vec<String> = Vec::new();
    let mut set = |id: &str, s: State| {
        if state.insert(id.to_owned(), s).is_none() {
            order.push(id.to_owned());
        }
    };
    for e in sorted {
        let kind = e
            .subscription_type
            .split_once('.')
            .map(|(_, k)| k)
            .unwrap_or_default();
        let relevant = match kind {
            "creation" | "propertyChange" | "restore" => {
                set(&e.object_id, State::Changed);
                true
            }
            "deletion" | "privacyDeletion" => {
                set(&e.object_id, State::Deleted);
                true
            }
            "merge" => {
                let survivors: Vec<&str> = [
                    Some(e.object_id.as_str()),
                    e.primary_object_id.as_deref(),
                    e.new_object_id.as_deref(),
                ]
                .into_iter()
                .flatten()
                .collect();
                for id in &e.merged_object_ids {
                    if !survivors.contains(&id.as_str()) {
                        set(id, State::Deleted);
                    }
                }
                for id in survivors {
                    set(id, State::Changed);
                }
                true
            }
            _ => false,
        };
        if relevant && !portal_ids.contains(&e.portal_id) {
            portal_ids.push(e.portal_id.clone());
        }
    }
    let mut out = ContactChanges {
        portal_ids,
        ..Default::default()
    };
    for id in order {
        match state.get(&id) {
            Some(State::Changed) => out.changed.push(id),
            Some(State::Deleted) => out.deleted.push(id),
            None => {}
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uri_decoding_is_hubspots_list_only() {
        let cases = [
            ("https://a.example/hook", "https://a.example/hook"),
            (
                "https://a.example/h?x=a%3Ab%2Fc%3fd%40e",
                "https://a.example/h?x=a:b/c?d@e",
            ),
            (
                "https://a.example/h?%21%24%27%28%29%2A%2C%3B",
                "https://a.example/h?!$'()*,;",
            ),
            // Not in HubSpot's list: left alone.
            (
                "https://a.example/h?q=a%20b%26c",
                "https://a.example/h?q=a%20b%26c",
            ),
            ("https://a.example/h?q=100%", "https://a.example/h?q=100%"),
            ("https://a.example/h?q=%2", "https://a.example/h?q=%2"),
            ("https://a.example/日本?q=%3A", "https://a.example/日本?q=:"),
        ];
        for (raw, want) in cases {
            assert_eq!(decode_uri(raw), want, "{raw}");
        }
    }

    #[test]
    fn codes_are_stable() {
        let cases = [
            (WebhookError::MissingHeader("X"), "signature_missing"),
            (WebhookError::Stale { skew_ms: None }, "signature_stale"),
            (WebhookError::BadSignature, "signature_invalid"),
            (WebhookError::Malformed("x".into()), "payload_invalid"),
        ];
        for (e, code) in cases {
            assert_eq!(e.code(), code);
        }
    }
}
