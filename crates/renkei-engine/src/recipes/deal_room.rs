//! The deal room (PRODUCT.md 4.1, the Mazrica DSR seed `000_…`): a room linked to a HubSpot
//! deal or a Salesforce Opportunity gets its URL written to the field the admin picked, and
//! the room's chat messages, completed tasks and updated text contents become activities on
//! that deal.
//!
//! **The link.** `room.linked` (step [`URL`]) links `room:{room_id}` to the deal on the
//! connection whose provider the event names, replacing an earlier link (a room relinked to
//! another deal), and writes the room URL to `deal_room.url_field` when one is set. Every
//! delivery of a room shares the FIFO key `{conn}:room:{room_id}`, so an activity never
//! overtakes the `room.linked` posted before it; an activity of a room without a link is
//! skipped (`room_not_linked`).
//!
//! **Whose activity.** HubSpot activity is the member's own (the seed: 「Mazrica DSRの個人の活動
//! データが、OAuth認証によって紐づけられたHubSpot側のユーザーアクテビティーとして連携されます」):
//! it is written with the acting member's personal HubSpot connection and owned by the
//! member's HubSpot owner. An event without a member is skipped (`no_member`), one whose member
//! has not connected personally is skipped (`member_not_connected`) and the tenant health
//! names that member with 4.1's warning (`crate::health`). Salesforce activity is written with
//! the tenant connection (the seed's Salesforce section has no personal step), owned by the
//! member's Salesforce user, else the connecting user.
//!
//! **What kind.** HubSpot writes the engagement the settings name per event (defaults: chat →
//! email, task → completed task, content → meeting, 4.1's table). Salesforce writes everything
//! to the Opportunity's activity history (`WhatId`); its settings only say whether an event is
//! written, and the kind follows the event as in 4.1's table: a chat message is an Email Task,
//! a completed task a completed Task, a text content an Event.
//!
//! **Once.** The URL write is remembered on the delivery (`url_written`), the activity goes
//! through `create_activity_once` with the delivery's activity key and is saved as it lands.

use renkei_connectors::Provider;
use renkei_connectors::records::{ActivityKind, NewActivity, RecordRef};
use renkei_core::Millis;
use renkei_core::event::{ChatMessageSent, ContentUpdated, RoomLinked, TaskCompleted};
use renkei_store::connections::ConnectionKey;
use serde_json::{Map, Value};

use super::{Planned, activity_key, event_data, owner};
use crate::deliver::{Outcome, StepError, Writer};
use crate::settings::{ConnectionSettings, RoomActivity, RoomEvent};

/// The step writing a room's link (and its URL to the deal).
pub const URL: &str = "room_url";
/// The step writing a room event as an activity on the linked deal.
pub const ACTIVITY: &str = "room_activity";

/// The longest subject made from a chat message's first line, in characters.
const CHAT_SUBJECT_MAX: usize = 60;

/// The deal object of `provider`, or `None` where the deal room does not write.
fn deal_object(provider: Provider) -> Option<&'static str> {
    match provider {
        Provider::Hubspot => Some("deals"),
        Provider::Salesforce => Some("Opportunity"),
        Provider::ZohoCrm => None,
    }
}

/// The room event of an event type.
fn room_event(event_type: &str) -> Option<RoomEvent> {
    match event_type {
        "chat.message_sent" => Some(RoomEvent::ChatMessageSent),
        "task.completed" => Some(RoomEvent::TaskCompleted),
        "content.updated" => Some(RoomEvent::ContentUpdated),
        _ => None,
    }
}

/// What the settings write for `e`; a key removed from the settings writes nothing.
fn configured(s: &ConnectionSettings, e: RoomEvent) -> RoomActivity {
    s.deal_room
        .activities
        .get(&e)
        .copied()
        .unwrap_or(RoomActivity::None)
}

