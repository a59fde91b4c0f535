//! Maps the shared demo people (`crate::seed`) onto Salesforce objects: companies become
//! Accounts, people at a company become Contacts of that Account (every third one a Lead
//! instead, as if not yet qualified), people without a company become Leads with Salesforce's
//! `[not provided]` company placeholder (the value Web-to-Lead uses); every other Account gets an
//! Opportunity with a meeting-room URL, and every fifth Contact a logged call (a Task).

use serde_json::{Value, json};

use super::schema::{self, ObjId};
use super::store::{Org, Record, Val};

fn rec(org: &mut Org, now: i64, fields: Vec<(u16, Val)>) -> Record {
    let admin = org.admin().serial;
    Record {
        serial: org.alloc(),
        created: now,
        modified: now,
        deleted: None,
        created_by: admin,
        modified_by: admin,
        fields,
    }
}

/// Builds a field list from `(name, value)` pairs of `obj`, skipping empty values.
fn fields(obj: ObjId, pairs: &[(&str, Option<Val>)]) -> Vec<(u16, Val)> {
    let o = schema::obj(obj);
    pairs
        .iter()
        .filter_map(|(n, v)| {
            let (i, _) = o.field(n)?;
            v.clone().map(|v| (i, v))
        })
        .collect()
}

fn s(v: &str) -> Option<Val> {
    Some(Val::Str(v.into()))
}

fn os(v: &Option<String>) -> Option<Val> {
    v.as_deref().map(|x| Val::Str(x.into()))
}

/// Seeds `count` people (and their companies) from `seed` into `org`. Answers the summary.
pub fn seed(org: &mut Org, seed: u64, count: usize, now: i64) -> Value {
    let data = crate::seed::generate(seed, count);
    let owner = org.user_id(org.admin().serial);
    let mut account_ids = Vec::with_capacity(data.companies.len());
    let mut n_opps = 0;
    for (ci, c) in data.companies.iter().enumerate() {
        let f = fields(
            schema::ACCOUNT,
            &[
                ("Name", s(&c.name)),
                ("Phone", os(&c.phone)),
                ("Website", s(&format!("https://www.{}", c.domain))),
                ("BillingCity", s(&c.city)),
                (
                    "BillingCountry",
                    s(if c.japanese { "Japan" } else { "United States" }),
                ),
                ("Industry", s(c.industry)),
                ("Type", s("Prospect")),
                ("OwnerId", s(&owner)),
                ("External_Id__c", s(&format!("seed-{seed}-company-{ci}"))),
            ],
        );
        let r = rec(org, now, f);
        let serial = org.insert_raw(schema::ACCOUNT, r);
        let id = org.id_of(schema::ACCOUNT, serial);
        if ci % 2 == 0 {
            let close = jiff::Timestamp::from_millisecond(now + 30 * 86_400_000)
                .map(|t| t.to_zoned(jiff::tz::TimeZone::UTC).date().to_string())
                .unwrap_or_else(|_| "2030-01-01".into());
            let f = fields(
                schema::OPPORTUNITY,
                &[
                    ("Name", s(&format!("{} — 導入相談 / onboarding", c.name))),
                    ("AccountId", s(&id)),
                    ("StageName", s("Qualification")),
                    ("CloseDate", s(&close)),
                    (
                        "Amount",
                        Some(Val::Num(((ci % 7) as f64 + 1.0) * 500_000.0)),
                    ),
                    (
                        "Room_URL__c",
                        s(&format!(
                            "https://meet.example.com/room/{}-{ci}",
                            c.domain.split('.').next().unwrap_or("room")
                        )),
                    ),
                    ("OwnerId", s(&owner)),
                ],
            );
            let r = rec(org, now, f);
            org.insert_raw(schema::OPPORTUNITY, r);
            n_opps += 1;
        }
        account_ids.push(id);
    }
    let (mut n_contacts, mut n_leads, mut n_tasks) = (0usize, 0usize, 0usize);
    for (pi, p) in data.people.iter().enumerate() {
        let last = p
            .last_name
            .clone()
            .or_else(|| {
                p.email
                    .as_ref()
                    .and_then(|e| e.split('@').next().map(str::to_owned))
            })
            .unwrap_or_else(|| "[not provided]".into());
        let as_lead = p.company.is_none() || pi % 3 == 0;
        let title = p.title.map(|t| Val::Str(t.into()));
        if as_lead {
            let company = p
                .company
                .map(|c| data.companies[c].name.clone())
                .unwrap_or_else(|| "[not provided]".into());
            let f = fields(
                schema::LEAD,
                &[
                    ("FirstName", os(&p.first_name)),
                    ("LastName", s(&last)),
                    ("Company", s(&company)),
                    ("Email", os(&p.email)),
                    ("Phone", os(&p.phone)),
                    ("MobilePhone", os(&p.mobile)),
                    ("Title", title),
                    ("City", s(&p.city)),
                    (
                        "Country",
                        s(if p.japanese { "Japan" } else { "United States" }),
                    ),
                    ("Status", s("Open - Not Contacted")),
                    (
                        "LeadSource",
                        s(if pi % 2 == 0 { "Web" } else { "Phone Inquiry" }),
                    ),
                    ("IsConverted", Some(Val::Bool(false))),
                    ("OwnerId", s(&owner)),
                ],
            );
            let r = rec(org, now, f);
            org.insert_raw(schema::LEAD, r);
            n_leads += 1;
            continue;
        }
        let account = p.company.map(|c| account_ids[c].clone());
        let f = fields(
            schema::CONTACT,
            &[
                ("FirstName", os(&p.first_name)),
                ("LastName", s(&last)),
                ("AccountId", account.as_deref().and_then(s)),
                ("Email", os(&p.email)),
                ("Phone", os(&p.phone)),
                ("MobilePhone", os(&p.mobile)),
                ("Title", title),
                ("MailingCity", s(&p.city)),
                ("OwnerId", s(&owner)),
            ],
        );
        let r = rec(org, now, f);
        let serial = org.insert_raw(schema::CONTACT, r);
        n_contacts += 1;
        if n_contacts % 5 == 0 {
            let who = org.id_of(schema::CONTACT, serial);
            let f = fields(
                schema::TASK,
                &[
                    ("Subject", s("Call / 電話")),
                    ("WhoId", s(&who)),
                    ("WhatId", account.as_deref().and_then(s)),
                    ("Status", s("Completed")),
                    ("Priority", s("Normal")),
                    ("TaskSubtype", s("Call")),
                    ("CallType", s("Inbound")),
                    (
                        "CallDurationInSeconds",
                        Some(Val::Num(((pi % 9) * 60 + 30) as f64)),
                    ),
                    ("OwnerId", s(&owner)),
                ],
            );
            let r = rec(org, now, f);
            org.insert_raw(schema::TASK, r);
            n_tasks += 1;
        }
    }
    json!({
        "account": org.id,
        "instance": org.slug,
        "created": {
            "Account": data.companies.len(),
            "Contact": n_contacts,
            "Lead": n_leads,
            "Opportunity": n_opps,
            "Task": n_tasks,
        },
    })
}
