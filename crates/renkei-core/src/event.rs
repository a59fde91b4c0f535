//! Host-app events: the envelope and the typed data of each event type (PRODUCT.md 5.2).
//!
//! The API accepts events as JSON and must answer every bad item with the exact place and rule
//! it broke. Parsing therefore goes through `serde_path_to_error`, every struct denies unknown
//! fields (a typo such as `duration_second` is an error, not silently ignored data), and the
//! few rules serde cannot express (an end after its start, at least one change) are checked
//! right after. A parsed [`Event`] is canonical: serialising its data again gives the form we
//! store.

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::ToSchema;

use crate::{EmailAddress, EventId, MemberId, ProviderName};

/// The largest number of events one request may carry.
pub const MAX_BATCH: usize = 1000;

macro_rules! event_types {
    ($($variant:ident => $name:literal, $data:ident;)*) => {
        /// The kinds of event renkei understands.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum EventType { $($variant,)* }

        impl EventType {
            pub const ALL: &'static [EventType] = &[$(EventType::$variant,)*];

            pub fn as_str(self) -> &'static str {
                match self { $(EventType::$variant => $name,)* }
            }

            pub fn parse(s: &str) -> Option<Self> {
                match s { $($name => Some(EventType::$variant),)* _ => None }
            }
        }

        /// The typed `data` of an event.
        #[derive(Debug, Clone, PartialEq, Serialize)]
        #[serde(untagged)]
        pub enum EventData { $($variant($data),)* }

        impl EventData {
            pub fn event_type(&self) -> EventType {
                match self { $(EventData::$variant(_) => EventType::$variant,)* }
            }

            fn parse(kind: EventType, data: Value) -> Result<Self, EventError> {
                match kind {
                    $(EventType::$variant => {
                        let d: $data = serde_path_to_error::deserialize(data)
                            .map_err(|e| EventError::from_serde("data", e))?;
                        d.check().map_err(|(path, msg)| EventError::invalid(format!("data.{path}"), msg))?;
                        Ok(EventData::$variant(d))
                    })*
                }
            }
        }
    };
}

event_types! {
    CallEnded => "call.ended", CallEnded;
    CallTranscribed => "call.transcribed", CallTranscribed;
    RoomLinked => "room.linked", RoomLinked;
    ChatMessageSent => "chat.message_sent", ChatMessageSent;
    TaskCompleted => "task.completed", TaskCompleted;
    ContentUpdated => "content.updated", ContentUpdated;
    MeetingReportReady => "meeting.report_ready", MeetingReportReady;
    BookingCompleted => "booking.completed", BookingCompleted;
    CustomerUpdated => "customer.updated", CustomerUpdated;
}

impl std::fmt::Display for EventType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A validated event.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    pub id: EventId,
    pub occurred_at: Timestamp,
    pub member: Option<MemberId>,
    pub data: EventData,
}

impl Event {
    pub fn event_type(&self) -> EventType {
        self.data.event_type()
    }

    /// The data in its canonical JSON form.
    pub fn data_json(&self) -> Value {
        // Serialising our own plain structs cannot fail.
        serde_json::to_value(&self.data).unwrap_or(Value::Null)
    }
}

/// What is wrong with one event, and where.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub struct EventError {
    /// A stable snake_case code: `invalid_event`, `unknown_event_type`, `duplicate_event_id`.
    pub code: &'static str,
    /// Where in the event the problem is, e.g. `data.duration_seconds`; empty for the whole item.
    pub path: String,
    pub message: String,
}

impl EventError {
    fn invalid(path: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: "invalid_event",
            path: path.into(),
            message: message.into(),
        }
    }

    fn from_serde(prefix: &str, e: serde_path_to_error::Error<serde_json::Error>) -> Self {
        let inner = e.path().to_string();
        let path = match (prefix, inner.as_str()) {
            (p, ".") => p.to_owned(),
            ("", i) => i.to_owned(),
            (p, i) if i.starts_with('[') => format!("{p}{i}"),
            (p, i) => format!("{p}.{i}"),
        };
        Self::invalid(path, e.into_inner().to_string())
    }
}

/// Why a request body of events was refused. A batch is all-or-nothing: every bad item is
/// listed, and nothing is stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BatchError {
    /// The body is neither an event object nor an array of them.
    NotAnEventOrArray,
    Empty,
    TooLarge {
        len: usize,
    },
    /// `index` is `None` when the body was a single object.
    Items(Vec<(Option<usize>, EventError)>),
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEnvelope {
    id: EventId,
    #[serde(rename = "type")]
    kind: String,
    occurred_at: Timestamp,
    #[serde(default)]
    member: Option<MemberId>,
    data: Value,
}

