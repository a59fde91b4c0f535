//! `_control/seed`: maps the shared demo people ([`crate::seed::generate`]) onto HubSpot
//! companies and contacts in one portal, associates each contact with its company (the
//! primary and the unlabeled contact→company association, as HubSpot's UI creates them), and
//! assigns owners round-robin. Deterministic from the seed; no webhooks are sent.
//!
//! HubSpot refuses a second contact with the same email, so people whose email already exists
//! in the portal (from an earlier seed) are skipped and counted as such.

use serde_json::{Map, Value, json};

use super::Hubspot;
use super::objects::{Values, insert, validate};
use super::store::ObjType;
use crate::control::{ControlError, SeedRequest};
use crate::seed::generate;

/// HubSpot's `industry` option for each demo industry.
fn industry(s: &str) -> &'static str {
    match s {
        "Technology" => "COMPUTER_SOFTWARE",
        "Manufacturing" => "MACHINERY",
        "Retail" => "RETAIL",
        "Finance" => "FINANCIAL_SERVICES",
        "Logistics" => "LOGISTICS_AND_SUPPLY_CHAIN",
        "Construction" => "CONSTRUCTION",
        _ => "FOOD_BEVERAGES",
    }
}

fn props(pairs: &[(&str, Option<&str>)]) -> Map<String, Value> {
    pairs
        .iter()
        .filter_map(|(k, v)| v.map(|v| ((*k).to_owned(), json!(v))))
        .collect()
}

pub fn seed(hs: &Hubspot, req: &SeedRequest) -> Result<Value, ControlError> {
    let data = generate(req.seed, req.count);
    let mut state = hs.write();
    let idx = match &req.account {
        Some(a) => state
            .find(a)
            .ok_or_else(|| ControlError::unknown_account(a))?,
        None => 0,
    };
    let now = hs.env.clock.now_ms();
    let p = state.portal_mut(idx);
    // Only active owners take records; with every owner archived, records get none.
    let owners: Vec<String> = p.active_owner_ids().iter().map(u64::to_string).collect();
    let mut events = Vec::new();
    let total = data.companies.len() + data.people.len();
    // Spread the creation times over the past, one second apart, so that sorting by date
    // means something; the newest record is "now".
    let mut step = total as i64;
    let mut stamp = |v: &mut Values| {
        step -= 1;
        v.created_ms = Some(now - step * 1000);
    };
    let fail = |e: Vec<super::props::Invalid>| {
        ControlError::invalid(format!(
            "seed data rejected: {}",
            e.iter()
                .map(|i| i.message.clone())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    };
    let mut company_ids = Vec::with_capacity(data.companies.len());
    for (i, c) in data.companies.iter().enumerate() {
        let owner = (!owners.is_empty()).then(|| owners[i % owners.len()].as_str());
        let m = props(&[
            ("name", Some(&c.name)),
            ("domain", Some(&c.domain)),
            ("website", Some(&format!("https://www.{}", c.domain))),
            ("phone", c.phone.as_deref()),
            ("city", Some(&c.city)),
            (
                "country",
                Some(if c.japanese { "Japan" } else { "United States" }),
            ),
            ("industry", Some(industry(c.industry))),
            ("hubspot_owner_id", owner),
        ]);
        let mut v = validate(p, ObjType::Companies, &m, true).map_err(fail)?;
        stamp(&mut v);
        let id = insert(p, ObjType::Companies, v, now, &mut events)
            .map_err(|e| ControlError::invalid(format!("{:?}", e.body)))?;
        company_ids.push(id);
    }
    let mut contacts = 0;
    let mut skipped = 0;
    let mut associations = 0;
    for (i, person) in data.people.iter().enumerate() {
        if let Some(e) = &person.email
            && p.table(ObjType::Contacts)
                .by_email
                .contains_key(&e.to_lowercase())
        {
            skipped += 1;
            continue;
        }
        let company = person.company.map(|c| &data.companies[c]);
        let owner = (!owners.is_empty()).then(|| owners[i % owners.len()].as_str());
        let m = props(&[
            ("firstname", person.first_name.as_deref()),
            ("lastname", person.last_name.as_deref()),
            ("email", person.email.as_deref()),
            ("phone", person.phone.as_deref()),
            ("mobilephone", person.mobile.as_deref()),
            ("jobtitle", person.title),
            ("city", Some(&person.city)),
            ("company", company.map(|c| c.name.as_str())),
            (
                "lifecyclestage",
                Some(if i % 3 == 0 { "customer" } else { "lead" }),
            ),
            ("hubspot_owner_id", owner),
        ]);
        let mut v = validate(p, ObjType::Contacts, &m, true).map_err(fail)?;
        stamp(&mut v);
        let Ok(id) = insert(p, ObjType::Contacts, v, now, &mut events) else {
            skipped += 1;
            continue;
        };
        contacts += 1;
        if let Some(c) = person.company {
            let cid = company_ids[c];
            p.associate((ObjType::Contacts, id), (ObjType::Companies, cid), 279);
            p.associate((ObjType::Contacts, id), (ObjType::Companies, cid), 1);
            if let Some((idx, _)) = p.table(ObjType::Contacts).prop("associatedcompanyid")
                && let Some(r) = p.table_mut(ObjType::Contacts).records.get_mut(&id)
            {
                r.set(idx, &cid.to_string());
            }
            associations += 1;
        }
    }
    Ok(json!({
        "account": p.id.to_string(),
        "companies": company_ids.len(),
        "contacts": contacts,
        "skipped_duplicate_emails": skipped,
        "contact_company_associations": associations,
    }))
}
