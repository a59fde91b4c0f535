//! HubSpot contacts as renkei's people: one page of a sync query ([`page`]), the live records
//! among some ids ([`by_ids`]) and the two-way write ([`update`]).
//!
//! HubSpot has one object among people, `contacts`
//! (https://developers.hubspot.com/docs/api/crm/contacts). Which API serves a query:
//!
//! - `All` without `updated_since` and oldest-first: the list endpoint,
//!   `GET /crm/v3/objects/contacts?limit=100`, following `paging.next.after`. It is the cheap
//!   path for an initial import: list calls are not subject to the search API's own limit of
//!   5 requests a second, and the list has no ceiling on how far it pages.
//! - `All` with `updated_since` or `newest_first`, and `ChangedSince`: the search endpoint,
//!   `POST /crm/v3/objects/contacts/search`, sorted by `lastmodifieddate`, 200 a page
//!   (https://developers.hubspot.com/docs/api/crm/search).
//! - `DeletedSince`: the archived list, `GET /crm/v3/objects/contacts?archived=true`, read to
//!   the end, keeping the records archived at or after `since`.
//!
//! **Search paging.** HubSpot's search pages by offset (`after`) and refuses to go past 10,000
//! results of one query. Rather than page by offset and restart the query when the offset
//! nears 10,000, every page here *is* a restart: a page asks for the records at or past the
//! last timestamp the previous page ended on and drops the ids already returned at exactly that
//! timestamp, which the cursor carries. No query ever pages past its first 200 results, so the
//! ceiling is never reached, and a record modified while a sync pages through (which moves it
//! to the end of an oldest-first order) cannot shift the offsets and make a page skip a
//! record, as offset paging over a changing sort key would. When a whole page shares one
//! timestamp (a bulk import stamps thousands of contacts alike), the timestamp alone cannot
//! move the query on, so the records at that instant are listed by `hs_object_id` instead
//! (`lastmodifieddate EQ t`, `hs_object_id GT last`, sorted by id: keyset paging on a unique
//! key), and the query then continues strictly past `t`. The price is that each page reads
//! again the records at the instant it starts from (with real timestamps, usually one), and
//! the page that turns to listing by id meets its own 200 again.
//!
//! Newest-first paging runs the same way downwards. A record modified while a newest-first
//! pass runs moves above the pass and is not returned by it; the next `ChangedSince` finds it.
//!
//! **Cursors** are compact JSON naming the API and the position (`{"k":"list","after":"…"}`,
//! `{"k":"from","at":1700000000000,"seen":"101-105,230"}`, …), self-contained so that a
//! checkpoint survives a restart. One made for another kind of query is refused as
//! `cursor_invalid`. A page may be empty while `next` is set: the page's records were all
//! ones the cursor said were already returned, or archived before `since`.
//!
//! Every page is one request (`api_calls: 1`); the HTTP client's own retries of it (a 429, a
//! 503 of a read) happen inside [`HttpClient::send`] and are not visible here.

use std::collections::BTreeSet;
use std::fmt::Write as _;

use http::Method;
use renkei_core::Millis;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::http::HttpClient;
use crate::people::{PeoplePage, PeopleQuery, PersonObject, PersonUpdate, RemotePerson};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, Provider, Session};

use super::client::{get_json, pace_search, send_ignoring_body, send_json};
use super::mapping;
use super::wire::{BatchResults, Contact, ContactProperties, ObjectPage};

const P: Provider = Provider::Hubspot;

/// `limit` of the list endpoints (their documented maximum).
const LIST_LIMIT: usize = 100;
/// `limit` of the search endpoint (its documented maximum).
const SEARCH_LIMIT: usize = 200;
/// Inputs per batch read (the documented maximum).
const BATCH_MAX: usize = 100;

/// The property every search sorts and filters by. Contacts keep the legacy name; the value
/// equals `hs_lastmodifieddate`.
const MODIFIED: &str = "lastmodifieddate";

fn invalid(code: &str, field: Option<&str>, message: impl Into<String>) -> ConnectorError {
    crate::people::invalid(P, code, field, message)
}