/// The deliveries a deal-room event causes on connection `conn`.
pub fn plan(
    event_type: &str,
    data: &Value,
    conn: i64,
    provider: Provider,
    s: &ConnectionSettings,
) -> Option<Planned> {
    if !s.deal_room.enabled {
        return None;
    }
    // Zoho CRM has no deal room; its settings refuse enabling one, this is the second guard.
    deal_object(provider)?;
    let room_id = data.get("room_id").and_then(Value::as_str)?.to_owned();
    let planned = |step| {
        Some(Planned::new(
            step,
            format!("room:{room_id}"),
            format!("{conn}:room:{room_id}"),
        ))
    };
    if event_type == "room.linked" {
        let d: RoomLinked = serde_json::from_value(data.clone()).ok()?;
        // The room is linked to a deal of one CRM: other connections have nothing to write.
        return if d.provider.as_str() == provider.as_str() {
            planned(URL)
        } else {
            None
        };
    }
    let e = room_event(event_type)?;
    if configured(s, e) == RoomActivity::None {
        return None;
    }
    planned(ACTIVITY)
}

/// Links a `room.linked` delivery's room to its deal and writes the room URL to the deal.
pub async fn write_url(w: &mut Writer<'_>) -> Result<Outcome, StepError> {
    let d: RoomLinked = event_data(w)?;
    let Some(object) = deal_object(w.provider) else {
        return Ok(Outcome::Skipped(format!(
            "provider_unsupported: the deal room does not write to {}",
            w.provider.as_str()
        )));
    };
    let deal_id = d.deal_id.as_str().trim();
    let deal = RecordRef::new(object, deal_id);
    // The URL first: a deal id the CRM does not know fails the write (naming the record)
    // before the room is linked to it.
    let url_written = w
        .delivery
        .remote_ids
        .get("url_written")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    if let Some(field) = w.settings.deal_room.url_field.clone()
        && !url_written
    {
        let mut fields = Map::new();
        fields.insert(field, Value::String(d.room_url.as_str().to_owned()));
        let (p, r, fields) = (w.provider, &deal, &fields);
        w.call(move |c, a| async move { c.update_record(p, a.session(), r, fields).await })
            .await?;
        w.save_value("url_written", Value::Bool(true)).await?;
        tracing::info!(
            delivery = w.delivery.id,
            provider = w.provider.as_str(),
            "room URL written to the deal"
        );
    }
    w.save("deal", &deal).await?;
    w.put_link(&format!("room:{}", d.room_id.as_str()), &deal)
        .await?;
    Ok(Outcome::Written)
}

/// What a room event says, in the terms of an activity.
struct RoomFacts {
    room_id: String,
    event: RoomEvent,
    subject: String,
    body: String,
    occurred_at: Millis,
}

fn facts(w: &Writer<'_>) -> Result<RoomFacts, StepError> {
    let ja = w.locale == "ja";
    let or = |s: &str, ja_text: &str, en_text: &str| {
        let s = s.trim();
        if s.is_empty() {
            if ja { ja_text } else { en_text }.to_owned()
        } else {
            s.to_owned()
        }
    };
    Ok(match w.event.event_type.as_str() {
        "chat.message_sent" => {
            let d: ChatMessageSent = event_data(w)?;
            RoomFacts {
                room_id: d.room_id.as_str().to_owned(),
                event: RoomEvent::ChatMessageSent,
                subject: or(&first_line(&d.text), "チャット", "Chat message"),
                body: d.text,
                occurred_at: Millis(d.sent_at.as_millisecond()),
            }
        }
        "task.completed" => {
            let d: TaskCompleted = event_data(w)?;
            RoomFacts {
                room_id: d.room_id.as_str().to_owned(),
                event: RoomEvent::TaskCompleted,
                subject: or(&d.title, "タスク", "Task"),
                body: String::new(),
                occurred_at: Millis(d.completed_at.as_millisecond()),
            }
        }
        "content.updated" => {
            let d: ContentUpdated = event_data(w)?;
            RoomFacts {
                room_id: d.room_id.as_str().to_owned(),
                event: RoomEvent::ContentUpdated,
                subject: or(&d.title, "テキストコンテンツ", "Text content"),
                body: d.body,
                // The event carries no time of its own: the update happened when the event did.
                occurred_at: w.event.occurred_at,
            }
        }
        other => {
            return Err(StepError::invalid(
                "type",
                format!("{other} is not a deal-room activity"),
            ));
        }
    })
}

