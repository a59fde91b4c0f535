//! A provider's person made into a stored one: the matching keys, the identity key of the
//! connection's rule, the skip rules, and a content hash.
//!
//! [`Normalizer`] holds what the rules need (the tenant's phone region, the settings) so that
//! a page of thousands of people is converted without looking anything up.

use renkei_connectors::people::RemotePerson;
use renkei_core::{
    EmailAddress, Region, company_key, display_name, name_key, normalize_phone, normalize_text,
};
use renkei_store::people::{PageItem, PersonUpsert};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::settings::{IdentityRule, PeopleSettings, RequiredField};

/// Why a person was not imported; the keys of a run's `skipped` counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum SkipReason {
    MissingPhone,
    InvalidPhone,
    MissingName,
    MissingEmail,
    MissingCompany,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::MissingPhone => "missing_phone",
            SkipReason::InvalidPhone => "invalid_phone",
            SkipReason::MissingName => "missing_name",
            SkipReason::MissingEmail => "missing_email",
            SkipReason::MissingCompany => "missing_company",
        }
    }
}

/// Converts remote people under one connection's settings.
pub struct Normalizer {
    region: Region,
    settings: PeopleSettings,
}

impl Normalizer {
    /// `region` is the tenant's default phone region; an unknown one falls back to `JP`, the
    /// product's home market, rather than refusing every local number.
    pub fn new(region: &str, settings: PeopleSettings) -> Self {
        Self {
            region: Region::parse(region).unwrap_or(Region::JP),
            settings,
        }
    }

    /// The stored form of `p`, or why it is skipped. A deleted record becomes a removal.
    pub fn convert(&self, p: &RemotePerson) -> Result<PageItem, SkipReason> {
        if p.deleted {
            return Ok(PageItem::Remove {
                object: p.object.as_str().to_owned(),
                remote_id: p.remote_id.clone(),
                at: p.updated_at,
            });
        }
        let s = &self.settings;
        let last = p
            .last_name
            .as_deref()
            .map(normalize_text)
            .filter(|s| !s.is_empty());
        let first = p
            .first_name
            .as_deref()
            .map(normalize_text)
            .filter(|s| !s.is_empty());
        let display = display_name(last.as_deref(), first.as_deref()).or_else(|| {
            p.full_name
                .as_deref()
                .map(normalize_text)
                .filter(|s| !s.is_empty())
        });
        let company_raw = p
            .company
            .as_deref()
            .map(normalize_text)
            .filter(|s| !s.is_empty());

        // Phones: the main field first, then the others. Only the main one is a matching key
        // unless the settings say otherwise (PRODUCT.md 4.3).
        let main = p
            .phone
            .as_deref()
            .map(|raw| (raw, normalize_phone(raw, &self.region)));
        let others: Vec<_> = p
            .other_phones
            .iter()
            .map(|raw| (raw.as_str(), normalize_phone(raw, &self.region)))
            .collect();
        let phone_key = main
            .as_ref()
            .and_then(|(_, r)| r.as_ref().ok())
            .map(|n| n.e164.as_str().to_owned());
        let phone2_key = if s.other_phones {
            others
                .iter()
                .find_map(|(_, r)| r.as_ref().ok())
                .map(|n| n.e164.as_str().to_owned())
        } else {
            None
        };
        let mut phones = Vec::new();
        for (field, (raw, r)) in main
            .iter()
            .map(|m| ("phone", m))
            .chain(others.iter().map(|o| ("other", o)))
        {
            phones.push(match r {
                Ok(n) => json!({"field": field, "raw": raw, "e164": n.e164.as_str(),
                                "extension": n.extension}),
                Err(e) => json!({"field": field, "raw": raw, "error": e.code()}),
            });
        }

        let emails: Vec<String> = p
            .emails
            .iter()
            .map(|e| e.trim().to_owned())
            .filter(|e| !e.is_empty())
            .collect();
        let email_key = emails
            .iter()
            .find_map(|e| EmailAddress::parse(e).ok())
            .map(|e| e.as_str().to_owned());

        for r in &s.required {
            let missing = match r {
                RequiredField::Phone => match &main {
                    None => Some(SkipReason::MissingPhone),
                    Some((_, Err(_))) => Some(SkipReason::InvalidPhone),
                    Some((_, Ok(_))) => None,
                },
                RequiredField::Name => display.is_none().then_some(SkipReason::MissingName),
                RequiredField::Email => email_key.is_none().then_some(SkipReason::MissingEmail),
                RequiredField::Company => {
                    company_raw.is_none().then_some(SkipReason::MissingCompany)
                }
            };
            if let Some(reason) = missing {
                return Err(reason);
            }
        }

        // An empty company shows the placeholder (4.4); the key is the placeholder's too, so
        // that "山田 太郎" without a company is one person under name + company identity.
        let company = company_raw.or_else(|| s.missing_company.clone());
        let ckey = company.as_deref().and_then(company_key);
        let nkey = display.as_deref().and_then(name_key);
        let identity_key = match s.identity {
            IdentityRule::Phone => phone_key.clone().map(|k| format!("phone:{k}")),
            IdentityRule::Email => email_key.clone().map(|k| format!("email:{k}")),
            IdentityRule::NameCompany => nkey
                .as_ref()
                .map(|n| format!("name:{n}|{}", ckey.as_deref().unwrap_or(""))),
            IdentityRule::None => None,
        };
        let address = p
            .address
            .as_ref()
            .filter(|a| !a.is_empty())
            .and_then(|a| serde_json::to_value(a).ok());
        let mut up = PersonUpsert {
            object: p.object.as_str().to_owned(),
            remote_id: p.remote_id.clone(),
            display_name: display,
            last_name: last,
            first_name: first,
            company,
            emails,
            phones: serde_json::Value::Array(phones),
            address,
            department: p
                .department
                .as_deref()
                .map(normalize_text)
                .filter(|s| !s.is_empty()),
            title: p
                .title
                .as_deref()
                .map(normalize_text)
                .filter(|s| !s.is_empty()),
            description: p.description.clone(),
            owner_id: p.owner_id.clone(),
            remote_created_at: p.created_at,
            remote_updated_at: p.updated_at,
            phone_key,
            phone2_key,
            email_key,
            company_key: ckey,
            name_key: nkey,
            identity_key,
            content_hash: String::new(),
        };
        up.content_hash = content_hash(&up);
        Ok(PageItem::Upsert(Box::new(up)))
    }
}