fn protocol(message: impl Into<String>) -> ConnectorError {
    crate::people::protocol(P, message)
}

/// The object's path name, or `object_unsupported` (HubSpot has no leads among its people).
fn object_path(object: PersonObject) -> Result<&'static str, ConnectorError> {
    crate::people::remote_object(P, object)
}

// ---------------------------------------------------------------------------------------------
// Cursors.

/// A set of numeric record ids, written as ranges (`"101-105,230"`), so that the ids of a bulk
/// import, which HubSpot numbers consecutively, stay a few bytes in a cursor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct IdSet(BTreeSet<u64>);

impl IdSet {
    fn contains(&self, id: u64) -> bool {
        self.0.contains(&id)
    }

    fn insert(&mut self, id: u64) {
        self.0.insert(id);
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Forgets the ids at or below `id`: a listing by ascending id past `id` cannot meet them.
    fn forget_through(&mut self, id: u64) {
        self.0 = self.0.split_off(&id.saturating_add(1));
        if id == u64::MAX {
            self.0.clear();
        }
    }

    fn encode(&self) -> String {
        let mut out = String::new();
        let mut iter = self.0.iter().copied().peekable();
        while let Some(start) = iter.next() {
            let mut end = start;
            while iter.peek() == Some(&end.saturating_add(1)) && end != u64::MAX {
                end += 1;
                iter.next();
            }
            if !out.is_empty() {
                out.push(',');
            }
            // Writing to a String cannot fail.
            let _ = if start == end {
                write!(out, "{start}")
            } else {
                write!(out, "{start}-{end}")
            };
        }
        out
    }

    /// At most this many ids are read from one cursor. A position carries at most the ids of
    /// two pages (a trailing run and the page after it), so a larger set is not one this
    /// module wrote, and expanding it could cost any amount of memory.
    const MAX_IDS: u64 = 10 * SEARCH_LIMIT as u64;

    fn decode(s: &str) -> Option<Self> {
        let mut set = BTreeSet::new();
        let mut count: u64 = 0;
        for part in s.split(',').filter(|p| !p.is_empty()) {
            let (a, b) = match part.split_once('-') {
                Some((a, b)) => (a.parse::<u64>().ok()?, b.parse::<u64>().ok()?),
                None => {
                    let n = part.parse::<u64>().ok()?;
                    (n, n)
                }
            };
            if b < a {
                return None;
            }
            count = count.checked_add((b - a).checked_add(1)?)?;
            if count > Self::MAX_IDS {
                return None;
            }
            set.extend(a..=b);
        }
        Some(IdSet(set))
    }
}

impl Serialize for IdSet {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.encode())
    }
}

impl<'de> Deserialize<'de> for IdSet {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        IdSet::decode(&s).ok_or_else(|| serde::de::Error::custom("not a set of record ids"))
    }
}

/// Where the next page starts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "k", rename_all = "snake_case", deny_unknown_fields)]
enum Cursor {
    /// The contacts list, from HubSpot's `after`.
    List { after: String },
    /// The archived contacts list, from HubSpot's `after`.
    Archived { after: String },
    /// Search: records modified at `at` or later (oldest first; at or earlier newest first),
    /// except the ids in `seen`, which were returned at exactly `at`.
    From {
        at: i64,
        #[serde(default, skip_serializing_if = "IdSet::is_empty")]
        seen: IdSet,
    },
    /// Search: the records modified at exactly `at`, by ascending id past `after_id`, except
    /// the ids in `seen`.
    Tie {
        at: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        after_id: Option<u64>,
        #[serde(default, skip_serializing_if = "IdSet::is_empty")]
        seen: IdSet,
    },
    /// Search: records modified strictly after `at` (before, newest first).
    Past { at: i64 },
}

impl Cursor {
    fn encode(&self) -> String {
        // A derived Serialize of strings and integers into a String cannot fail.
        serde_json::to_string(self).unwrap_or_default()
    }