/// A chat message's first non-blank line, cut to [`CHAT_SUBJECT_MAX`] characters.
fn first_line(text: &str) -> String {
    let line = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("");
    if line.chars().count() <= CHAT_SUBJECT_MAX {
        return line.to_owned();
    }
    let mut cut: String = line.chars().take(CHAT_SUBJECT_MAX - 1).collect();
    cut.push('…');
    cut
}

/// The activity kind of a room event: HubSpot's from the settings, Salesforce's from the
/// event (see the module doc).
fn kind(provider: Provider, event: RoomEvent, configured: RoomActivity) -> Option<ActivityKind> {
    if configured == RoomActivity::None {
        return None;
    }
    if provider == Provider::Salesforce {
        return Some(match event {
            RoomEvent::ChatMessageSent => ActivityKind::Email,
            RoomEvent::TaskCompleted => ActivityKind::Task,
            RoomEvent::ContentUpdated => ActivityKind::Meeting,
        });
    }
    Some(match configured {
        RoomActivity::Task => ActivityKind::Task,
        RoomActivity::Email => ActivityKind::Email,
        RoomActivity::Meeting => ActivityKind::Meeting,
        RoomActivity::Note => ActivityKind::Note,
        RoomActivity::None => return None,
    })
}

/// Writes a room event as an activity on the room's deal.
pub async fn write_activity(w: &mut Writer<'_>) -> Result<Outcome, StepError> {
    let f = facts(w)?;
    if w.saved("activity").is_some() {
        return Ok(Outcome::Written);
    }
    // The settings may have changed since routing: they decide now.
    let Some(kind) = kind(w.provider, f.event, configured(&w.settings, f.event)) else {
        return Ok(Outcome::Skipped(format!(
            "activity_none: deal_room.activities says not to write {} events",
            w.event.event_type
        )));
    };
    let deal = match w.saved("deal") {
        Some(d) => d,
        None => {
            let Some(d) = w.link(&format!("room:{}", f.room_id)).await? else {
                return Ok(Outcome::Skipped(format!(
                    "room_not_linked: room {} is not linked to a {} deal (no room.linked was \
                     written for it)",
                    f.room_id,
                    w.provider.as_str()
                )));
            };
            w.save("deal", &d).await?;
            d
        }
    };
    let owner_id = if w.provider == Provider::Hubspot {
        let Some(member) = w.event.member.clone() else {
            return Ok(Outcome::Skipped(
                "no_member: the event names no member, and HubSpot deal-room activity is \
                 written as a member's own (PRODUCT.md 4.1)"
                    .to_owned(),
            ));
        };
        let key = ConnectionKey {
            tenant: &w.event.tenant,
            provider: Provider::Hubspot.as_str(),
            member: Some(&member),
        };
        // A member connection that needs a new consent is still the member's: the delivery
        // waits for it (`waiting_reauth`) rather than losing the activity. Only a member who
        // never connected (or disconnected) is skipped.
        let Some(conn) = w.store.get_connection(key).await? else {
            return Ok(Outcome::Skipped(format!(
                "member_not_connected: member {} has no personal HubSpot connection, so the \
                 room's activity is not written to HubSpot (PRODUCT.md 4.1)",
                member.as_str()
            )));
        };
        let owner_id = member_owner(w, &conn.identity).await?;
        w.as_member(&member);
        owner_id
    } else {
        owner(w).await?
    };
    let activity = NewActivity {
        kind,
        key: activity_key(w),
        subject: f.subject,
        body: f.body,
        occurred_at: f.occurred_at,
        ends_at: None,
        owner_id,
        person: None,
        deal: Some(deal),
        call: None,
        completed: true,
    };
    let written = super::create_activity_once(w, &activity).await?;
    w.save("activity", &written).await?;
    tracing::info!(
        delivery = w.delivery.id,
        provider = w.provider.as_str(),
        kind = kind.as_str(),
        "room activity written"
    );
    Ok(Outcome::Written)
}

