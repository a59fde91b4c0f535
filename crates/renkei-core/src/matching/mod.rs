//! Matching keys: how renkei decides that a host-app customer and a CRM record are the same
//! person or company (PRODUCT.md 6, "Matching that works in Japan").
//!
//! Each submodule owns one kind of key and the normalisation behind it:
//! [`phone`] turns the many ways people write a phone number (`03-1234-5678`,
//! `＋８１ ３ １２３４ ５６７８`, `090-1234-5678 内線 12`) into E.164 for a tenant's default
//! region; [`email`] adds free-mail detection and company domains to [`EmailAddress`];
//! [`company`] reduces a company name to a key without legal forms (`株式会社ABC` and
//! `ABC Co., Ltd.` are both `abc`) and owns [`normalize_text`], the display normaliser;
//! [`name`] orders, displays, splits and keys people's names. Everything here is pure and
//! total: any string may come in (CRM data is typed by people), and the answer is a key, `None`
//! or a typed error, never a panic.
//!
//! Every normaliser applies Unicode NFKC first, because Japanese data mixes full-width and
//! half-width forms of the same characters (`ＡＢＣ` and `ABC`, `０３` and `03`, `ｶﾌﾞ` and `カブ`)
//! and NFKC is the standard fold that makes them one.
//!
//! [`EmailAddress`]: crate::EmailAddress

pub mod company;
pub mod email;
pub mod name;
mod numbering;
pub mod phone;

pub use company::{company_key, normalize_text};
pub use email::{FREE_MAIL_SOURCE, FreeMailDomains, company_domain};
pub use name::{NameOrder, display_name, name_key, name_order, name_order_with_hint, split_name};
pub use phone::{E164, PhoneError, PhoneNumber, Region, normalize_phone};

use unicode_normalization::UnicodeNormalization;

/// NFKC of `s`: full-width letters, digits and punctuation become ASCII, half-width katakana
/// becomes full-width, and compatibility characters such as `㈱` and `㍿` are spelled out.
pub(crate) fn nfkc(s: &str) -> String {
    s.nfkc().collect()
}

#[cfg(test)]
mod robustness {
    //! Feeds odd strings into every public function of the matching module. The assertions
    //! are only that nothing panics and that the results keep their own invariants; the
    //! per-module tables check the actual answers.

    use super::*;
    use crate::EmailAddress;