    fn decode(s: &str) -> Result<Self, ConnectorError> {
        serde_json::from_str(s).map_err(|_| {
            invalid(
                "cursor_invalid",
                Some("cursor"),
                "the cursor is not one this connector wrote",
            )
        })
    }
}

fn cursor_mismatch() -> ConnectorError {
    invalid(
        "cursor_invalid",
        Some("cursor"),
        "the cursor belongs to another kind of query",
    )
}

// ---------------------------------------------------------------------------------------------
// Pages.

/// One page of `q` for `object`, starting at `cursor` (None = the first page).
pub async fn page(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    q: &PeopleQuery,
    cursor: Option<&str>,
) -> Result<PeoplePage, ConnectorError> {
    let path = object_path(object)?;
    let cursor = cursor.map(Cursor::decode).transpose()?;
    match *q {
        PeopleQuery::All {
            updated_since: None,
            newest_first: false,
        } => {
            let after = match cursor {
                None => None,
                Some(Cursor::List { after }) => Some(after),
                Some(_) => return Err(cursor_mismatch()),
            };
            list_page(http, ep, s, path, after).await
        }
        PeopleQuery::All {
            updated_since,
            newest_first,
        } => {
            let order = if newest_first {
                Order::Desc
            } else {
                Order::Asc
            };
            search_page(http, ep, s, path, order, updated_since, cursor).await
        }
        PeopleQuery::ChangedSince { since } => {
            search_page(http, ep, s, path, Order::Asc, Some(since), cursor).await
        }
        PeopleQuery::DeletedSince { since } => {
            let after = match cursor {
                None => None,
                Some(Cursor::Archived { after }) => Some(after),
                Some(_) => return Err(cursor_mismatch()),
            };
            archived_page(http, ep, s, path, since, after).await
        }
    }
}

/// The list URL with the properties renkei reads.
fn list_url(ep: &Endpoints, path: &str, after: Option<&str>, archived: bool) -> url::Url {
    let mut url = join(&ep.api, &format!("/crm/v3/objects/{path}"));
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("limit", &LIST_LIMIT.to_string());
        if archived {
            // Only the id and `archivedAt` are read of a deleted record; naming one property
            // keeps HubSpot from answering its default set (names and email).
            q.append_pair("archived", "true");
            q.append_pair("properties", "hs_object_id");
        } else {
            q.append_pair("properties", &ContactProperties::NAMES.join(","));
        }
        if let Some(a) = after {
            q.append_pair("after", a);
        }
    }
    url
}

/// The next `after` of a list page, `None` at the end. A cursor that does not move would
/// page forever, so it ends the listing too.
fn next_after(page_next: Option<String>, current: Option<&str>) -> Option<String> {
    page_next.filter(|n| !n.is_empty() && Some(n.as_str()) != current)
}

async fn list_page(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    path: &str,
    after: Option<String>,
) -> Result<PeoplePage, ConnectorError> {
    let url = list_url(ep, path, after.as_deref(), false);
    let page: ObjectPage<Contact> = get_json(http, ep, s, url).await?;
    let people = page
        .results
        .into_iter()
        .map(mapping::person)
        .collect::<Result<Vec<_>, _>>()?;
    let next = next_after(
        page.paging.and_then(|p| p.next).map(|n| n.after),
        after.as_deref(),
    );
    Ok(PeoplePage {
        people,
        next: next.map(|after| Cursor::List { after }.encode()),
        api_calls: 1,
    })
}

