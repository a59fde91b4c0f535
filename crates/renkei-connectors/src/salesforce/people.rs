//! Salesforce Leads and Contacts as renkei's people: one page of a [`PeopleQuery`] ([`page`]),
//! records by id ([`by_ids`]) and the two-way write ([`update`]).
//!
//! Every read is a SOQL query on the org's instance
//! (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/resources_query.htm)
//! asking for 2,000 records a page with `Sforce-Query-Options: batchSize=2000`. Salesforce keeps
//! the query's result server-side and names the next page with an instance-relative
//! `nextRecordsUrl`, which is the cursor: paging neither re-runs the query nor sees records move
//! between pages. Salesforce drops an unused query locator after a while (and keeps a bounded
//! number open per user); resuming with a cursor it no longer knows is answered
//! `INVALID_QUERY_LOCATOR`, which [`page`] reports as [`ConnectorError::Invalid`] with the code
//! `cursor_expired`: the caller starts the query again (narrowed by what it has already seen).
//!
//! Leads are read with `IsConverted = false`: a converted lead lives on as its Contact, and
//! importing both would double the person. For the same reason a lead's conversion counts as
//! its end: [`PeopleQuery::DeletedSince`] on Leads reports converted leads beside deleted ones,
//! so that a lead imported before its conversion does not linger next to its Contact.
//!
//! Time filters compare `SystemModstamp` (moved by every change, the system's included) with a
//! SOQL dateTime literal in whole seconds, rounded down: the filter keeps everything modified at
//! or after `since` and possibly a little before it within the same second, which an inclusive
//! window allows.

use http::Method;
use renkei_core::Millis;
use serde_json::{Map, Value};

use crate::http::{HttpClient, OutgoingRequest};
use crate::people::{
    PeoplePage, PeopleQuery, PersonObject, PersonUpdate, RemotePerson, max_page_size, text,
};
use crate::registry::{Endpoints, join};
use crate::{ConnectorError, Provider, Session};

use super::API_VERSION;
use super::client::{self, QueryResource, classify};
use super::mapping;
use super::wire::{Person, QueryPage};

const P: Provider = Provider::Salesforce;

/// How many ids one `WHERE Id IN (…)` names. 200 ids keep the query (and the URL it travels
/// in) far below Salesforce's limits on SOQL and URI length.
pub const IDS_PER_QUERY: usize = 200;

pub(crate) const LEAD_FIELDS: &str = "Id, FirstName, LastName, Name, Company, Email, Phone, MobilePhone, \
     Street, City, State, PostalCode, Country, Title, Description, OwnerId, CreatedDate, \
     SystemModstamp";

pub(crate) const CONTACT_FIELDS: &str = "Id, FirstName, LastName, Name, Account.Name, Email, Phone, \
     MobilePhone, MailingStreet, MailingCity, MailingState, MailingPostalCode, MailingCountry, \
     Title, Department, Description, OwnerId, CreatedDate, SystemModstamp";

/// What a deleted record needs: [`mapping::deleted_person`] reads nothing else.
const DELETED_FIELDS: &str = "Id, SystemModstamp";

fn invalid(code: &str, field: &str, message: impl Into<String>) -> ConnectorError {
    crate::people::invalid(P, code, Some(field), message)
}

fn protocol(message: impl Into<String>) -> ConnectorError {
    crate::people::protocol(P, message)
}

/// The sObject name of `object`, or `object_unsupported`.
fn sobject(object: PersonObject) -> Result<&'static str, ConnectorError> {
    crate::people::remote_object(P, object)
}

fn select_fields(object: PersonObject) -> &'static str {
    match object {
        PersonObject::Lead => LEAD_FIELDS,
        PersonObject::Contact => CONTACT_FIELDS,
    }
}

/// The condition that makes a record one of the people renkei imports.
fn live_filter(object: PersonObject) -> Option<&'static str> {
    match object {
        PersonObject::Lead => Some("IsConverted = false"),
        PersonObject::Contact => None,
    }
}

