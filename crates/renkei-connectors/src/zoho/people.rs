//! Zoho CRM Leads and Contacts as renkei's people: one page of a [`PeopleQuery`] ([`page`]),
//! records by id ([`by_ids`]) and the two-way write ([`update`]).
//!
//! Lists are `GET /crm/v8/{module}` with the fields the mapping reads, 200 records a page
//! (https://www.zoho.com/crm/developer/docs/api/v8/get-records.html). `page=N` reaches only the
//! first 2,000 records; beyond them Zoho requires the `page_token` it names in
//! `info.next_page_token`, valid for 24 hours. Zoho names that token on every page that has a
//! successor, and a token resumes after the last record served (a keyset), so page boundaries
//! do not move when records are added or deleted meanwhile, as page numbers' do: the cursor is
//! the token whenever Zoho gave one, and the next page number otherwise ([`Cursor`]). A token
//! Zoho refuses (expired after its 24 hours, or unknown) is reported as
//! [`ConnectorError::Invalid`] with the code `cursor_expired`: the caller starts the query again
//! (narrowed by what it has already seen).
//!
//! Orders: a full import reads by `id` ascending (new records land at the end, so a long
//! import does not see its pages shift); `newest_first` and [`PeopleQuery::ChangedSince`] sort
//! by `Modified_Time`. A time filter is the `If-Modified-Since` header, which Zoho applies as
//! "modified after" the instant it names, and Zoho's stamps are whole seconds: the header says
//! one second before `since` (rounded down to its second), and records stamped before that
//! second are dropped from the page, so the answer holds every record modified at or after
//! `since`, plus possibly some within the same second before it. When nothing matches Zoho
//! answers 304, which ends the list.
//!
//! Deleted records come from `GET /crm/v8/{module}/deleted?type=all`
//! (https://www.zoho.com/crm/developer/docs/api/v8/get-deleted-records.html), newest first:
//! paging stops at the first record deleted before `since`. That list has no `page_token`, so
//! it reaches back 2,000 deletions at most; a query needing more ends with `LIMIT_REACHED`.

use http::Method;
use renkei_core::Millis;
use serde_json::{Map, Value, json};
use url::Url;

use crate::http::{HttpClient, HttpResponse, OutgoingRequest};
use crate::people::{
    PeoplePage, PeopleQuery, PersonObject, PersonUpdate, RemotePerson, max_page_size, text,
};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, Provider, Session};

use super::client::{self, classify, classify_error};
use super::mapping;
use super::wire::{ApiError, DeletedRecord, Person, RecordsResponse, WriteResponse};

const P: Provider = Provider::ZohoCrm;

/// The furthest record `page` reaches; beyond it only `page_token` does.
pub const PAGE_LIMIT: usize = 2000;

/// How many ids one `GET /{module}?ids=` names (Zoho's limit).
pub const IDS_PER_CALL: usize = 100;

const LEAD_FIELDS: &str = "First_Name,Last_Name,Full_Name,Company,Email,Secondary_Email,Phone,\
     Mobile,Street,City,State,Zip_Code,Country,Designation,Description,Owner,Created_Time,\
     Modified_Time";

const CONTACT_FIELDS: &str = "First_Name,Last_Name,Full_Name,Account_Name,Email,\
     Secondary_Email,Phone,Mobile,Mailing_Street,Mailing_City,Mailing_State,Mailing_Zip,\
     Mailing_Country,Title,Department,Description,Owner,Created_Time,Modified_Time";

fn invalid(code: &str, field: &str, message: impl Into<String>) -> ConnectorError {
    crate::people::invalid(P, code, Some(field), message)
}

fn protocol(message: impl Into<String>) -> ConnectorError {
    crate::people::protocol(P, message)
}

fn module(object: PersonObject) -> Result<&'static str, ConnectorError> {
    crate::people::remote_object(P, object)
}

/// The fields the mapping reads, for a list or a search of `object`.
pub(crate) fn fields(object: PersonObject) -> &'static str {
    match object {
        PersonObject::Lead => LEAD_FIELDS,
        PersonObject::Contact => CONTACT_FIELDS,
    }
}

fn per_page() -> usize {
    max_page_size(P)
}

/// Where a list resumes: the next page number, or Zoho's `page_token`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cursor {
    Page(u32),
    Token(String),
}