async fn archived_page(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    path: &str,
    since: Millis,
    after: Option<String>,
) -> Result<PeoplePage, ConnectorError> {
    let url = list_url(ep, path, after.as_deref(), true);
    let page: ObjectPage<Contact> = get_json(http, ep, s, url).await?;
    let mut people = Vec::new();
    for c in page.results {
        let p = mapping::deleted_person(c)?;
        if p.updated_at >= since {
            people.push(p);
        }
    }
    let next = next_after(
        page.paging.and_then(|p| p.next).map(|n| n.after),
        after.as_deref(),
    );
    Ok(PeoplePage {
        people,
        next: next.map(|after| Cursor::Archived { after }.encode()),
        api_calls: 1,
    })
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Order {
    /// Oldest first.
    Asc,
    /// Newest first.
    Desc,
}

impl Order {
    fn direction(self) -> &'static str {
        match self {
            Order::Asc => "ASCENDING",
            Order::Desc => "DESCENDING",
        }
    }

    /// The operator that keeps records at `at` or further along the order.
    fn at_or_beyond_op(self) -> &'static str {
        match self {
            Order::Asc => "GTE",
            Order::Desc => "LTE",
        }
    }

    /// The operator that keeps records strictly further along the order than `at`.
    fn past_op(self) -> &'static str {
        match self {
            Order::Asc => "GT",
            Order::Desc => "LT",
        }
    }

    /// Whether `b` may follow `a` in this order.
    fn in_order(self, a: Millis, b: Millis) -> bool {
        match self {
            Order::Asc => a <= b,
            Order::Desc => a >= b,
        }
    }
}

fn filter(property: &str, operator: &str, value: impl ToString) -> Value {
    json!({"propertyName": property, "operator": operator, "value": value.to_string()})
}

/// The search request body for the position `cursor` (None: the first page).
fn search_body(order: Order, since: Option<Millis>, cursor: Option<&Cursor>) -> Value {
    let mut filters = Vec::new();
    if let Some(since) = since {
        filters.push(filter(MODIFIED, "GTE", since.0));
    }
    let mut sort = json!({"propertyName": MODIFIED, "direction": order.direction()});
    match cursor {
        None | Some(Cursor::List { .. }) | Some(Cursor::Archived { .. }) => {}
        Some(Cursor::From { at, .. }) => {
            filters.push(filter(MODIFIED, order.at_or_beyond_op(), at))
        }
        Some(Cursor::Past { at }) => filters.push(filter(MODIFIED, order.past_op(), at)),
        Some(Cursor::Tie { at, after_id, .. }) => {
            // The id bound first: as the listing advances it rules out more and more records,
            // and a filter group's conditions may be checked in order.
            if let Some(id) = after_id {
                filters.push(filter("hs_object_id", "GT", id));
            }
            filters.push(filter(MODIFIED, "EQ", at));
            sort = json!({"propertyName": "hs_object_id", "direction": "ASCENDING"});
        }
    }
    let groups = if filters.is_empty() {
        json!([])
    } else {
        json!([{ "filters": filters }])
    };
    json!({
        "filterGroups": groups,
        "sorts": [sort],
        "properties": ContactProperties::NAMES,
        "limit": SEARCH_LIMIT,
    })
}

/// A search result with what paging needs read out of it.
struct Hit {
    id: u64,
    at: Millis,
    contact: Contact,
}

fn hit(c: Contact) -> Result<Hit, ConnectorError> {
    // HubSpot record ids are numbers (`hs_object_id`); paging by id relies on it.
    let id =
        c.id.trim()
            .parse::<u64>()
            .map_err(|_| protocol(format!("a contact id that is not a number: {:?}", c.id)))?;
    Ok(Hit {
        id,
        at: mapping::modified_at(&c)?,
        contact: c,
    })
}