/// SHA-256 over everything stored except the modification stamp, so that a record re-fetched
/// through an overlapping window, or touched at the CRM without a visible change, writes
/// nothing.
fn content_hash(p: &PersonUpsert) -> String {
    let mut h = Sha256::new();
    let mut v = serde_json::to_value(p).unwrap_or_default();
    if let Some(o) = v.as_object_mut() {
        o.remove("remote_updated_at");
        o.remove("content_hash");
    }
    h.update(v.to_string().as_bytes());
    let d = h.finalize();
    d.iter().take(16).map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::ConnectionSettings;
    use renkei_connectors::Provider;
    use renkei_connectors::people::PersonObject;
    use renkei_core::Millis;

    fn remote(last: &str, first: &str, company: Option<&str>, phone: Option<&str>) -> RemotePerson {
        RemotePerson {
            object: PersonObject::Lead,
            remote_id: "00Q000000000001AAA".into(),
            last_name: Some(last.into()),
            first_name: Some(first.into()),
            full_name: None,
            company: company.map(str::to_owned),
            emails: vec![" Taro.Yamada@Example.co.jp ".into()],
            phone: phone.map(str::to_owned),
            other_phones: vec!["090-1111-2222".into()],
            address: None,
            department: None,
            title: None,
            description: None,
            owner_id: None,
            created_at: Some(Millis(1)),
            updated_at: Millis(2),
            deleted: false,
        }
    }

    fn upsert(item: PageItem) -> PersonUpsert {
        match item {
            PageItem::Upsert(p) => *p,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn salesforce_rules_key_on_the_main_phone() {
        let n = Normalizer::new(
            "JP",
            ConnectionSettings::defaults(Provider::Salesforce, "ja").people,
        );
        let a = upsert(
            n.convert(&remote(
                "山田",
                "太郎",
                Some("株式会社テスト"),
                Some("03-1234-5678"),
            ))
            .unwrap(),
        );
        let b = upsert(
            n.convert(&remote(
                "山田",
                "太郎",
                Some("(株)テスト"),
                Some("０３（１２３４）５６７８"),
            ))
            .unwrap(),
        );
        assert_eq!(a.display_name.as_deref(), Some("山田 太郎"));
        assert_eq!(a.phone_key.as_deref(), Some("+81312345678"));
        assert_eq!(a.phone2_key, None, "other phones are not keys by default");
        assert_eq!(a.identity_key, b.identity_key);
        assert_eq!(a.company_key, b.company_key);
        assert_eq!(a.email_key.as_deref(), Some("taro.yamada@example.co.jp"));
        assert_eq!(
            n.convert(&remote("山田", "太郎", None, None)).unwrap_err(),
            SkipReason::MissingPhone
        );
        assert_eq!(
            n.convert(&remote("山田", "太郎", None, Some("abc")))
                .unwrap_err(),
            SkipReason::InvalidPhone
        );
        // The placeholder company fills a gap.
        let c = upsert(
            n.convert(&remote("Smith", "John", None, Some("+1 415 555 0123")))
                .unwrap(),
        );
        assert_eq!(c.company.as_deref(), Some("名前なし"));
        assert_eq!(c.display_name.as_deref(), Some("John Smith"));
    }

    #[test]
    fn zoho_rules_key_on_name_and_company_and_hash_ignores_the_stamp() {
        let n = Normalizer::new(
            "JP",
            ConnectionSettings::defaults(Provider::ZohoCrm, "ja").people,
        );
        let a = upsert(
            n.convert(&remote("山田", "太郎", Some("ＡＢＣ株式会社"), None))
                .unwrap(),
        );
        let mut r = remote("山田", "太郎", Some("abc Inc."), None);
        r.updated_at = Millis(99);
        let b = upsert(n.convert(&r).unwrap());
        assert_eq!(a.identity_key, b.identity_key);
        let mut r2 = remote("山田", "太郎", Some("ＡＢＣ株式会社"), None);
        r2.updated_at = Millis(99);
        assert_eq!(a.content_hash, upsert(n.convert(&r2).unwrap()).content_hash);
        assert_eq!(
            n.convert(&remote(" ", "", None, None)).unwrap_err(),
            SkipReason::MissingName
        );
    }
}