impl Cursor {
    pub fn encode(&self) -> String {
        match self {
            Cursor::Page(n) => format!("page:{n}"),
            Cursor::Token(t) => format!("token:{t}"),
        }
    }

    /// The cursor `s` encodes; `None` for anything [`Cursor::encode`] does not write.
    pub fn decode(s: &str) -> Option<Self> {
        if let Some(n) = s.strip_prefix("page:") {
            let ok = !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit());
            return ok
                .then(|| n.parse::<u32>().ok())
                .flatten()
                .filter(|n| *n >= 1)
                .map(Cursor::Page);
        }
        let t = s.strip_prefix("token:")?;
        let ok = !t.is_empty() && t.len() <= 4096 && t.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Cursor::Token(t.to_owned()))
    }
}

fn cursor_invalid(what: &str) -> ConnectorError {
    invalid(
        "cursor_invalid",
        "cursor",
        format!("the cursor is not {what}"),
    )
}

/// `page` is refused by Zoho beyond the 2,000th record: say so without spending a call.
fn check_page(page: u32) -> Result<(), ConnectorError> {
    if (page as usize).saturating_mul(per_page()) <= PAGE_LIMIT {
        Ok(())
    } else {
        Err(invalid(
            "LIMIT_REACHED",
            "page",
            "Zoho serves page numbers up to the 2,000th record only, and this list offers no page_token to go further",
        ))
    }
}

/// `at` rounded down to its second: Zoho's timestamps have no finer precision.
fn floor_second(at: Millis) -> Millis {
    Millis(at.0.div_euclid(1000) * 1000)
}

/// The `If-Modified-Since` value that makes Zoho's "modified after" include records modified
/// at or after `since`: one second before `since`'s second, in Zoho's ISO 8601 notation.
pub fn if_modified_since(since: Millis) -> String {
    floor_second(since)
        .plus_ms(-1000)
        .to_timestamp()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%Y-%m-%dT%H:%M:%S%:z")
        .to_string()
}

/// How a list query is asked of Zoho.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListParams {
    pub sort_by: &'static str,
    pub sort_order: &'static str,
    pub since: Option<Millis>,
}

/// The order and filter of a live-records query; `None` for [`PeopleQuery::DeletedSince`].
pub fn list_params(q: &PeopleQuery) -> Option<ListParams> {
    match q {
        PeopleQuery::All {
            updated_since,
            newest_first,
        } => Some(if *newest_first {
            ListParams {
                sort_by: "Modified_Time",
                sort_order: "desc",
                since: *updated_since,
            }
        } else {
            ListParams {
                sort_by: "id",
                sort_order: "asc",
                since: *updated_since,
            }
        }),
        PeopleQuery::ChangedSince { since } => Some(ListParams {
            sort_by: "Modified_Time",
            sort_order: "asc",
            since: Some(*since),
        }),
        PeopleQuery::DeletedSince { .. } => None,
    }
}

/// The list URL of `module` for `params` at `cursor`.
pub fn list_url(
    base: &Url,
    module: &str,
    object: PersonObject,
    params: &ListParams,
    cursor: &Cursor,
) -> Url {
    let mut url = join(base, &format!("/{module}"));
    {
        let mut q = url.query_pairs_mut();
        q.append_pair("fields", fields(object))
            .append_pair("per_page", &per_page().to_string())
            .append_pair("sort_by", params.sort_by)
            .append_pair("sort_order", params.sort_order);
        match cursor {
            Cursor::Page(n) => q.append_pair("page", &n.to_string()),
            Cursor::Token(t) => q.append_pair("page_token", t),
        };
    }
    url
}

/// The body of a 2xx list answer; 204 (no records) and 304 (none modified) are empty.
fn records<T: serde::de::DeserializeOwned>(
    resp: &HttpResponse,
) -> Result<Option<RecordsResponse<T>>, ConnectorError> {
    match resp.status.as_u16() {
        204 | 304 => Ok(None),
        s if (200..300).contains(&s) => resp.json(P.as_str()).map(Some),
        _ => Err(classify(resp)),
    }
}