async fn search_page(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    path: &str,
    order: Order,
    since: Option<Millis>,
    cursor: Option<Cursor>,
) -> Result<PeoplePage, ConnectorError> {
    if matches!(
        cursor,
        Some(Cursor::List { .. }) | Some(Cursor::Archived { .. })
    ) {
        return Err(cursor_mismatch());
    }
    let url = join(&ep.api, &format!("/crm/v3/objects/{path}/search"));
    let body = search_body(order, since, cursor.as_ref());
    pace_search(s).await;
    // A search is a read sent as a POST: repeating it is harmless.
    let page: ObjectPage<Contact> = send_json(http, ep, s, Method::POST, url, body, true).await?;
    let more = page.paging.and_then(|p| p.next).is_some();
    let hits = page
        .results
        .into_iter()
        .map(hit)
        .collect::<Result<Vec<_>, _>>()?;
    let (people, next) = match cursor {
        Some(Cursor::Tie {
            at,
            after_id,
            mut seen,
        }) => {
            check_tie(&hits, Millis(at), after_id)?;
            let last = hits.last().map(|h| h.id);
            let mut people = Vec::with_capacity(hits.len());
            for h in hits {
                if !seen.contains(h.id) {
                    people.push(mapping::person(h.contact)?);
                }
            }
            let next = match last {
                Some(last) if more => {
                    seen.forget_through(last);
                    Cursor::Tie {
                        at,
                        after_id: Some(last),
                        seen,
                    }
                }
                // Every record at `at` has been listed: go on strictly past it.
                _ => Cursor::Past { at },
            };
            (people, Some(next))
        }
        cursor => {
            let (bound, seen) = match cursor {
                Some(Cursor::From { at, seen }) => (Some((Millis(at), true)), seen),
                Some(Cursor::Past { at }) => (Some((Millis(at), false)), IdSet::default()),
                _ => (None, IdSet::default()),
            };
            check_order(&hits, order, bound)?;
            let from_at = bound.filter(|(_, inclusive)| *inclusive).map(|(at, _)| at);
            let next = if more {
                Some(next_position(&hits, from_at, &seen)?)
            } else {
                None
            };
            let mut people = Vec::with_capacity(hits.len());
            for h in hits {
                if Some(h.at) == from_at && seen.contains(h.id) {
                    continue;
                }
                people.push(mapping::person(h.contact)?);
            }
            (people, next)
        }
    };
    Ok(PeoplePage {
        people,
        next: next.map(|c| c.encode()),
        api_calls: 1,
    })
}

/// Where the search goes on after a full page sorted by modification time. `from_at` and
/// `seen` describe the position the page started from.
fn next_position(
    hits: &[Hit],
    from_at: Option<Millis>,
    seen: &IdSet,
) -> Result<Cursor, ConnectorError> {
    let (Some(first), Some(last)) = (hits.first(), hits.last()) else {
        return Err(protocol(
            "a search page with no results announced a next page",
        ));
    };
    let run = hits.iter().rev().take_while(|h| h.at == last.at);
    let mut ids = if from_at == Some(last.at) {
        seen.clone()
    } else {
        IdSet::default()
    };
    for h in run {
        ids.insert(h.id);
    }
    Ok(if first.at == last.at {
        // The whole page shares one timestamp: starting again from it could return this same
        // page. List that instant by id instead.
        Cursor::Tie {
            at: last.at.0,
            after_id: None,
            seen: ids,
        }
    } else {
        Cursor::From {
            at: last.at.0,
            seen: ids,
        }
    })
}

/// A page sorted by modification time must be in that order and on the right side of the
/// position it started from; otherwise the next position could move backwards and page
/// forever.
fn check_order(
    hits: &[Hit],
    order: Order,
    bound: Option<(Millis, bool)>,
) -> Result<(), ConnectorError> {
    let mut prev = bound.map(|(at, _)| at);
    for h in hits {
        if let Some(p) = prev
            && !order.in_order(p, h.at)
        {
            return Err(protocol(format!(
                "search results out of {MODIFIED} order at contact {}",
                h.id
            )));
        }
        prev = Some(h.at);
    }
    if let Some((at, false)) = bound
        && hits.iter().any(|h| h.at == at)
    {
        return Err(protocol(format!(
            "search answered a contact modified at the excluded instant {}",
            at.to_rfc3339()
        )));
    }
    Ok(())
}