/// Parses and validates one event object.
pub fn parse_event(value: Value) -> Result<Event, EventError> {
    if !value.is_object() {
        return Err(EventError::invalid(
            "",
            format!("expected an event object, found {}", kind_of(&value)),
        ));
    }
    let raw: RawEnvelope =
        serde_path_to_error::deserialize(value).map_err(|e| EventError::from_serde("", e))?;
    let Some(kind) = EventType::parse(&raw.kind) else {
        let known: Vec<&str> = EventType::ALL.iter().map(|t| t.as_str()).collect();
        return Err(EventError {
            code: "unknown_event_type",
            path: "type".into(),
            message: format!(
                "unknown event type {:?}; known types: {}",
                raw.kind,
                known.join(", ")
            ),
        });
    };
    if !raw.data.is_object() {
        return Err(EventError::invalid(
            "data",
            format!("expected an object, found {}", kind_of(&raw.data)),
        ));
    }
    let data = EventData::parse(kind, raw.data)?;
    Ok(Event {
        id: raw.id,
        occurred_at: raw.occurred_at,
        member: raw.member,
        data,
    })
}

/// Parses a request body holding one event or an array of events.
pub fn parse_batch(value: Value) -> Result<Vec<Event>, BatchError> {
    match value {
        Value::Object(_) => parse_event(value)
            .map(|e| vec![e])
            .map_err(|e| BatchError::Items(vec![(None, e)])),
        Value::Array(items) => {
            if items.is_empty() {
                return Err(BatchError::Empty);
            }
            if items.len() > MAX_BATCH {
                return Err(BatchError::TooLarge { len: items.len() });
            }
            let mut events = Vec::with_capacity(items.len());
            let mut errors = Vec::new();
            let mut seen: std::collections::HashMap<EventId, usize> = Default::default();
            for (i, item) in items.into_iter().enumerate() {
                match parse_event(item) {
                    Ok(ev) => {
                        if let Some(first) = seen.insert(ev.id.clone(), i) {
                            errors.push((
                                Some(i),
                                EventError {
                                    code: "duplicate_event_id",
                                    path: "id".into(),
                                    message: format!("event id {:?} already appears at index {first} of this batch", ev.id.as_str()),
                                },
                            ));
                        }
                        events.push(ev);
                    }
                    Err(e) => errors.push((Some(i), e)),
                }
            }
            if errors.is_empty() {
                Ok(events)
            } else {
                Err(BatchError::Items(errors))
            }
        }
        _ => Err(BatchError::NotAnEventOrArray),
    }
}

fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// Rules beyond the shape, checked after deserialising: `Err((path, message))`.
trait Check {
    fn check(&self) -> Result<(), (String, String)> {
        Ok(())
    }
}

/// A non-blank string, such as an id the host app assigned.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String)]
pub struct Text(String);

impl Text {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        if s.trim().is_empty() {
            return Err(serde::de::Error::custom("must not be empty"));
        }
        Ok(Self(s))
    }
}

/// An absolute `http` or `https` URL.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
#[serde(transparent)]
#[schema(value_type = String, pattern = "^https?://")]
pub struct HttpUrl(String);

impl HttpUrl {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl<'de> Deserialize<'de> for HttpUrl {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let rest = s
            .strip_prefix("https://")
            .or_else(|| s.strip_prefix("http://"));
        match rest {
            Some(r)
                if !r.is_empty() && !r.starts_with('/') && !s.chars().any(char::is_whitespace) =>
            {
                Ok(Self(s))
            }
            _ => Err(serde::de::Error::custom(format!(
                "expected an absolute http(s) URL, found {s:?}"
            ))),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CallDirection {
    Inbound,
    Outbound,
}

/// `call.ended`: a phone call finished (PRODUCT.md 4.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallEnded {
    pub call_id: Text,
    pub direction: CallDirection,
    /// The customer's number in any format (`03-1234-5678`, `+81 3 1234 5678`, full-width).
    pub customer_phone: Text,
    pub duration_seconds: u32,
    pub started_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub customer: Option<CallCustomer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recording_url: Option<HttpUrl>,
}
impl Check for CallEnded {}

/// The host app's customer on a call, when it knows one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallCustomer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
}

/// `call.transcribed`: a call's transcript is ready.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CallTranscribed {
    pub call_id: Text,
    pub text: String,
}
impl Check for CallTranscribed {}

