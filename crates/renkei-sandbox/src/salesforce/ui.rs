//! The `/_ui` page: the orgs, and per CRM object the record count and the most recent records.
//! Users and the Organization record are left out: they exist in every fresh org, and the page
//! is for seeing what renkei wrote.

use super::schema;
use super::store::{Org, val_text};
use crate::ui::Table;

const SHOWN: usize = 15;

/// The columns shown per object.
fn columns(obj: &str) -> &'static [&'static str] {
    match obj {
        "Account" => &[
            "Id",
            "Name",
            "Phone",
            "Website",
            "BillingCity",
            "LastModifiedDate",
        ],
        "Contact" => &[
            "Id",
            "Name",
            "Email",
            "Phone",
            "MobilePhone",
            "AccountId",
            "LastModifiedDate",
        ],
        "Lead" => &[
            "Id",
            "Name",
            "Company",
            "Email",
            "Phone",
            "Status",
            "LastModifiedDate",
        ],
        "Opportunity" => &[
            "Id",
            "Name",
            "StageName",
            "Amount",
            "CloseDate",
            "Room_URL__c",
            "LastModifiedDate",
        ],
        "Event" => &[
            "Id",
            "Subject",
            "WhoId",
            "WhatId",
            "StartDateTime",
            "EndDateTime",
        ],
        "Note" => &["Id", "Title", "ParentId", "LastModifiedDate"],
        "Project__c" => &[
            "Id",
            "Name",
            "Account__c",
            "Status__c",
            "Due_Date__c",
            "LastModifiedDate",
        ],
        _ => &[
            "Id",
            "Subject",
            "WhoId",
            "WhatId",
            "Status",
            "LastModifiedDate",
        ],
    }
}

pub fn tables(org: &Org) -> Vec<Table> {
    [
        schema::ACCOUNT,
        schema::CONTACT,
        schema::LEAD,
        schema::OPPORTUNITY,
        schema::TASK,
        schema::EVENT,
        schema::NOTE,
        schema::PROJECT,
    ]
    .iter()
    .map(|&obj| {
        let o = schema::obj(obj);
        let cols = columns(o.name);
        let idx: Vec<u16> = cols
            .iter()
            .filter_map(|c| o.field(c).map(|(i, _)| i))
            .collect();
        let t = &org.tables[obj];
        let rows = t
            .records
            .values()
            .rev()
            .filter(|r| r.deleted.is_none())
            .take(SHOWN)
            .map(|r| {
                idx.iter()
                    .map(|i| {
                        org.value(obj, r, *i)
                            .map(|v| val_text(&v))
                            .unwrap_or_default()
                    })
                    .collect()
            })
            .collect();
        Table {
            object: o.name.to_owned(),
            total: t.live,
            columns: cols.iter().map(|c| (*c).to_owned()).collect(),
            rows,
        }
    })
    .collect()
}