/// A SOQL dateTime literal (unquoted, UTC) for `at`, rounded down to the second: SOQL's
/// documented dateTime format has no fractional seconds
/// (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_dateformats.htm).
pub fn soql_datetime(at: Millis) -> String {
    let secs = at.0.div_euclid(1000) * 1000;
    format!("{:.0}", Millis(secs).to_timestamp())
}

/// A SOQL string literal: quoted, with backslashes and quotes escaped
/// (https://developer.salesforce.com/docs/atlas.en-us.soql_sosl.meta/soql_sosl/sforce_api_calls_soql_select_quotedstringescapes.htm).
pub(crate) fn soql_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('\'');
    for c in s.chars() {
        if c == '\\' || c == '\'' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('\'');
    out
}

fn statement(fields: &str, sobject: &str, conditions: &[String], order: Option<&str>) -> String {
    let mut q = format!("SELECT {fields} FROM {sobject}");
    if !conditions.is_empty() {
        q.push_str(" WHERE ");
        q.push_str(&conditions.join(" AND "));
    }
    if let Some(o) = order {
        q.push_str(" ORDER BY ");
        q.push_str(o);
    }
    q
}

/// The SOQL statement for `q` on `object`, and the resource it runs on.
pub fn soql(
    object: PersonObject,
    q: &PeopleQuery,
) -> Result<(QueryResource, String), ConnectorError> {
    let name = sobject(object)?;
    let since = |at: Millis| format!("SystemModstamp >= {}", soql_datetime(at));
    let live = live_filter(object).map(str::to_owned);
    Ok(match q {
        PeopleQuery::All {
            updated_since,
            newest_first,
        } => {
            let conditions: Vec<String> =
                live.into_iter().chain(updated_since.map(since)).collect();
            // Without an order Salesforce answers in its cheapest order.
            let order = newest_first.then_some("SystemModstamp DESC");
            (
                QueryResource::Query,
                statement(select_fields(object), name, &conditions, order),
            )
        }
        PeopleQuery::ChangedSince { since: at } => {
            let conditions: Vec<String> = live.into_iter().chain([since(*at)]).collect();
            (
                QueryResource::Query,
                statement(
                    select_fields(object),
                    name,
                    &conditions,
                    Some("SystemModstamp ASC"),
                ),
            )
        }
        PeopleQuery::DeletedSince { since: at } => {
            let gone = match object {
                PersonObject::Lead => "(IsDeleted = true OR IsConverted = true)",
                PersonObject::Contact => "IsDeleted = true",
            };
            (
                QueryResource::QueryAll,
                statement(DELETED_FIELDS, name, &[gone.to_owned(), since(*at)], None),
            )
        }
    })
}

/// The query for the live records among `ids` (already checked by [`check_id`]).
pub fn by_ids_soql(object: PersonObject, ids: &[String]) -> Result<String, ConnectorError> {
    let name = sobject(object)?;
    let list: Vec<String> = ids.iter().map(|id| soql_string(id)).collect();
    let conditions: Vec<String> = live_filter(object)
        .map(str::to_owned)
        .into_iter()
        .chain([format!("Id IN ({})", list.join(", "))])
        .collect();
    Ok(statement(select_fields(object), name, &conditions, None))
}

/// A Salesforce record id: 15 case-sensitive or 18 case-safe alphanumerics
/// (https://developer.salesforce.com/docs/atlas.en-us.api.meta/api/field_types.htm#i1435616).
pub fn is_record_id(s: &str) -> bool {
    (s.len() == 15 || s.len() == 18) && s.bytes().all(|b| b.is_ascii_alphanumeric())
}

fn check_id(id: &str) -> Result<(), ConnectorError> {
    if is_record_id(id) {
        Ok(())
    } else {
        Err(invalid(
            "id_invalid",
            "remote_id",
            "not a Salesforce record id (15 or 18 letters and digits)",
        ))
    }
}