    fn odd_strings() -> Vec<String> {
        let mut v: Vec<String> = [
            "",
            " ",
            "\u{3000}",
            "\0",
            "\u{7}\u{8}\u{1b}[31m",
            "\u{feff}",
            "\u{200b}\u{200d}\u{2060}",
            "\u{202e}0321-4321-30\u{202c}",
            "مرحبا بالعالم",
            "שלום עולם",
            "\u{200f}+972-3-123-4567",
            "😀",
            "👨‍👩‍👧‍👦",
            "🇯🇵 +81 3 1234 5678",
            "03-1234-5678 😀",
            "Z̤͔ͧ̑̓ä͖̭̈̇lͮ̒ͫǫ̗̻͊",
            "a\u{301}\u{301}\u{301}\u{301}\u{301}",
            "+",
            "++",
            "+0",
            "+00",
            "+999999999999999999999999",
            "0000000000000000000000000000000000",
            "99999999999999999999999999999999999999999999",
            "18446744073709551616",
            "72057594037927936",
            "(((((())))))",
            "))((",
            "内線",
            "内線内線内線",
            "ext",
            "x",
            "#",
            "x123",
            "#123",
            "03-1234-5678 内線",
            "03-1234-5678 内線 999999999999999999999",
            "03-1234-5678 x x x 1",
            "tel:",
            "tel:;ext=",
            "mailto:",
            "<>",
            "<<>>",
            "@",
            "@@",
            "a@",
            "@a",
            "a@b",
            "a@.",
            "a@..",
            "a@b..c",
            ".@.",
            "a@-.-",
            "株式会社",
            "(株)",
            "㈱㈲",
            "Inc.",
            "Co., Ltd.",
            "AG AG AG",
            "K.K.",
            ". , ; : ! ?",
            "---",
            "山田",
            "山田\u{3000}太郎",
            ",",
            ", ,",
            "Smith,",
            ",Taro",
            "van",
            "van der",
            "Jr.",
            "ǅ",
            "ß",
            "İ",
            "\u{d7ff}\u{e000}\u{fffd}\u{10ffff}",
            "\u{1f}\u{7f}\u{80}\u{9f}",
            "\r\n\t",
            "ｶﾞｷﾞｸﾞ",
            "ﾟﾟﾟﾟ",
            "㍿",
            "℡03-1234-5678",
            "☎ 03-1234-5678",
            "Ⅻ",
            "①②③④⑤⑥⑦⑧⑨⑩",
            "٠١٢٣٤٥٦٧٨٩",
            "०१२३४५६७८९",
            "𝟎𝟑𝟏𝟐𝟑𝟒𝟓𝟔𝟕𝟖",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // Every printable ASCII character alone and around a plausible number.
        for b in 0x20u8..0x7f {
            let c = char::from(b);
            v.push(c.to_string());
            v.push(format!("{c}03-1234-5678{c}"));
            v.push(format!("taro{c}@example.com"));
        }
        // Long strings of many shapes.
        v.push("1".repeat(10_000));
        v.push("+".repeat(10_000));
        v.push("株式会社".repeat(2_000));
        v.push("a".repeat(300) + "@" + &"b".repeat(300) + ".com");
        v.push("x".repeat(5_000) + "@example.com");
        v.push("山田 ".repeat(3_000));
        v.push("Inc. ".repeat(3_000));
        v.push("(0)".repeat(3_000));
        v.push("内線1".repeat(3_000));
        v.push("😀".repeat(3_000));
        v.push("\u{301}".repeat(3_000));
        v.push("\u{fdfa}".repeat(1_000));
        v
    }

    /// The `phonenumber` crate sees only digit strings from us; sweep their shapes (every
    /// length up to the cap, with and without `+`, with international and trunk prefixes) in
    /// regions with very different numbering plans.
    #[test]
    fn phone_digit_sweep_does_not_panic() {
        let regions = [
            "JP", "US", "GB", "DE", "IT", "AU", "KR", "CN", "BR", "NZ", "SH", "VA",
        ];
        // A small deterministic generator, so a failure names a reproducible input.
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next_digit = move || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1);
            char::from(b'0' + ((state >> 33) % 10) as u8)
        };
        let mut inputs = Vec::new();
        for len in 1..=22 {
            for prefix in [
                "", "+", "0", "00", "010", "011", "+0", "+1", "+81", "+39", "81",
            ] {
                let tail: String = (0..len).map(|_| next_digit()).collect();
                inputs.push(format!("{prefix}{tail}"));
                inputs.push(format!("{prefix}{}", "0".repeat(len)));
                inputs.push(format!("{prefix}{}", "9".repeat(len)));
            }
        }
        for region in regions {
            let region = Region::parse(region).unwrap();
            for input in &inputs {
                if let Ok(n) = normalize_phone(input, &region) {
                    assert!(
                        E164::parse_stored(n.e164.as_str()).is_some(),
                        "{input} {n:?}"
                    );
                }
            }
        }
    }

    #[test]
    fn nothing_panics_on_odd_input() {
        let regions: Vec<Region> = ["JP", "US", "GB", "DE", "IT", "NZ"]
            .iter()
            .map(|r| Region::parse(r).unwrap())
            .collect();
        let free = FreeMailDomains::builtin();
        let strings = odd_strings();
        assert!(strings.len() > 300, "{}", strings.len());
        for s in &strings {
            for region in &regions {
                if let Ok(n) = normalize_phone(s, region) {
                    assert_eq!(n.raw, *s);
                    assert!(E164::parse_stored(n.e164.as_str()).is_some(), "{n:?}");
                    if let Some(ext) = &n.extension {
                        assert!(!ext.is_empty() && ext.chars().all(|c| c.is_ascii_digit()));
                    }
                }
            }
            let _ = Region::parse(s);
            let _ = E164::parse_stored(s);
            if let Ok(e) = EmailAddress::parse(s) {
                assert!(!e.domain().is_empty());
                assert_eq!(EmailAddress::parse(e.as_str()).as_ref(), Ok(&e), "{s:?}");
                let _ = company_domain(&e, free);
                let _ = free.is_free(&e);
            }
            let _ = free.is_free_domain(s);
            if let Some(k) = company_key(s) {
                assert!(!k.is_empty());
                assert!(k.chars().all(char::is_alphanumeric), "{k:?}");
            }
            let t = normalize_text(s);
            assert_eq!(
                normalize_text(&t),
                t,
                "normalize_text is idempotent on {s:?}"
            );
            let _ = name_order(Some(s), Some(s));
            let _ = name_order_with_hint(Some(s), None, NameOrder::FamilyFirst);
            if let Some(d) = display_name(Some(s), Some("太郎")) {
                assert!(!d.is_empty());
            }
            let _ = display_name(Some(s), None);
            let (family, given) = split_name(s);
            assert!(family.as_deref() != Some(""));
            assert!(given.as_deref() != Some(""));
            if let Some(k) = name_key(s) {
                assert!(!k.is_empty() && !k.chars().any(char::is_whitespace));
            }
        }
    }
}