/// `room.linked`: a deal room was linked to a CRM deal (PRODUCT.md 4.1).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RoomLinked {
    pub room_id: Text,
    pub room_url: HttpUrl,
    #[schema(value_type = String, example = "hubspot")]
    pub provider: ProviderName,
    pub deal_id: Text,
}
impl Check for RoomLinked {}

/// `chat.message_sent`: a chat message was sent in a room.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ChatMessageSent {
    pub room_id: Text,
    pub message_id: Text,
    pub text: String,
    pub sent_at: Timestamp,
}
impl Check for ChatMessageSent {}

/// `task.completed`: a room task was completed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TaskCompleted {
    pub room_id: Text,
    pub task_id: Text,
    pub title: String,
    pub completed_at: Timestamp,
}
impl Check for TaskCompleted {}

/// `content.updated`: a room's text content changed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ContentUpdated {
    pub room_id: Text,
    pub content_id: Text,
    pub title: String,
    pub body: String,
}
impl Check for ContentUpdated {}

/// `meeting.report_ready`: a sales meeting's report is written (PRODUCT.md 4.4).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingReportReady {
    pub meeting_id: Text,
    pub title: String,
    pub body: String,
    pub held_at: Timestamp,
    pub customer: MeetingCustomer,
}
impl Check for MeetingReportReady {}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MeetingCustomer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<Text>,
    pub name: Text,
    /// May be empty: an empty company becomes the tenant's placeholder (PRODUCT.md 4.4).
    pub company: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Text>,
}

/// `booking.completed`: a guest booked a slot (PRODUCT.md 4.5).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BookingCompleted {
    pub booking_id: Text,
    pub calendar_id: Text,
    pub starts_at: Timestamp,
    pub ends_at: Timestamp,
    pub guest: Guest,
    /// Booking form answers by question key: strings, numbers, booleans, null, or lists of
    /// strings for multiple choice.
    #[serde(default)]
    #[schema(value_type = Object)]
    pub answers: BTreeMap<String, Value>,
}