/// Whether `next` is a `nextRecordsUrl` of `resource`:
/// `/services/data/vNN.N/{query|queryAll}/{locator}-{offset}`. Anything else is refused before
/// it is joined to the instance URL.
pub fn is_next_records_url(resource: QueryResource, next: &str) -> bool {
    let Some(rest) = next.strip_prefix("/services/data/v") else {
        return false;
    };
    let Some((version, rest)) = rest.split_once('/') else {
        return false;
    };
    let version_ok = version.split_once('.').is_some_and(|(major, minor)| {
        !major.is_empty()
            && !minor.is_empty()
            && major.bytes().all(|b| b.is_ascii_digit())
            && minor.bytes().all(|b| b.is_ascii_digit())
    });
    let Some(locator) = rest
        .strip_prefix(resource.as_str())
        .and_then(|r| r.strip_prefix('/'))
    else {
        return false;
    };
    version_ok
        && !locator.is_empty()
        && locator
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

fn map_records(
    object: PersonObject,
    deleted: bool,
    records: Vec<Person>,
) -> Result<Vec<RemotePerson>, ConnectorError> {
    records
        .into_iter()
        .map(|r| {
            if deleted {
                mapping::deleted_person(object, r)
            } else {
                mapping::person(object, r)
            }
        })
        .collect()
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
    let (resource, statement) = soql(object, q)?;
    let base = client::instance(ep, s)?;
    let url = match cursor {
        None => client::query_url(&base, resource, &statement),
        Some(c) if is_next_records_url(resource, c) => client::next_records_url(&base, c),
        Some(_) => {
            return Err(invalid(
                "cursor_invalid",
                "cursor",
                format!(
                    "the cursor is not a Salesforce {} nextRecordsUrl",
                    resource.as_str()
                ),
            ));
        }
    };
    let page: QueryPage<Person> = client::query_page(http, ep, s, url, max_page_size(P))
        .await
        .map_err(|e| match e {
            ConnectorError::Invalid { code, message, .. }
                if cursor.is_some() && code == "INVALID_QUERY_LOCATOR" =>
            {
                invalid("cursor_expired", "cursor", message)
            }
            e => e,
        })?;
    let next = match (page.done, page.next_records_url) {
        (true, _) => None,
        (false, Some(n)) if is_next_records_url(resource, &n) => Some(n),
        (false, Some(_)) => {
            return Err(protocol(
                "the query answered a nextRecordsUrl of an unknown shape",
            ));
        }
        // Stopping here would end an import early without anyone noticing.
        (false, None) => {
            return Err(protocol(
                "a query page has done: false but no nextRecordsUrl",
            ));
        }
    };
    let deleted = resource == QueryResource::QueryAll;
    Ok(PeoplePage {
        people: map_records(object, deleted, page.records)?,
        next,
        api_calls: 1,
    })
}

/// The live records among `ids` (any count), `IDS_PER_QUERY` a query. Unknown, deleted and
/// (for Leads) converted records are absent from the answer. Every id must be a Salesforce
/// record id; one that is not refuses the whole call before anything is sent.
pub async fn by_ids(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    ids: &[String],
) -> Result<Vec<RemotePerson>, ConnectorError> {
    sobject(object)?;
    for id in ids {
        check_id(id)?;
    }
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let base = client::instance(ep, s)?;
    let mut out = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(IDS_PER_QUERY) {
        let mut url = client::query_url(&base, QueryResource::Query, &by_ids_soql(object, chunk)?);
        // One chunk fits in one batch; following nextRecordsUrl anyway costs nothing.
        loop {
            let page: QueryPage<Person> =
                client::query_page(http, ep, s, url, max_page_size(P)).await?;
            out.extend(map_records(object, false, page.records)?);
            match (page.done, page.next_records_url) {
                (true, _) => break,
                (false, Some(n)) if is_next_records_url(QueryResource::Query, &n) => {
                    url = client::next_records_url(&base, &n);
                }
                (false, _) => {
                    return Err(protocol(
                        "a query page has done: false but no usable nextRecordsUrl",
                    ));
                }
            }
        }
    }
    Ok(out)
}

/// The PATCH body of `u`: Salesforce's field names, `null` to clear a field
/// (https://developer.salesforce.com/docs/atlas.en-us.api_rest.meta/api_rest/dome_update_fields.htm).
pub fn update_body(u: &PersonUpdate) -> Value {
    let mut body = Map::new();
    for (name, value) in [
        ("LastName", &u.last_name),
        ("FirstName", &u.first_name),
        ("Phone", &u.phone),
        ("Email", &u.email),
        ("Description", &u.description),
    ] {
        if let Some(v) = value {
            body.insert(
                name.into(),
                text(Some(v.clone())).map_or(Value::Null, Value::String),
            );
        }
    }
    Value::Object(body)
}

/// Writes the `Some` fields of `u` to the record: `PATCH /sobjects/{Lead|Contact}/{id}`, 204.
/// The same PATCH twice leaves the same record, so it may be retried. Clearing `LastName` is
/// refused by Salesforce (`REQUIRED_FIELD_MISSING`, an `Invalid` naming the field); a deleted
/// record is `NotFound`.
pub async fn update(
    http: &HttpClient,
    ep: &Endpoints,
    s: Session<'_>,
    object: PersonObject,
    remote_id: &str,
    u: &PersonUpdate,
) -> Result<(), ConnectorError> {
    let name = sobject(object)?;
    check_id(remote_id)?;
    if u.is_empty() {
        return Ok(());
    }
    let base = client::instance(ep, s)?;
    let url = join(
        &base,
        &format!("/services/data/{API_VERSION}/sobjects/{name}/{remote_id}"),
    );
    let req = OutgoingRequest::new(P.as_str(), Method::PATCH, url)
        .bearer(s.access_token)
        .json(update_body(u))
        .idempotent(true);
    let resp = http.send(&ep.allow, s.paced(P, req)).await?;
    if resp.status.is_success() {
        Ok(())
    } else {
        Err(classify(&resp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: Millis = Millis(1_705_311_000_123); // 2024-01-15T09:30:00.123Z

    #[test]
    fn soql_per_query() {
        let cases: Vec<(PersonObject, PeopleQuery, QueryResource, String)> = vec![
            (
                PersonObject::Lead,
                PeopleQuery::All {
                    updated_since: None,
                    newest_first: false,
                },
                QueryResource::Query,
                format!("SELECT {LEAD_FIELDS} FROM Lead WHERE IsConverted = false"),
            ),
            (
                PersonObject::Contact,
                PeopleQuery::All {
                    updated_since: None,
                    newest_first: false,
                },
                QueryResource::Query,
                format!("SELECT {CONTACT_FIELDS} FROM Contact"),
            ),
            (
                PersonObject::Lead,
                PeopleQuery::All {
                    updated_since: Some(T),
                    newest_first: true,
                },
                QueryResource::Query,
                format!(
                    "SELECT {LEAD_FIELDS} FROM Lead WHERE IsConverted = false AND SystemModstamp >= 2024-01-15T09:30:00Z ORDER BY SystemModstamp DESC"
                ),
            ),
            (
                PersonObject::Contact,
                PeopleQuery::All {
                    updated_since: None,
                    newest_first: true,
                },
                QueryResource::Query,
                format!("SELECT {CONTACT_FIELDS} FROM Contact ORDER BY SystemModstamp DESC"),
            ),
            (
                PersonObject::Contact,
                PeopleQuery::ChangedSince { since: T },
                QueryResource::Query,
                format!(
                    "SELECT {CONTACT_FIELDS} FROM Contact WHERE SystemModstamp >= 2024-01-15T09:30:00Z ORDER BY SystemModstamp ASC"
                ),
            ),
            (
                PersonObject::Lead,
                PeopleQuery::DeletedSince { since: T },
                QueryResource::QueryAll,
                "SELECT Id, SystemModstamp FROM Lead WHERE (IsDeleted = true OR IsConverted = true) AND SystemModstamp >= 2024-01-15T09:30:00Z".to_owned(),
            ),
            (
                PersonObject::Contact,
                PeopleQuery::DeletedSince { since: T },
                QueryResource::QueryAll,
                "SELECT Id, SystemModstamp FROM Contact WHERE IsDeleted = true AND SystemModstamp >= 2024-01-15T09:30:00Z".to_owned(),
            ),
        ];
        for (object, q, resource, want) in cases {
            let (r, got) = soql(object, &q).unwrap();
            assert_eq!(
                (r, got.as_str()),
                (resource, want.as_str()),
                "{object:?} {q:?}"
            );
        }
    }

    #[test]
    fn datetime_literals_round_down_to_the_second() {
        let cases = [
            (Millis(1_705_311_000_000), "2024-01-15T09:30:00Z"),
            (Millis(1_705_311_000_999), "2024-01-15T09:30:00Z"),
            (Millis(1_705_311_001_000), "2024-01-15T09:30:01Z"),
            (Millis(-1), "1969-12-31T23:59:59Z"),
        ];
        for (at, want) in cases {
            assert_eq!(soql_datetime(at), want, "{at:?}");
        }
    }

    #[test]
    fn by_ids_quotes_every_id() {
        let ids = vec![
            "00Q000000000001AAA".to_owned(),
            "00Q000000000002".to_owned(),
        ];
        assert_eq!(
            by_ids_soql(PersonObject::Lead, &ids).unwrap(),
            format!(
                "SELECT {LEAD_FIELDS} FROM Lead WHERE IsConverted = false AND Id IN ('00Q000000000001AAA', '00Q000000000002')"
            )
        );
        assert_eq!(soql_string(r"a'b\c"), r"'a\'b\\c'");
    }

    #[test]
    fn record_ids() {
        let cases = [
            ("00Q000000000001AAA", true),
            ("00Q000000000001", true),
            ("00Q00000000001", false),
            ("00Q000000000001AAAA", false),
            ("00Q000000000001AA'", false),
            ("00Q0000000000') OR", false),
            ("", false),
            ("００Q000000000001", false),
        ];
        for (id, ok) in cases {
            assert_eq!(is_record_id(id), ok, "{id}");
        }
    }

    #[test]
    fn cursors_are_next_records_urls_of_the_same_resource() {
        use QueryResource::{Query, QueryAll};
        let cases = [
            (
                Query,
                "/services/data/v62.0/query/01gD0000002HU6KIAW-2000",
                true,
            ),
            (
                QueryAll,
                "/services/data/v62.0/queryAll/01gD0000002HU6KIAW-2000",
                true,
            ),
            (Query, "/services/data/v58.0/query/01g-4000", true),
            (Query, "/services/data/v62.0/queryAll/01g-2000", false),
            (QueryAll, "/services/data/v62.0/query/01g-2000", false),
            (Query, "/services/data/v62.0/query/", false),
            (Query, "/services/data/v62.0/query/../sobjects/Lead", false),
            (Query, "/services/data/v62.0/query/01g-2000?x=1", false),
            (Query, "/services/data/vx.0/query/01g-2000", false),
            (
                Query,
                "https://evil.example/services/data/v62.0/query/01g-2000",
                false,
            ),
            (Query, "", false),
            (Query, "page:3", false),
        ];
        for (resource, cursor, ok) in cases {
            assert_eq!(is_next_records_url(resource, cursor), ok, "{cursor}");
        }
    }

    #[test]
    fn update_bodies_carry_only_the_given_fields() {
        let cases = [
            (PersonUpdate::default(), serde_json::json!({})),
            (
                PersonUpdate {
                    last_name: Some("山田".into()),
                    phone: Some(" 03-1234-5678 ".into()),
                    ..Default::default()
                },
                serde_json::json!({"LastName": "山田", "Phone": "03-1234-5678"}),
            ),
            (
                PersonUpdate {
                    email: Some(String::new()),
                    description: Some("  ".into()),
                    first_name: Some("Taro".into()),
                    ..Default::default()
                },
                serde_json::json!({"Email": null, "Description": null, "FirstName": "Taro"}),
            ),
        ];
        for (u, want) in cases {
            assert_eq!(update_body(&u), want, "{u:?}");
        }
    }
}