/// The cursor after a page read at `at`: Zoho's token when it gave one, else the next page
/// number (which [`check_page`] refuses past the 2,000th record).
fn next_cursor(
    at: &Cursor,
    more: bool,
    token: Option<String>,
) -> Result<Option<Cursor>, ConnectorError> {
    if !more {
        return Ok(None);
    }
    if let Some(t) = token.filter(|t| !t.is_empty()) {
        return Ok(Some(Cursor::Token(t)));
    }
    match at {
        Cursor::Page(n) => Ok(Some(Cursor::Page(n.saturating_add(1)))),
        Cursor::Token(_) => Err(protocol(
            "a page read with a page_token says more records follow but names no next token",
        )),
    }
}

async fn list_page(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    params: ListParams,
    cursor: Option<&str>,
) -> Result<PeoplePage, ConnectorError> {
    let module = module(object)?;
    let at = match cursor {
        None => Cursor::Page(1),
        Some(c) => Cursor::decode(c).ok_or_else(|| cursor_invalid("a Zoho page or page_token"))?,
    };
    if let Cursor::Page(n) = at {
        check_page(n)?;
    }
    let url = list_url(&client::api_base(ep, s)?, module, object, &params, &at);
    let mut req = OutgoingRequest::get(P.as_str(), url);
    if let Some(since) = params.since {
        let value = http::HeaderValue::from_str(&if_modified_since(since)).map_err(|_| {
            ConnectorError::Config("If-Modified-Since is not a header value".into())
        })?;
        req = req.header(http::header::IF_MODIFIED_SINCE, value);
    }
    let resp = client::send(http, ep, s, req).await?;
    let body = records::<Person>(&resp).map_err(|e| match e {
        ConnectorError::Invalid { field, message, .. }
            if matches!(at, Cursor::Token(_)) && field.as_deref() == Some("page_token") =>
        {
            invalid("cursor_expired", "cursor", message)
        }
        e => e,
    })?;
    let Some(body) = body else {
        return Ok(PeoplePage {
            people: Vec::new(),
            next: None,
            api_calls: 1,
        });
    };
    let floor = params.since.map(floor_second);
    let mut people = Vec::with_capacity(body.data.len());
    for p in body.data {
        let person = mapping::person(object, p)?;
        if floor.is_none_or(|f| person.updated_at >= f) {
            people.push(person);
        }
    }
    let info = body.info.unwrap_or_default();
    let next = next_cursor(&at, info.more_records, info.next_page_token)?;
    Ok(PeoplePage {
        people,
        next: next.map(|c| c.encode()),
        api_calls: 1,
    })
}

async fn deleted_page(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    since: Millis,
    cursor: Option<&str>,
) -> Result<PeoplePage, ConnectorError> {
    let module = module(object)?;
    let page = match cursor.map(Cursor::decode) {
        None => 1,
        Some(Some(Cursor::Page(n))) => n,
        Some(_) => return Err(cursor_invalid("a page of Zoho's deleted records")),
    };
    check_page(page)?;
    let mut url = join(&client::api_base(ep, s)?, &format!("/{module}/deleted"));
    url.query_pairs_mut()
        .append_pair("type", "all")
        .append_pair("per_page", &per_page().to_string())
        .append_pair("page", &page.to_string());
    let resp = client::send(http, ep, s, OutgoingRequest::get(P.as_str(), url)).await?;
    let Some(body) = records::<DeletedRecord>(&resp)? else {
        return Ok(PeoplePage {
            people: Vec::new(),
            next: None,
            api_calls: 1,
        });
    };
    let floor = floor_second(since);
    let mut people = Vec::with_capacity(body.data.len());
    let mut reached_older = false;
    for d in body.data {
        let person = mapping::deleted_person(object, d)?;
        if person.updated_at < floor {
            // Newest first: everything after this one is older still.
            reached_older = true;
            break;
        }
        people.push(person);
    }
    let more = !reached_older && body.info.is_some_and(|i| i.more_records);
    Ok(PeoplePage {
        people,
        next: more.then(|| Cursor::Page(page.saturating_add(1)).encode()),
        api_calls: 1,
    })
}

/// One page of `q` for `object`, starting at `cursor` (None = the first page).
pub async fn page(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    q: &PeopleQuery,
    cursor: Option<&str>,
) -> Result<PeoplePage, ConnectorError> {
    match (q, list_params(q)) {
        (PeopleQuery::DeletedSince { since }, _) => {
            deleted_page(http, ep, s, object, *since, cursor).await
        }
        (_, Some(params)) => list_page(http, ep, s, object, params, cursor).await,
        (_, None) => Err(protocol("a live-records query without list parameters")),
    }
}