/// A page of the records at one instant must be at that instant and in ascending id order
/// past `after_id`.
fn check_tie(hits: &[Hit], at: Millis, after_id: Option<u64>) -> Result<(), ConnectorError> {
    let mut prev = after_id;
    for h in hits {
        if h.at != at || prev.is_some_and(|p| h.id <= p) {
            return Err(protocol(format!(
                "search by id at one instant answered contact {} out of place",
                h.id
            )));
        }
        prev = Some(h.id);
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// By id and update.

/// The live records among `ids` (any count; chunked by 100 as the batch read requires).
/// Unknown or deleted ids are simply absent from the answer; so are strings that cannot be
/// HubSpot record ids (which are numbers), rather than failing the chunk they are in.
pub async fn by_ids(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    ids: &[String],
) -> Result<Vec<RemotePerson>, ConnectorError> {
    let path = object_path(object)?;
    let mut unique: Vec<&str> = Vec::with_capacity(ids.len());
    let mut seen = BTreeSet::new();
    for id in ids {
        let id = id.trim();
        if !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()) && seen.insert(id) {
            unique.push(id);
        }
    }
    let url = join(&ep.api, &format!("/crm/v3/objects/{path}/batch/read"));
    let mut out = Vec::with_capacity(unique.len());
    for chunk in unique.chunks(BATCH_MAX) {
        let inputs: Vec<Value> = chunk.iter().map(|id| json!({ "id": id })).collect();
        let body = json!({
            "inputs": inputs,
            "properties": ContactProperties::NAMES,
        });
        // A batch read is a read sent as a POST; a 207 (some ids not found) is a success.
        let page: BatchResults<Contact> =
            send_json(http, ep, s, Method::POST, url.clone(), body, true).await?;
        for c in page.results {
            if !c.archived {
                out.push(mapping::person(c)?);
            }
        }
    }
    Ok(out)
}

/// Writes the `Some` fields of `u` to the contact `remote_id`:
/// `PATCH /crm/v3/objects/contacts/{id}` with `firstname`, `lastname`, `phone` and `email`
/// (`Some("")` clears the property: HubSpot clears a property written as an empty string,
/// https://developers.hubspot.com/docs/api/crm/properties).
/// Contacts have no description property, so `u.description` is not written. An update with
/// nothing HubSpot can take makes no call. Repeating it writes the same values again.
pub async fn update(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    remote_id: &str,
    u: &PersonUpdate,
) -> Result<(), ConnectorError> {
    let path = object_path(object)?;
    // HubSpot record ids are numbers; anything else could only address some other path.
    if remote_id.is_empty() || !remote_id.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid(
            "remote_id_invalid",
            Some("remote_id"),
            "a HubSpot record id is a number",
        ));
    }
    let properties = update_properties(u);
    if properties.is_empty() {
        if u.description.is_some() {
            tracing::debug!(
                provider = P.as_str(),
                "HubSpot contacts have no description property; nothing written"
            );
        }
        return Ok(());
    }
    let url = join(&ep.api, &format!("/crm/v3/objects/{path}/{remote_id}"));
    send_ignoring_body(
        http,
        ep,
        s,
        Method::PATCH,
        url,
        json!({ "properties": properties }),
        true,
    )
    .await
}