/// The HubSpot owner of a member's activity: the owner mapped to the member or sharing the
/// member's email ([`owner`]); failing both, the owner of the HubSpot user who connected the
/// member's personal connection (its identity), which is the member at HubSpot; and only then
/// the tenant's connecting user.
async fn member_owner(w: &Writer<'_>, identity: &str) -> Result<Option<String>, StepError> {
    let Some(member) = w.event.member.clone() else {
        return owner(w).await;
    };
    let found =
        crate::directory::owner_for(w.vault(), &w.event.tenant, w.provider, &member).await?;
    if let Some((id, source)) = &found
        && *source != crate::directory::OwnerSource::ConnectingUser
    {
        return Ok(Some(id.clone()));
    }
    let identity: renkei_connectors::AccountIdentity =
        serde_json::from_str(identity).unwrap_or_default();
    if let Some(email) = identity.user_email.as_deref() {
        let users =
            crate::directory::users_with_members(w.vault(), &w.event.tenant, w.provider, false)
                .await?;
        if let Some(u) = users.iter().find(|u| {
            u.user
                .email
                .as_deref()
                .is_some_and(|x| x.eq_ignore_ascii_case(email))
        }) {
            return Ok(Some(u.user.id.clone()));
        }
    }
    Ok(found.map(|(id, _)| id))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chat_subjects_are_the_first_line_cut_short() {
        assert_eq!(first_line("\n  見積もりの件\n詳細"), "見積もりの件");
        assert_eq!(first_line("   \n"), "");
        let long = "あ".repeat(80);
        let cut = first_line(&long);
        assert_eq!(cut.chars().count(), CHAT_SUBJECT_MAX);
        assert!(cut.ends_with('…'));
    }

    #[test]
    fn kinds_follow_the_settings_on_hubspot_and_the_event_on_salesforce() {
        use ActivityKind as K;
        use RoomActivity as A;
        use RoomEvent as E;
        let h = Provider::Hubspot;
        assert_eq!(kind(h, E::ChatMessageSent, A::Email), Some(K::Email));
        assert_eq!(kind(h, E::ChatMessageSent, A::Note), Some(K::Note));
        assert_eq!(kind(h, E::ContentUpdated, A::Meeting), Some(K::Meeting));
        assert_eq!(kind(h, E::TaskCompleted, A::None), None);
        let s = Provider::Salesforce;
        assert_eq!(kind(s, E::ChatMessageSent, A::Task), Some(K::Email));
        assert_eq!(kind(s, E::TaskCompleted, A::Task), Some(K::Task));
        assert_eq!(kind(s, E::ContentUpdated, A::Task), Some(K::Meeting));
        assert_eq!(kind(s, E::ContentUpdated, A::None), None);
    }

    #[test]
    fn plans_per_provider_and_setting() {
        let mut s = ConnectionSettings::defaults(Provider::Hubspot, "ja");
        let linked = serde_json::json!({"room_id": "r1", "room_url": "https://dsr.example/r1",
            "provider": "hubspot", "deal_id": "42"});
        let chat = serde_json::json!({"room_id": "r1", "message_id": "m1", "text": "hi",
            "sent_at": "2026-11-21T09:00:00Z"});
        assert_eq!(plan("room.linked", &linked, 7, Provider::Hubspot, &s), None);
        s.deal_room.enabled = true;
        assert_eq!(
            plan("room.linked", &linked, 7, Provider::Hubspot, &s),
            Some(Planned::new(URL, "room:r1".into(), "7:room:r1".into()))
        );
        assert_eq!(
            plan("room.linked", &linked, 8, Provider::Salesforce, &s),
            None
        );
        assert_eq!(plan("room.linked", &linked, 9, Provider::ZohoCrm, &s), None);
        assert_eq!(
            plan("chat.message_sent", &chat, 7, Provider::Hubspot, &s),
            Some(Planned::new(ACTIVITY, "room:r1".into(), "7:room:r1".into()))
        );
        s.deal_room
            .activities
            .insert(RoomEvent::ChatMessageSent, RoomActivity::None);
        assert_eq!(
            plan("chat.message_sent", &chat, 7, Provider::Hubspot, &s),
            None
        );
    }
}