/// A Zoho record id: up to 19 digits (a 64-bit number written as a string).
pub fn is_record_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 19 && s.bytes().all(|b| b.is_ascii_digit())
}

fn check_id(id: &str) -> Result<(), ConnectorError> {
    if is_record_id(id) {
        Ok(())
    } else {
        Err(invalid(
            "id_invalid",
            "remote_id",
            "not a Zoho CRM record id (up to 19 digits)",
        ))
    }
}

/// The live records among `ids` (any count), [`IDS_PER_CALL`] a call. Unknown and deleted ids
/// are absent from the answer. Every id must be a Zoho record id; one that is not refuses the
/// whole call before anything is sent.
pub async fn by_ids(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    ids: &[String],
) -> Result<Vec<RemotePerson>, ConnectorError> {
    let module = module(object)?;
    for id in ids {
        check_id(id)?;
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let base = client::api_base(ep, s)?;
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_CALL) {
        let mut url = join(&base, &format!("/{module}"));
        url.query_pairs_mut()
            .append_pair("ids", &chunk.join(","))
            .append_pair("fields", fields(object));
        let resp = client::send(http, ep, s, OutgoingRequest::get(P.as_str(), url)).await?;
        if let Some(body) = records::<Person>(&resp)? {
            for p in body.data {
                out.push(mapping::person(object, p)?);
            }
        }
    }
    Ok(out)
}

/// The PUT body of `u`: `{"data": [{…}]}` with Zoho's field names, `null` to clear a field
/// (https://www.zoho.com/crm/developer/docs/api/v8/update-specific-record.html).
pub fn update_body(u: &PersonUpdate) -> Value {
    let mut record = Map::new();
    for (name, value) in [
        ("Last_Name", &u.last_name),
        ("First_Name", &u.first_name),
        ("Phone", &u.phone),
        ("Email", &u.email),
        ("Description", &u.description),
    ] {
        if let Some(v) = value {
            record.insert(
                name.into(),
                text(Some(v.clone())).map_or(Value::Null, Value::String),
            );
        }
    }
    json!({ "data": [record] })
}