impl Check for BookingCompleted {
    fn check(&self) -> Result<(), (String, String)> {
        if self.ends_at < self.starts_at {
            return Err((
                "ends_at".into(),
                format!("{} is before starts_at {}", self.ends_at, self.starts_at),
            ));
        }
        for (key, v) in &self.answers {
            let ok = match v {
                Value::Array(items) => items.iter().all(Value::is_string),
                Value::Object(_) => false,
                _ => true,
            };
            if !ok {
                return Err((
                    format!("answers.{key}"),
                    "expected a string, number, boolean, null or a list of strings".into(),
                ));
            }
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Guest {
    pub name: Text,
    pub email: EmailAddress,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub company: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<Text>,
}

/// `customer.updated`: the host app changed a customer's two-way fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerUpdated {
    pub customer_id: Text,
    pub changes: CustomerChanges,
}

impl Check for CustomerUpdated {
    fn check(&self) -> Result<(), (String, String)> {
        let c = &self.changes;
        if c.name.is_none() && c.phone.is_none() && c.email.is_none() && c.description.is_none() {
            return Err((
                "changes".into(),
                "at least one of name, phone, email or description must be given".into(),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CustomerChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<EmailAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn call(id: &str) -> Value {
        json!({
            "id": id, "type": "call.ended", "occurred_at": "2026-11-21T10:00:00+09:00", "member": "m_1",
            "data": {"call_id": "c1", "direction": "inbound", "customer_phone": "03-1234-5678",
                     "duration_seconds": 65, "started_at": "2026-11-21T09:58:55+09:00"}
        })
    }

    #[test]
    fn every_type_parses_a_minimal_example() {
        let examples = [
            (
                "call.ended",
                json!({"call_id": "c", "direction": "outbound", "customer_phone": "+81 3 1234 5678", "duration_seconds": 0, "started_at": "2026-01-01T00:00:00Z", "customer": {"name": "山田 太郎", "email": "Taro@Example.jp"}, "recording_url": "https://rec.example/1"}),
            ),
            (
                "call.transcribed",
                json!({"call_id": "c", "text": "もしもし"}),
            ),
            (
                "room.linked",
                json!({"room_id": "r", "room_url": "https://app.example/r/1", "provider": "hubspot", "deal_id": "123"}),
            ),
            (
                "chat.message_sent",
                json!({"room_id": "r", "message_id": "m", "text": "hi", "sent_at": "2026-01-01T00:00:00Z"}),
            ),
            (
                "task.completed",
                json!({"room_id": "r", "task_id": "t", "title": "send quote", "completed_at": "2026-01-01T00:00:00Z"}),
            ),
            (
                "content.updated",
                json!({"room_id": "r", "content_id": "c", "title": "議事録", "body": "..."}),
            ),
            (
                "meeting.report_ready",
                json!({"meeting_id": "m", "title": "t", "body": "b", "held_at": "2026-01-01T00:00:00Z", "customer": {"name": "佐藤", "company": ""}}),
            ),
            (
                "booking.completed",
                json!({"booking_id": "b", "calendar_id": "cal", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-01T01:00:00Z", "guest": {"name": "Ann", "email": "ann@example.com"}, "answers": {"size": 10, "topics": ["a", "b"]}}),
            ),
            (
                "customer.updated",
                json!({"customer_id": "c", "changes": {"phone": "090-1234-5678"}}),
            ),
        ];
        assert_eq!(examples.len(), EventType::ALL.len());
        for (kind, data) in examples {
            let ev = parse_event(json!({"id": "e", "type": kind, "occurred_at": "2026-01-01T00:00:00Z", "data": data}))
                .unwrap_or_else(|e| panic!("{kind}: {e}"));
            assert_eq!(ev.event_type().as_str(), kind);
            // Canonical data parses again to the same value.
            let again = parse_event(json!({"id": "e", "type": kind, "occurred_at": "2026-01-01T00:00:00Z", "data": ev.data_json()})).unwrap();
            assert_eq!(again, ev);
        }
    }

    #[test]
    fn canonical_data_normalises_times_and_emails() {
        let mut v = call("e1");
        v["data"]["customer"] = json!({"email": " Taro@Example.JP"});
        let ev = parse_event(v).unwrap();
        assert_eq!(ev.data_json()["started_at"], "2026-11-21T00:58:55Z");
        assert_eq!(ev.data_json()["customer"]["email"], "taro@example.jp");
        assert_eq!(ev.member.unwrap().as_str(), "m_1");
    }

    fn err(v: Value) -> EventError {
        parse_event(v).unwrap_err()
    }

    #[test]
    fn errors_name_the_path_and_rule() {
        let cases: Vec<(Value, &str, &str, &str)> = vec![
            (
                json!([]),
                "invalid_event",
                "",
                "expected an event object, found an array",
            ),
            (
                {
                    let mut v = call("e");
                    v.as_object_mut().unwrap().remove("data");
                    v
                },
                "invalid_event",
                "",
                "missing field `data`",
            ),
            (
                {
                    let mut v = call("e");
                    v["type"] = json!("call.end");
                    v
                },
                "unknown_event_type",
                "type",
                "unknown event type \"call.end\"",
            ),
            (
                {
                    let mut v = call("e");
                    v["data"]["duration_seconds"] = json!("65");
                    v
                },
                "invalid_event",
                "data.duration_seconds",
                "invalid type: string \"65\", expected u32",
            ),
            (
                {
                    let mut v = call("e");
                    v["data"]["duration_seconds"] = json!(-1);
                    v
                },
                "invalid_event",
                "data.duration_seconds",
                "invalid value: integer `-1`",
            ),
            (
                {
                    let mut v = call("e");
                    v["data"]["direction"] = json!("sideways");
                    v
                },
                "invalid_event",
                "data.direction",
                "unknown variant `sideways`",
            ),
            (
                {
                    let mut v = call("e");
                    v["data"]["duration_second"] = json!(1);
                    v
                },
                "invalid_event",
                "data.duration_second",
                "unknown field `duration_second`",
            ),
            (
                {
                    let mut v = call("e");
                    v["data"].as_object_mut().unwrap().remove("call_id");
                    v
                },
                "invalid_event",
                "data",
                "missing field `call_id`",
            ),
            (
                {
                    let mut v = call("e");
                    v["data"]["call_id"] = json!("  ");
                    v
                },
                "invalid_event",
                "data.call_id",
                "must not be empty",
            ),
            (
                {
                    let mut v = call("e");
                    v["data"]["customer"] = json!({"email": "nope"});
                    v
                },
                "invalid_event",
                "data.customer.email",
                "has no '@'",
            ),
            (
                {
                    let mut v = call("e");
                    v["data"]["recording_url"] = json!("ftp://x");
                    v
                },
                "invalid_event",
                "data.recording_url",
                "expected an absolute http(s) URL",
            ),
            (
                {
                    let mut v = call("e");
                    v["occurred_at"] = json!("yesterday");
                    v
                },
                "invalid_event",
                "occurred_at",
                "",
            ),
            (
                {
                    let mut v = call("e");
                    v["id"] = json!("");
                    v
                },
                "invalid_event",
                "id",
                "event id must not be empty",
            ),
            (
                {
                    let mut v = call("e");
                    v["id"] = json!(12);
                    v
                },
                "invalid_event",
                "id",
                "invalid type: integer `12`",
            ),
            (
                {
                    let mut v = call("e");
                    v["member"] = json!("a b");
                    v
                },
                "invalid_event",
                "member",
                "member id may contain only",
            ),
            (
                {
                    let mut v = call("e");
                    v["extra"] = json!(1);
                    v
                },
                "invalid_event",
                "extra",
                "unknown field `extra`",
            ),
            (
                {
                    let mut v = call("e");
                    v["data"] = json!("x");
                    v
                },
                "invalid_event",
                "data",
                "expected an object, found a string",
            ),
            (
                json!({"id": "e", "type": "room.linked", "occurred_at": "2026-01-01T00:00:00Z", "data": {"room_id": "r", "room_url": "https://x.example/r", "provider": "hubspt", "deal_id": "1"}}),
                "invalid_event",
                "data.provider",
                "unknown provider \"hubspt\"",
            ),
            (
                json!({"id": "e", "type": "booking.completed", "occurred_at": "2026-01-01T00:00:00Z", "data": {"booking_id": "b", "calendar_id": "c", "starts_at": "2026-01-01T01:00:00Z", "ends_at": "2026-01-01T00:00:00Z", "guest": {"name": "A", "email": "a@example.com"}}}),
                "invalid_event",
                "data.ends_at",
                "is before starts_at",
            ),
            (
                json!({"id": "e", "type": "booking.completed", "occurred_at": "2026-01-01T00:00:00Z", "data": {"booking_id": "b", "calendar_id": "c", "starts_at": "2026-01-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z", "guest": {"name": "A", "email": "a@example.com"}, "answers": {"q": {"nested": 1}}}}),
                "invalid_event",
                "data.answers.q",
                "expected a string",
            ),
            (
                json!({"id": "e", "type": "customer.updated", "occurred_at": "2026-01-01T00:00:00Z", "data": {"customer_id": "c", "changes": {}}}),
                "invalid_event",
                "data.changes",
                "at least one of",
            ),
            (
                json!({"id": "e", "type": "meeting.report_ready", "occurred_at": "2026-01-01T00:00:00Z", "data": {"meeting_id": "m", "title": "t", "body": "b", "held_at": "2026-01-01T00:00:00Z", "customer": {"company": "x"}}}),
                "invalid_event",
                "data.customer",
                "missing field `name`",
            ),
        ];
        for (i, (input, code, path, msg)) in cases.into_iter().enumerate() {
            let e = err(input);
            assert_eq!((e.code, e.path.as_str()), (code, path), "case {i}: {e}");
            assert!(
                e.message.contains(msg),
                "case {i}: {:?} does not contain {msg:?}",
                e.message
            );
        }
    }

    #[test]
    fn batches_are_all_or_nothing() {
        assert_eq!(parse_batch(json!("x")), Err(BatchError::NotAnEventOrArray));
        assert_eq!(parse_batch(json!([])), Err(BatchError::Empty));
        let too_many: Vec<Value> = (0..=MAX_BATCH).map(|i| call(&format!("e{i}"))).collect();
        assert_eq!(
            parse_batch(Value::Array(too_many)),
            Err(BatchError::TooLarge { len: MAX_BATCH + 1 })
        );
        assert_eq!(parse_batch(json!([call("a"), call("b")])).unwrap().len(), 2);

        let mut bad = call("c");
        bad["type"] = json!("nope");
        match parse_batch(json!([call("a"), bad, call("a")])) {
            Err(BatchError::Items(items)) => {
                let summary: Vec<(Option<usize>, &str)> =
                    items.iter().map(|(i, e)| (*i, e.code)).collect();
                assert_eq!(
                    summary,
                    vec![
                        (Some(1), "unknown_event_type"),
                        (Some(2), "duplicate_event_id")
                    ]
                );
                assert!(items[1].1.message.contains("already appears at index 0"));
            }
            other => panic!("{other:?}"),
        }
        match parse_batch(json!({"id": "x"})) {
            Err(BatchError::Items(items)) => assert_eq!(items[0].0, None),
            other => panic!("{other:?}"),
        }
    }
}
