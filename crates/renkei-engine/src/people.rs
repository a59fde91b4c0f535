//! A provider's person made into a stored one: the matching keys, the identity key of the
//! connection's rule, the skip rules, and a content hash.
//!
//! [`Normalizer`] holds what the rules need (the tenant's phone region, the settings) so that
//! a page of thousands of people is converted without looking anything up.

use std::borrow::Cow;

use renkei_connectors::people::{PostalAddress, RemotePerson};
use renkei_core::{
    EmailAddress, Millis, Region, company_key, display_name, name_key, normalize_phone,
    normalize_text,
};
use renkei_store::people::{PageItem, PersonUpsert};
use serde::Serialize;
use serde_json::value::RawValue;
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
        let phones: Vec<PhoneJson<'_>> = main
            .iter()
            .map(|m| ("phone", m))
            .chain(others.iter().map(|o| ("other", o)))
            .map(|(field, (raw, r))| match r {
                Ok(n) => PhoneJson::Read {
                    e164: n.e164.as_str(),
                    extension: n.extension.as_deref(),
                    field,
                    raw,
                },
                Err(e) => PhoneJson::Refused {
                    error: e.code(),
                    field,
                    raw,
                },
            })
            .collect();
        let phones = serde_json::to_string(&phones).unwrap_or_else(|_| "[]".into());

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
            .and_then(|a| serde_json::to_string(&AddressJson::of(a)).ok());
        let mut up = PersonUpsert {
            object: p.object.as_str().to_owned(),
            remote_id: p.remote_id.clone(),
            display_name: display,
            last_name: last,
            first_name: first,
            company,
            emails,
            phones,
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

/// One entry of a person's stored `phones` array. The fields are declared in sorted order,
/// as `serde_json::Value` (a sorted map) wrote them before: the stored texts and the content
/// hashes of rows imported then stay what they were.
#[derive(Serialize)]
#[serde(untagged)]
enum PhoneJson<'a> {
    Read {
        e164: &'a str,
        extension: Option<&'a str>,
        field: &'static str,
        raw: &'a str,
    },
    Refused {
        error: &'static str,
        field: &'static str,
        raw: &'a str,
    },
}

/// A [`PostalAddress`] as stored: its fields in sorted order, for the reason [`PhoneJson`]
/// gives.
#[derive(Serialize)]
struct AddressJson<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    city: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    country: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    postal_code: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    state: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    street: Option<&'a str>,
}

impl<'a> AddressJson<'a> {
    fn of(a: &'a PostalAddress) -> Self {
        Self {
            city: a.city.as_deref(),
            country: a.country.as_deref(),
            postal_code: a.postal_code.as_deref(),
            state: a.state.as_deref(),
            street: a.street.as_deref(),
        }
    }
}

/// What the content hash covers: every stored field of a [`PersonUpsert`] except the
/// modification stamp (and the hash), in sorted order. The hash was first taken over the
/// person turned into a `serde_json::Value` (a sorted map) and printed; this view prints the
/// same bytes without building that tree, which cost about a tenth of an import's CPU
/// (docs/benchmarks.md), so that hashes stored before still match.
#[derive(Serialize)]
struct HashView<'a> {
    address: Option<Cow<'a, RawValue>>,
    company: &'a Option<String>,
    company_key: &'a Option<String>,
    department: &'a Option<String>,
    description: &'a Option<String>,
    display_name: &'a Option<String>,
    email_key: &'a Option<String>,
    emails: &'a [String],
    first_name: &'a Option<String>,
    identity_key: &'a Option<String>,
    last_name: &'a Option<String>,
    name_key: &'a Option<String>,
    object: &'a str,
    owner_id: &'a Option<String>,
    phone2_key: &'a Option<String>,
    phone_key: &'a Option<String>,
    phones: Cow<'a, RawValue>,
    remote_created_at: Option<Millis>,
    remote_id: &'a str,
    title: &'a Option<String>,
}

/// Feeds what `serde_json` writes straight into the hash.
struct HashWriter<'a>(&'a mut Sha256);