/// Writes the `Some` fields of `u` to the record: `PUT /{module}/{id}`. The same PUT twice
/// leaves the same record, so it may be retried. Zoho reports a refused record inside the
/// answer's `data` (with 400 when it was the only one, but the same shape may come with 200,
/// 202 or 207): `MANDATORY_NOT_FOUND` and `INVALID_DATA` become an `Invalid` naming the
/// field's `api_name`; an id Zoho does not know (deleted) is `NotFound`.
pub async fn update(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    remote_id: &str,
    u: &PersonUpdate,
) -> Result<(), ConnectorError> {
    let module = module(object)?;
    check_id(remote_id)?;
    if u.is_empty() {
        return Ok(());
    }
    let url = join(&client::api_base(ep, s)?, &format!("/{module}/{remote_id}"));
    let req = OutgoingRequest::new(P.as_str(), Method::PUT, url)
        .json(update_body(u))
        .idempotent(true);
    let resp = client::send(http, ep, s, req).await?;
    let result = serde_json::from_slice::<WriteResponse>(&resp.body)
        .ok()
        .and_then(|w| w.data.into_iter().next());
    match result {
        Some(r) if r.status == "error" => {
            let is_id = r.code == "INVALID_DATA"
                && r.details.get("api_name").and_then(Value::as_str) == Some("id");
            Err(if is_id {
                ConnectorError::NotFound {
                    provider: P.as_str(),
                    what: format!("{module} record {remote_id}"),
                }
            } else {
                classify_error(
                    resp.status.as_u16(),
                    &resp.headers,
                    ApiError {
                        code: r.code,
                        message: r.message,
                        details: r.details,
                    },
                )
            })
        }
        _ if !resp.status.is_success() => Err(classify(&resp)),
        Some(r) if r.status == "success" => Ok(()),
        _ => Err(protocol(format!(
            "the update answered HTTP {} without a record result",
            resp.status.as_u16()
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_round_trip_and_refuse_strangers() {
        let good = [
            Cursor::Page(1),
            Cursor::Page(10),
            Cursor::Token("c8582e7cb1f2aed2ebfd5b25ae0dbe3a".into()),
        ];
        for c in good {
            assert_eq!(Cursor::decode(&c.encode()), Some(c.clone()), "{c:?}");
        }
        let bad = [
            "",
            "page:",
            "page:0",
            "page:-1",
            "page:+2",
            "page:1x",
            "page:99999999999",
            "token:",
            "token:a b",
            "3",
            "/services/data/v62.0/query/01g-2000",
        ];
        for s in bad {
            assert_eq!(Cursor::decode(s), None, "{s}");
        }
    }

    #[test]
    fn pages_past_the_2000th_record_are_refused_without_a_call() {
        for (page, ok) in [(1, true), (10, true), (11, false), (u32::MAX, false)] {
            assert_eq!(check_page(page).is_ok(), ok, "{page}");
        }
        let e = check_page(11).unwrap_err();
        assert!(
            matches!(&e, ConnectorError::Invalid { code, .. } if code == "LIMIT_REACHED"),
            "{e:?}"
        );
    }

    #[test]
    fn next_cursor_prefers_the_token() {
        let cases: Vec<(Cursor, bool, Option<&str>, Option<Cursor>)> = vec![
            (Cursor::Page(1), false, Some("t"), None),
            (
                Cursor::Page(1),
                true,
                Some("t"),
                Some(Cursor::Token("t".into())),
            ),
            (Cursor::Page(1), true, None, Some(Cursor::Page(2))),
            (Cursor::Page(3), true, Some(""), Some(Cursor::Page(4))),
            (
                Cursor::Token("a".into()),
                true,
                Some("b"),
                Some(Cursor::Token("b".into())),
            ),
            (Cursor::Token("a".into()), false, None, None),
        ];
        for (at, more, token, want) in cases {
            assert_eq!(
                next_cursor(&at, more, token.map(str::to_owned)).unwrap(),
                want,
                "{at:?} {more} {token:?}"
            );
        }
        assert!(next_cursor(&Cursor::Token("a".into()), true, None).is_err());
    }

    #[test]
    fn if_modified_since_is_a_second_before_the_second_of_since() {
        let cases = [
            (Millis(1_705_311_000_000), "2024-01-15T09:29:59+00:00"),
            (Millis(1_705_311_000_999), "2024-01-15T09:29:59+00:00"),
            (Millis(1_705_311_001_000), "2024-01-15T09:30:00+00:00"),
        ];
        for (at, want) in cases {
            assert_eq!(if_modified_since(at), want, "{at:?}");
        }
    }

    #[test]
    fn list_params_per_query() {
        let t = Millis(1_705_311_000_000);
        let cases = [
            (
                PeopleQuery::All {
                    updated_since: None,
                    newest_first: false,
                },
                Some(("id", "asc", None)),
            ),
            (
                PeopleQuery::All {
                    updated_since: Some(t),
                    newest_first: true,
                },
                Some(("Modified_Time", "desc", Some(t))),
            ),
            (
                PeopleQuery::ChangedSince { since: t },
                Some(("Modified_Time", "asc", Some(t))),
            ),
            (PeopleQuery::DeletedSince { since: t }, None),
        ];
        for (q, want) in cases {
            let got = list_params(&q).map(|p| (p.sort_by, p.sort_order, p.since));
            assert_eq!(got, want, "{q:?}");
        }
    }

    #[test]
    fn record_ids() {
        let cases = [
            ("5725767000000400169", true),
            ("1", true),
            ("57257670000004001690", false),
            ("", false),
            ("5725767000000400169,1", false),
            ("abc", false),
        ];
        for (id, ok) in cases {
            assert_eq!(is_record_id(id), ok, "{id}");
        }
    }

    #[test]
    fn update_bodies_carry_only_the_given_fields() {
        let cases = [
            (
                PersonUpdate {
                    last_name: Some("佐藤".into()),
                    email: Some(String::new()),
                    ..Default::default()
                },
                json!({"data": [{"Last_Name": "佐藤", "Email": null}]}),
            ),
            (
                PersonUpdate {
                    first_name: Some(" 花子 ".into()),
                    phone: Some("03-1234-5678".into()),
                    description: Some("memo".into()),
                    ..Default::default()
                },
                json!({"data": [{"First_Name": "花子", "Phone": "03-1234-5678", "Description": "memo"}]}),
            ),
        ];
        for (u, want) in cases {
            assert_eq!(update_body(&u), want, "{u:?}");
        }
    }
}
