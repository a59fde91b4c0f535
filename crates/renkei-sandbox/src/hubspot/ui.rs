//! `GET /_ui`: the portals, and per object type the count and the most recent records of the
//! chosen portal (`?account=HUB_ID`, default the first).

use std::collections::HashMap;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};

use super::Hubspot;
use super::store::{ALL_TYPES, iso};
use crate::ui::{Table, page as render};

/// How many records each table shows.
const SHOWN: usize = 20;

pub async fn page(
    State(hs): State<Arc<Hubspot>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let state = hs.read();
    let accounts: Vec<(String, String)> = state
        .portals
        .iter()
        .map(|p| (p.id.to_string(), p.name.clone()))
        .collect();
    let idx = q.get("account").and_then(|a| state.find(a)).unwrap_or(0);
    let p = state.portal(idx);
    let mut tables = Vec::new();
    for ty in ALL_TYPES {
        let t = p.table(ty);
        let shown: Vec<&str> = ty
            .default_props()
            .iter()
            .copied()
            .filter(|n| *n != "hs_object_id" && *n != ty.created_prop() && *n != ty.modified_prop())
            .chain(ty.query_props().iter().copied())
            .fold(Vec::new(), |mut acc, n| {
                if !acc.contains(&n) && acc.len() < 6 {
                    acc.push(n);
                }
                acc
            });
        let mut columns = vec!["id".to_owned()];
        columns.extend(shown.iter().map(|s| (*s).to_owned()));
        columns.push("updatedAt".into());
        let rows: Vec<Vec<String>> = t
            .records
            .values()
            .rev()
            .filter(|r| r.archived_ms.is_none())
            .take(SHOWN)
            .map(|r| {
                let mut row = vec![r.id.to_string()];
                row.extend(shown.iter().map(|n| t.value(r, n).unwrap_or_default()));
                row.push(iso(r.updated_ms));
                row
            })
            .collect();
        tables.push(Table {
            object: ty.name().to_owned(),
            total: t.live,
            columns,
            rows,
        });
    }
    render("HubSpot", &accounts, &p.id.to_string(), &tables).into_response()
}