impl std::io::Write for HashWriter<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.update(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// SHA-256 over everything stored except the modification stamp, so that a record re-fetched
/// through an overlapping window, or touched at the CRM without a visible change, writes
/// nothing. The first 16 bytes, in hex.
fn content_hash(p: &PersonUpsert) -> String {
    // The JSON texts are written by `convert`; were one not JSON, the hash would still cover
    // it, as a JSON string.
    fn raw(text: &str) -> Cow<'_, RawValue> {
        match serde_json::from_str(text) {
            Ok(r) => Cow::Borrowed(r),
            Err(_) => Cow::Owned(serde_json::value::to_raw_value(text).unwrap_or_default()),
        }
    }
    let view = HashView {
        address: p.address.as_deref().map(raw),
        company: &p.company,
        company_key: &p.company_key,
        department: &p.department,
        description: &p.description,
        display_name: &p.display_name,
        email_key: &p.email_key,
        emails: &p.emails,
        first_name: &p.first_name,
        identity_key: &p.identity_key,
        last_name: &p.last_name,
        name_key: &p.name_key,
        object: &p.object,
        owner_id: &p.owner_id,
        phone2_key: &p.phone2_key,
        phone_key: &p.phone_key,
        phones: raw(&p.phones),
        remote_created_at: p.remote_created_at,
        remote_id: &p.remote_id,
        title: &p.title,
    };
    let mut h = Sha256::new();
    // Writing into a hash cannot fail, nor can serialising these fields.
    let _ = serde_json::to_writer(HashWriter(&mut h), &view);
    let d = h.finalize();
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(32);
    for b in d.iter().take(16) {
        out.push(char::from(HEX[usize::from(b >> 4)]));
        out.push(char::from(HEX[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::settings::ConnectionSettings;
    use renkei_connectors::Provider;
    use renkei_connectors::people::PersonObject;

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

    /// The hash, and the stored JSON of phones and addresses, as the first version made them:
    /// the person as a `serde_json::Value`, printed. Rows imported then must hash the same now,
    /// or the next sync would rewrite every one of them and report each as updated.
    fn first_version_hash(p: &PersonUpsert) -> String {
        let mut v = serde_json::to_value(p).unwrap();
        let o = v.as_object_mut().unwrap();
        o.remove("remote_updated_at");
        o.remove("content_hash");
        let phones: serde_json::Value = serde_json::from_str(&p.phones).unwrap();
        o.insert("phones".into(), phones);
        let address = p
            .address
            .as_deref()
            .map(|a| serde_json::from_str::<serde_json::Value>(a).unwrap());
        o.insert("address".into(), serde_json::json!(address));
        let d = Sha256::digest(v.to_string().as_bytes());
        d.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn content_hash_and_stored_json_are_those_of_the_first_version() {
        let n = Normalizer::new(
            "JP",
            ConnectionSettings::defaults(Provider::Salesforce, "ja").people,
        );
        let mut people = vec![
            remote(
                "山田",
                "太郎",
                Some("ＡＢＣ株式会社"),
                Some("03-1234-5678 内線 12"),
            ),
            remote("Smith", "John", None, Some("+1 415 555 0123")),
        ];
        let mut odd = remote(
            "O'Brien \"Jr\"",
            "Ann\\e",
            Some("Tab\tCo"),
            Some("03-1234-5678"),
        );
        odd.other_phones = vec!["abc".into(), "０９０（１１１１）２２２２".into()];
        odd.emails = vec![];
        odd.address = Some(PostalAddress {
            street: Some("丸の内1-1 \u{1f600}".into()),
            city: Some("千代田区".into()),
            state: None,
            postal_code: Some("100-0005".into()),
            country: Some("JP".into()),
        });
        odd.description = Some("line\nbreak \u{7}".into());
        odd.created_at = None;
        people.push(odd);
        for r in &people {
            let p = upsert(n.convert(r).unwrap());
            assert_eq!(p.content_hash, first_version_hash(&p), "{r:?}");
            assert_eq!(p.content_hash.len(), 32);
        }
        // The stored texts are those a sorted map printed.
        let p = upsert(n.convert(&people[2]).unwrap());
        assert_eq!(
            p.address.as_deref(),
            Some(
                r#"{"city":"千代田区","country":"JP","postal_code":"100-0005","street":"丸の内1-1 😀"}"#
            )
        );
        assert_eq!(
            p.phones,
            r#"[{"e164":"+81312345678","extension":null,"field":"phone","raw":"03-1234-5678"},{"error":"no_digits","field":"other","raw":"abc"},{"e164":"+819011112222","extension":null,"field":"other","raw":"０９０（１１１１）２２２２"}]"#
        );
        let p = upsert(n.convert(&people[0]).unwrap());
        assert!(p.phones.contains(r#""extension":"12""#), "{}", p.phones);
    }
}