/// The properties an update writes.
fn update_properties(u: &PersonUpdate) -> serde_json::Map<String, Value> {
    [
        ("firstname", &u.first_name),
        ("lastname", &u.last_name),
        ("phone", &u.phone),
        ("email", &u.email),
    ]
    .into_iter()
    .filter_map(|(k, v)| v.as_ref().map(|v| (k.to_owned(), Value::String(v.clone()))))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_sets_round_trip_as_ranges() {
        let cases: &[(&[u64], &str)] = &[
            (&[], ""),
            (&[7], "7"),
            (&[1, 2, 3, 5, 9, 10], "1-3,5,9-10"),
            (
                &[u64::MAX - 1, u64::MAX],
                "18446744073709551614-18446744073709551615",
            ),
        ];
        for (ids, text) in cases {
            let set = IdSet(ids.iter().copied().collect());
            assert_eq!(set.encode(), *text);
            assert_eq!(IdSet::decode(text), Some(set), "{text}");
        }
    }

    #[test]
    fn id_sets_refuse_what_this_module_never_writes() {
        for bad in [
            "a",
            "3-1",
            "1-",
            "-4",
            "1--2",
            "0-18446744073709551615",
            "1-2001",
        ] {
            assert_eq!(IdSet::decode(bad), None, "{bad}");
        }
    }

    #[test]
    fn forgetting_ids_through_a_point() {
        let mut s = IdSet([1, 5, 9, 12].into_iter().collect());
        s.forget_through(9);
        assert_eq!(s.encode(), "12");
        s.forget_through(u64::MAX);
        assert!(s.is_empty());
    }

    #[test]
    fn cursors_round_trip_and_garbage_is_refused() {
        let cursors = [
            Cursor::List {
                after: "401".into(),
            },
            Cursor::Archived { after: "9".into() },
            Cursor::From {
                at: 1_700_000_000_000,
                seen: IdSet([4, 5, 6].into_iter().collect()),
            },
            Cursor::From {
                at: 1,
                seen: IdSet::default(),
            },
            Cursor::Tie {
                at: 2,
                after_id: Some(77),
                seen: IdSet::default(),
            },
            Cursor::Tie {
                at: 2,
                after_id: None,
                seen: IdSet([80].into_iter().collect()),
            },
            Cursor::Past { at: 3 },
        ];
        for c in cursors {
            assert_eq!(Cursor::decode(&c.encode()).unwrap(), c);
        }
        assert_eq!(
            Cursor::From {
                at: 5,
                seen: IdSet([1, 2, 3].into_iter().collect())
            }
            .encode(),
            r#"{"k":"from","at":5,"seen":"1-3"}"#
        );
        for bad in [
            "",
            "401",
            "{}",
            r#"{"k":"list"}"#,
            r#"{"k":"from","at":"x"}"#,
            r#"{"k":"from","at":1,"seen":"z"}"#,
            r#"{"k":"past","at":1,"extra":true}"#,
            r#"{"k":"sideways","at":1}"#,
        ] {
            let err = Cursor::decode(bad).unwrap_err();
            assert!(
                matches!(&err, ConnectorError::Invalid { code, .. } if code == "cursor_invalid"),
                "{bad}: {err:?}"
            );
        }
    }

    #[test]
    fn search_bodies_per_position() {
        let since = Some(Millis(1000));
        let f = |p: &str, o: &str, v: &str| json!({"propertyName": p, "operator": o, "value": v});
        let cases = [
            (Order::Asc, None, None, json!([]), MODIFIED, "ASCENDING"),
            (
                Order::Asc,
                since,
                None,
                json!([{"filters": [f(MODIFIED, "GTE", "1000")]}]),
                MODIFIED,
                "ASCENDING",
            ),
            (
                Order::Desc,
                since,
                Some(Cursor::From {
                    at: 5000,
                    seen: IdSet::default(),
                }),
                json!([{"filters": [f(MODIFIED, "GTE", "1000"), f(MODIFIED, "LTE", "5000")]}]),
                MODIFIED,
                "DESCENDING",
            ),
            (
                Order::Asc,
                None,
                Some(Cursor::Past { at: 5000 }),
                json!([{"filters": [f(MODIFIED, "GT", "5000")]}]),
                MODIFIED,
                "ASCENDING",
            ),
            (
                Order::Desc,
                None,
                Some(Cursor::Past { at: 5000 }),
                json!([{"filters": [f(MODIFIED, "LT", "5000")]}]),
                MODIFIED,
                "DESCENDING",
            ),
            (
                Order::Desc,
                None,
                Some(Cursor::Tie {
                    at: 5000,
                    after_id: Some(42),
                    seen: IdSet::default(),
                }),
                json!([{"filters": [f("hs_object_id", "GT", "42"), f(MODIFIED, "EQ", "5000")]}]),
                "hs_object_id",
                "ASCENDING",
            ),
        ];
        for (order, since, cursor, groups, sort_by, direction) in cases {
            let body = search_body(order, since, cursor.as_ref());
            assert_eq!(body["filterGroups"], groups, "{cursor:?}");
            assert_eq!(body["sorts"][0]["propertyName"], sort_by, "{cursor:?}");
            assert_eq!(body["sorts"][0]["direction"], direction, "{cursor:?}");
            assert_eq!(body["limit"], 200);
            // Never an offset: no query pages towards HubSpot's 10,000-result ceiling.
            assert!(body.get("after").is_none());
            assert_eq!(body["properties"].as_array().unwrap().len(), 16);
        }
    }

    fn hits(spec: &[(u64, i64)]) -> Vec<Hit> {
        spec.iter()
            .map(|&(id, at)| Hit {
                id,
                at: Millis(at),
                contact: serde_json::from_value(json!({"id": id.to_string()})).unwrap(),
            })
            .collect()
    }

    #[test]
    fn next_positions() {
        let seen = IdSet([1, 2].into_iter().collect());
        let ids = |v: &[u64]| IdSet(v.iter().copied().collect());
        let cases = [
            // The trailing run at the last timestamp is remembered.
            (
                vec![(3, 10), (4, 20), (5, 20)],
                None,
                Cursor::From {
                    at: 20,
                    seen: ids(&[4, 5]),
                },
            ),
            // Starting over from the same instant keeps what was already seen there.
            (
                vec![(3, 10), (4, 10), (5, 20)],
                Some(Millis(10)),
                Cursor::From {
                    at: 20,
                    seen: ids(&[5]),
                },
            ),
            // A page at one instant turns to listing that instant by id…
            (
                vec![(3, 10), (4, 10)],
                None,
                Cursor::Tie {
                    at: 10,
                    after_id: None,
                    seen: ids(&[3, 4]),
                },
            ),
            // …keeping the ids already returned at it.
            (
                vec![(3, 10), (4, 10)],
                Some(Millis(10)),
                Cursor::Tie {
                    at: 10,
                    after_id: None,
                    seen: ids(&[1, 2, 3, 4]),
                },
            ),
        ];
        for (page, from_at, want) in cases {
            assert_eq!(
                next_position(&hits(&page), from_at, &seen).unwrap(),
                want,
                "{page:?}"
            );
        }
        assert!(next_position(&[], None, &seen).is_err());
    }

    #[test]
    fn pages_out_of_order_are_refused() {
        /// (page as (id, instant), order, bound as (instant, inclusive), accepted)
        type Case<'a> = (&'a [(u64, i64)], Order, Option<(i64, bool)>, bool);
        let cases: &[Case<'_>] = &[
            (&[(1, 10), (2, 20)], Order::Asc, None, true),
            (&[(1, 20), (2, 10)], Order::Asc, None, false),
            (&[(1, 20), (2, 10)], Order::Desc, None, true),
            (&[(1, 10)], Order::Asc, Some((10, true)), true),
            (&[(1, 9)], Order::Asc, Some((10, true)), false),
            (&[(1, 10)], Order::Asc, Some((10, false)), false),
            (&[(1, 11)], Order::Desc, Some((10, true)), false),
        ];
        for (page, order, bound, ok) in cases {
            let got = check_order(&hits(page), *order, bound.map(|(a, i)| (Millis(a), i)));
            assert_eq!(got.is_ok(), *ok, "{page:?} {order:?} {bound:?}");
        }
        assert!(check_tie(&hits(&[(5, 1), (6, 1)]), Millis(1), Some(4)).is_ok());
        assert!(check_tie(&hits(&[(5, 1), (6, 1)]), Millis(1), Some(5)).is_err());
        assert!(check_tie(&hits(&[(6, 1), (5, 1)]), Millis(1), None).is_err());
        assert!(check_tie(&hits(&[(5, 2)]), Millis(1), None).is_err());
    }

    #[test]
    fn update_writes_only_what_hubspot_has() {
        let u = PersonUpdate {
            last_name: Some("山田".into()),
            first_name: None,
            phone: Some(String::new()),
            email: Some("taro@example.jp".into()),
            description: Some("not a contact property".into()),
        };
        assert_eq!(
            Value::Object(update_properties(&u)),
            json!({"lastname": "山田", "phone": "", "email": "taro@example.jp"})
        );
        let only_description = PersonUpdate {
            description: Some("x".into()),
            ..Default::default()
        };
        assert!(update_properties(&only_description).is_empty());
    }
}
