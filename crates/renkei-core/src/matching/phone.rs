//! Phone numbers as matching keys: whatever notation a person typed into a CRM or the host
//! app, the key is the number in E.164 (`+81312345678`) for the tenant's default region.
//!
//! This module owns the cleaning that comes before the numbering plan (NFKC, the dashes and
//! brackets Japanese data uses, labels such as `TEL:`, extensions such as `内線 123` or
//! `ext. 123`) and the policy on top of it; the numbering plans themselves come from Google's
//! libphonenumber metadata through the `phonenumber` crate, which only ever sees a clean
//! `+digits` or `digits` string from here.
//!
//! The policy, decided for matching CRM data:
//! - **Lenient on validity, strict on shape.** A number that the metadata calls valid is taken.
//!   A number that is not valid but has the length of a fixed-line or mobile number of its
//!   country is taken too: numbering plans gain ranges faster than the metadata we ship learns
//!   them, and refusing a real customer's number costs more than a key that matches nothing.
//!   A number of the wrong length, with letters (vanity numbers), with a second `+`, or with
//!   only a local part (US `555-0132` without an area code) is refused with a specific error.
//! - **`00` as an international prefix everywhere.** Japan's own international prefix is `010`
//!   (which the metadata knows), but people write `0081 3 …` in the European style. When the
//!   number read in the default region is not valid and starts with `00`, it is read again as
//!   `+…`; a valid national reading always wins.
//! - **A country code without `+`** (`81312345678` with region JP) is read as the country code
//!   when the national reading is impossible and the rest is a valid number, as
//!   libphonenumber does; CRMs that strip the `+` export such values.
//! - **`(0)` after a country code** (`+81 (0)3 1234 5678`, `+44 (0)20 …`) is the trunk prefix
//!   that is not dialled from abroad, and is dropped.
//! - **Extensions** are split off before parsing and kept as digits in
//!   [`PhoneNumber::extension`]; they are not part of the key, because a company's switchboard
//!   number is what a CRM search finds.
//!
//! Errors never print the number (a phone number is personal data and errors reach logs);
//! the input stays available to the caller in the variant's field.

use std::fmt;
use std::str::FromStr;

use phonenumber::country;
use phonenumber::metadata::{DATABASE, Metadata};

use super::{nfkc, numbering};

/// A phone number in E.164 (`+81312345678`), the matching key.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct E164(String);

/// The fewest and most digits an E.164 number has after its `+`. The shortest numbering plans
/// (Niue, Saint Helena, Tokelau) have 4-digit national numbers behind a 3-digit country code;
/// ITU-T E.164 caps the whole at 15 digits.
const E164_MIN_DIGITS: usize = 7;
const E164_MAX_DIGITS: usize = 15;

impl E164 {
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The ways people write this number inside its own country, for searching CRMs that
    /// match phone fields as typed: the national format with the numbering plan's separators
    /// (`03-1234-5678`) and the same digits without them (`0312345678`). Empty when the
    /// number cannot be read.
    pub fn national_forms(&self) -> Vec<String> {
        let Ok(n) = phonenumber::parse(None, &self.0) else {
            return Vec::new();
        };
        let formatted = n.format().mode(phonenumber::Mode::National).to_string();
        let digits: String = formatted.chars().filter(char::is_ascii_digit).collect();
        let mut out = vec![formatted];
        if !digits.is_empty() && digits != out[0] {
            out.push(digits);
        }
        out.retain(|s| !s.is_empty());
        out
    }

    /// Trusts a value renkei stored earlier: checks only the shape (`+`, a non-zero first
    /// digit, 7 to 15 digits in all), not the numbering plan. Every key that
    /// [`normalize_phone`] returns passes this check.
    pub fn parse_stored(s: &str) -> Option<E164> {
        let digits = s.strip_prefix('+')?;
        let shape_ok = (E164_MIN_DIGITS..=E164_MAX_DIGITS).contains(&digits.len())
            && digits.bytes().all(|b| b.is_ascii_digit())
            && !digits.starts_with('0');
        shape_ok.then(|| E164(s.to_owned()))
    }
}

impl fmt::Display for E164 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for E164 {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl serde::Serialize for E164 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for E164 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse_stored(&s).ok_or_else(|| {
            serde::de::Error::custom("expected an E.164 number such as +81312345678")
        })
    }
}

/// A region whose numbering plan reads national numbers: an ISO 3166-1 alpha-2 code that the
/// phone metadata knows (`JP`, `US`, `GB`; not `UK`, which ISO reserves but does not assign).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct Region(country::Id);

impl Region {
    /// Japan, the default of most tenants.
    pub const JP: Region = Region(country::Id::JP);

    /// Accepts the code in either case and with surrounding whitespace (`"jp"`, `" JP "`).
    pub fn parse(s: &str) -> Result<Region, PhoneError> {
        let code = s.trim();
        let unknown = || PhoneError::UnknownRegion(code.chars().take(16).collect());
        if code.len() != 2 || !code.bytes().all(|b| b.is_ascii_alphabetic()) {
            return Err(unknown());
        }
        let upper = code.to_ascii_uppercase();
        let id = country::Id::from_str(&upper).map_err(|_| unknown())?;
        // The enum and the metadata come from the same file, but a region without metadata
        // could not read a single national number, so it is checked rather than assumed.
        if DATABASE.by_id(id.as_ref()).is_none() {
            return Err(unknown());
        }
        Ok(Region(id))
    }

    pub fn as_str(&self) -> &str {
        self.0.as_ref()
    }
}

impl fmt::Display for Region {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Region {
    type Err = PhoneError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Region::parse(s)
    }
}

impl serde::Serialize for Region {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.as_str())
    }
}

impl<'de> serde::Deserialize<'de> for Region {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A phone number read from a person's notation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PhoneNumber {
    /// The matching key.
    pub e164: E164,
    /// The extension's digits (`内線 123`, `ext. 123`, `x123`, `#123`), not part of the key.
    pub extension: Option<String>,
    /// The value exactly as it came in, for display and for writing back unchanged.
    pub raw: String,
}

/// Why a value is not a phone number. The field is the input as given (or the region code
/// for [`PhoneError::UnknownRegion`]); the message never repeats a number, so an error can be
/// logged as it is.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PhoneError {
    #[error("phone number is empty")]
    Empty,
    #[error("phone number has no digits")]
    NoDigits(String),
    #[error("phone number contains characters or a layout no phone number has")]
    Invalid(String),
    #[error("phone number has too few digits for its country")]
    TooShort(String),
    #[error("phone number has too many digits for its country")]
    TooLong(String),
    #[error("phone number has a length no number of its country has")]
    InvalidLength(String),
    #[error("phone number starts with an unknown country calling code")]
    InvalidCountryCode(String),
    #[error("{0:?} is not an ISO 3166-1 alpha-2 region with a known numbering plan")]
    UnknownRegion(String),
}

impl PhoneError {
    /// A stable code for APIs and metrics.
    pub fn code(&self) -> &'static str {
        match self {
            PhoneError::Empty => "empty",
            PhoneError::NoDigits(_) => "no_digits",
            PhoneError::Invalid(_) => "invalid",
            PhoneError::TooShort(_) => "too_short",
            PhoneError::TooLong(_) => "too_long",
            PhoneError::InvalidLength(_) => "invalid_length",
            PhoneError::InvalidCountryCode(_) => "invalid_country_code",
            PhoneError::UnknownRegion(_) => "unknown_region",
        }
    }
}

/// More characters than this is a paragraph, not a phone field; refusing early also bounds
/// the work done on hostile input.
const MAX_INPUT_CHARS: usize = 100;
/// The most digits a number may have before its extension: 15 for E.164 plus room for an
/// international prefix (`010`, `00`) and a trunk `0`.
const MAX_NUMBER_DIGITS: usize = 20;
/// Extensions longer than this are not extensions.
const MAX_EXTENSION_DIGITS: usize = 10;

/// Reads `raw` as a phone number, national numbers in `default_region`'s numbering plan.
///
/// ```text
/// "03-1234-5678", "０３（１２３４）５６７８", "+81 (0)3 1234 5678"  -> +81312345678
/// "090-1234-5678 内線 12"                                       -> +819012345678, ext "12"
/// ```
pub fn normalize_phone(raw: &str, default_region: &Region) -> Result<PhoneNumber, PhoneError> {
    let err = |make: fn(String) -> PhoneError| make(raw.to_owned());
    if raw.trim().is_empty() {
        return Err(PhoneError::Empty);
    }
    if raw.chars().count() > MAX_INPUT_CHARS {
        return Err(err(PhoneError::TooLong));
    }
    let text: String = nfkc(raw).chars().map(fold_dash).collect();
    let text = text.trim();
    if text.is_empty() {
        return Err(PhoneError::Empty);
    }
    if !text.bytes().any(|b| b.is_ascii_digit()) {
        return Err(err(PhoneError::NoDigits));
    }
    let text = strip_label(text);
    let (number, extension) = split_extension(text).ok_or_else(|| err(PhoneError::Invalid))?;
    let (plus, digits) = clean_number(number).ok_or_else(|| err(PhoneError::Invalid))?;
    if digits.is_empty() {
        // Every digit was behind an extension marker: `内線 123` alone is not a number.
        return Err(err(PhoneError::Invalid));
    }
    if digits.len() > MAX_NUMBER_DIGITS {
        return Err(err(PhoneError::TooLong));
    }
    let e164 = read_number(plus, &digits, default_region).map_err(|kind| kind(raw.to_owned()))?;
    Ok(PhoneNumber {
        e164,
        extension,
        raw: raw.to_owned(),
    })
}

/// Every dash people put between digit groups, as `-`. NFKC has already turned the full-width
/// and small hyphen-minus (`－`, `﹣`) into `-`; these remain: the hyphen and dash family of
/// U+2010–U+2015, the minus sign, and the katakana prolonged sound mark `ー` (also what NFKC
/// makes of the half-width `ｰ`), which Japanese input methods produce for `-` typed in kana
/// mode (`03ー1234ー5678`).
fn fold_dash(c: char) -> char {
    match c {
        '\u{2010}'..='\u{2015}' | '\u{2212}' | '\u{30FC}' => '-',
        c => c,
    }
}

/// Labels written before a number in CRM fields and signatures, after NFKC (which spells
/// `℡` as `TEL`), in lowercase. Longer labels come before their prefixes.
const LABELS: &[&str] = &[
    "電話番号",
    "携帯電話",
    "携帯",
    "電話",
    "代表",
    "直通",
    "telephone",
    "tel",
    "phone",
    "mobile",
    "mob",
    "cell",
];

/// Drops one leading label such as `TEL:`, `Tel.` or `電話：`, and the `tel:` of RFC 3966 URIs.
/// A label must not run on into a word (`Telefon` keeps its letters and is then refused).
fn strip_label(text: &str) -> &str {
    for label in LABELS {
        let Some(rest) = text
            .get(..label.len())
            .filter(|head| head.eq_ignore_ascii_case(label))
            .map(|_| &text[label.len()..])
        else {
            continue;
        };
        if rest.starts_with(|c: char| c.is_alphabetic()) {
            continue;
        }
        return rest.trim_start_matches(|c: char| c == ':' || c == '.' || c.is_whitespace());
    }
    text
}

/// Where an extension begins: the marker and how many bytes it spans. Markers are matched on
/// the lowercased text; `x` and `#` only between a digit (or `)`) and a digit, so that they do
/// not fire inside a label.
fn find_extension_marker(text: &str) -> Option<(usize, usize)> {
    const WORDS: &[&str] = &[";ext=", "extension", "ext.", "ext", "内線", "内"];
    let lower = text.to_ascii_lowercase();
    let mut best: Option<(usize, usize)> = None;
    for word in WORDS {
        if let Some(at) = lower.find(word) {
            // Prefer the earliest marker, and the longest one at the same place.
            if best.is_none_or(|(b, len)| at < b || (at == b && word.len() > len)) {
                best = Some((at, word.len()));
            }
        }
    }
    for (at, c) in lower.char_indices() {
        if c != 'x' && c != '#' {
            continue;
        }
        if best.is_some_and(|(b, _)| b <= at) {
            break;
        }
        let before = lower[..at].trim_end();
        let after = lower[at + 1..].trim_start_matches([' ', '.', ':']);
        let digit_before = before.ends_with(|c: char| c.is_ascii_digit() || c == ')');
        let digit_after = after.starts_with(|c: char| c.is_ascii_digit());
        if digit_before && digit_after {
            best = Some((at, 1));
            break;
        }
    }
    best
}

/// Splits `03-1234-5678 内線 123` into the number and the extension's digits. `None` when the
/// text after a marker is not an extension (letters, too many digits).
fn split_extension(text: &str) -> Option<(&str, Option<String>)> {
    let Some((at, len)) = find_extension_marker(text) else {
        return Some((text, None));
    };
    // The number may end with the bracket that opened the extension: `03-1234-5678 (内線 12)`.
    let number = text[..at].trim_end_matches(|c: char| {
        c.is_whitespace() || matches!(c, '(' | '[' | ',' | ';' | '/' | '-' | '.' | ':')
    });
    let rest = &text[at + len..];
    if !rest.chars().all(|c| {
        c.is_ascii_digit() || c.is_whitespace() || matches!(c, '-' | '.' | ':' | '=' | ')' | ']')
    }) {
        return None;
    }
    let digits: String = rest.chars().filter(char::is_ascii_digit).collect();
    if digits.len() > MAX_EXTENSION_DIGITS {
        return None;
    }
    Some((number, (!digits.is_empty()).then_some(digits)))
}

/// Reduces the number part to its digits and whether it began with `+`. Separators are
/// whitespace, `-`, `.`, `/` and brackets; a bracketed group without digits is a comment
/// (`(代表)`, `(main)`) and is dropped; `(0)` after a `+` is the trunk prefix not dialled from
/// abroad. `None` for any other character or a misplaced `+`.
fn clean_number(number: &str) -> Option<(bool, String)> {
    let number = drop_comments(number);
    let mut plus = false;
    let mut digits = String::new();
    let mut chars = number.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if !plus && digits.is_empty() => plus = true,
            '(' if plus && !digits.is_empty() => {
                // `(0)` right after the country code: drop it. Any other bracketed group is a
                // separator, as in `(03) 1234-5678`.
                let mut ahead = chars.clone();
                if ahead.next() == Some('0') && ahead.next() == Some(')') {
                    chars = ahead;
                }
            }
            c if c.is_whitespace() || matches!(c, '-' | '.' | '/' | '(' | ')' | '[' | ']') => {}
            _ => return None,
        }
    }
    Some((plus, digits))
}

/// Removes bracketed groups that contain no digit, such as `(代表)` or `（携帯）`.
fn drop_comments(number: &str) -> String {
    let mut out = String::with_capacity(number.len());
    let mut rest = number;
    while let Some(open) = rest.find('(') {
        let (before, from_open) = rest.split_at(open);
        out.push_str(before);
        match from_open.find(')') {
            Some(close) if !from_open[..close].bytes().any(|b| b.is_ascii_digit()) => {
                rest = &from_open[close + 1..];
            }
            _ => {
                out.push('(');
                rest = &from_open[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

type ErrorKind = fn(String) -> PhoneError;

/// How a reading of the digits fared.
enum Reading {
    Valid(E164),
    Possible(E164),
    Refused(ErrorKind),
}

fn read_number(plus: bool, digits: &str, region: &Region) -> Result<E164, ErrorKind> {
    let first = if plus {
        read_international(digits)
    } else if let Some(rest) = strip_international_prefix(digits, region) {
        read_international(rest)
    } else {
        read_national(digits, region)
    };
    if let Reading::Valid(e) = first {
        return Ok(e);
    }
    if !plus && let Some(rest) = digits.strip_prefix("00") {
        match read_international(rest) {
            Reading::Valid(e) | Reading::Possible(e) => return Ok(e),
            Reading::Refused(_) => {}
        }
    }
    match first {
        Reading::Valid(e) | Reading::Possible(e) => Ok(e),
        Reading::Refused(kind) => Err(kind),
    }
}

/// The digits after the region's international prefix (`010` in Japan, `011` in the US,
/// `00` in most of Europe), if they start with it and a country code (never `0`) follows.
fn strip_international_prefix<'a>(digits: &'a str, region: &Region) -> Option<&'a str> {
    let meta = DATABASE.by_id(region.as_str())?;
    let rest = digits.get(numbering::international_prefix_len(meta, digits)?..)?;
    (!rest.is_empty() && !rest.starts_with('0')).then_some(rest)
}

/// Digits that begin with their country code. Parsed without a default region: the
/// `phonenumber` crate strips the *default region's* national prefix from a number of another
/// country when given one, which turns Italy's `+39 06 …` into `+39 6 …` when the tenant is in
/// Japan (whose prefix is `0`). Without one it takes the prefix of the number's own country.
fn read_international(digits: &str) -> Reading {
    judge(phonenumber::parse(None, format!("+{digits}")))
}

/// Digits written as a national number of `region` (or, as libphonenumber allows, beginning
/// with the region's own country code without a `+`).
fn read_national(digits: &str, region: &Region) -> Reading {
    judge(phonenumber::parse(Some(region.0), digits))
}

/// Our policy on validity (see the module doc) applied to one reading.
fn judge(parsed: Result<phonenumber::PhoneNumber, phonenumber::ParseError>) -> Reading {
    let parsed = match parsed {
        Ok(n) => n,
        Err(e) => {
            use phonenumber::ParseError as P;
            return Reading::Refused(match e {
                P::InvalidCountryCode => PhoneError::InvalidCountryCode,
                P::TooShortAfterIdd | P::TooShortNsn | P::NoNumber => PhoneError::TooShort,
                P::TooLong => PhoneError::TooLong,
                P::MalformedInteger(_) => PhoneError::Invalid,
            });
        }
    };
    let code = parsed.code().value();
    let national = parsed.national().to_string();
    let valid = numbering::is_valid(code, &national);
    // The crate finds a number's metadata by the national number without its leading zeros
    // (Italy's `06 …` as `6…`), and validates it with them; both are kept as they were.
    let digits = parsed.national().value().to_string();
    let Some(meta) = numbering::region(code, &digits).or_else(|| main_region(code)) else {
        return Reading::Refused(PhoneError::InvalidCountryCode);
    };
    if !valid {
        let lengths = full_number_lengths(meta);
        let len = u16::try_from(national.len()).unwrap_or(u16::MAX);
        if !lengths.contains(&len) {
            return Reading::Refused(match (lengths.first(), lengths.last()) {
                (Some(&min), _) if len < min => PhoneError::TooShort,
                (_, Some(&max)) if len > max => PhoneError::TooLong,
                _ => PhoneError::InvalidLength,
            });
        }
    }
    // Built by hand rather than with the crate's formatter, which fails (and so panics in
    // `to_string`) on a country code without metadata.
    match E164::parse_stored(&format!("+{code}{national}")) {
        Some(e) if valid => Reading::Valid(e),
        Some(e) => Reading::Possible(e),
        None => Reading::Refused(PhoneError::InvalidLength),
    }
}

/// The metadata of `code`'s main region, for a number that matches none of the code's regions
/// (an unassigned US area code, say).
fn main_region(code: u16) -> Option<&'static Metadata> {
    let all = DATABASE.by_code(&code)?;
    all.iter()
        .find(|m| m.is_main_country_for_code())
        .or_else(|| all.first())
        .copied()
}

/// The national-number lengths of the region's fixed-line and mobile numbers: the numbers
/// people have, with their area code. An empty list in the metadata means "as the general
/// description", which is then used.
fn full_number_lengths(meta: &Metadata) -> Vec<u16> {
    let d = meta.descriptors();
    let general = d.general().possible_length();
    let mut lengths: Vec<u16> = [d.fixed_line(), d.mobile()]
        .into_iter()
        .flatten()
        .flat_map(|desc| {
            if desc.possible_length().is_empty() {
                general
            } else {
                desc.possible_length()
            }
        })
        .copied()
        .collect();
    if lengths.is_empty() {
        lengths.extend_from_slice(general);
    }
    lengths.sort_unstable();
    lengths.dedup();
    lengths
}

#[cfg(test)]
mod tests {
    #[test]
    fn national_forms_of_japanese_and_us_numbers() {
        let jp = E164::parse_stored("+81312345678").unwrap();
        assert_eq!(jp.national_forms(), vec!["03-1234-5678", "0312345678"]);
        let mobile = E164::parse_stored("+819012345678").unwrap();
        assert_eq!(
            mobile.national_forms(),
            vec!["090-1234-5678", "09012345678"]
        );
        let us = E164::parse_stored("+14155550123").unwrap();
        assert_eq!(us.national_forms(), vec!["(415) 555-0123", "4155550123"]);
    }

    use super::*;

    enum Want {
        /// The E.164 key and the extension.
        Ok(&'static str, Option<&'static str>),
        /// The error's code.
        Err(&'static str),
    }
    use Want::{Err as E, Ok as K};

    /// (raw, default region, expected)
    #[rustfmt::skip]
    const CASES: &[(&str, &str, Want)] = &[
        // Tokyo landline in every notation the seeds and CRMs show.
        ("03-1234-5678", "JP", K("+81312345678", None)),
        ("0312345678", "JP", K("+81312345678", None)),
        ("03 1234 5678", "JP", K("+81312345678", None)),
        ("03.1234.5678", "JP", K("+81312345678", None)),
        ("(03) 1234-5678", "JP", K("+81312345678", None)),
        ("03(1234)5678", "JP", K("+81312345678", None)),
        ("０３（１２３４）５６７８", "JP", K("+81312345678", None)),
        ("０３－１２３４－５６７８", "JP", K("+81312345678", None)),
        ("03ー1234ー5678", "JP", K("+81312345678", None)),
        ("03‐1234‐5678", "JP", K("+81312345678", None)),
        ("03−1234−5678", "JP", K("+81312345678", None)),
        ("03–1234–5678", "JP", K("+81312345678", None)),
        ("03ｰ1234ｰ5678", "JP", K("+81312345678", None)),
        ("03﹣1234﹣5678", "JP", K("+81312345678", None)),
        ("  03-1234-5678\t", "JP", K("+81312345678", None)),
        ("+81 3-1234-5678", "JP", K("+81312345678", None)),
        ("+81 3 1234 5678", "JP", K("+81312345678", None)),
        ("+81-3-1234-5678", "JP", K("+81312345678", None)),
        ("+81312345678", "JP", K("+81312345678", None)),
        ("+81 (0)3 1234 5678", "JP", K("+81312345678", None)),
        ("+81 03-1234-5678", "JP", K("+81312345678", None)),
        ("＋８１　３　１２３４　５６７８", "JP", K("+81312345678", None)),
        ("＋８１－３－１２３４－５６７８", "JP", K("+81312345678", None)),
        ("(+81) 3-1234-5678", "JP", K("+81312345678", None)),
        ("0081-3-1234-5678", "JP", K("+81312345678", None)),
        ("010-81-3-1234-5678", "JP", K("+81312345678", None)),
        ("81312345678", "JP", K("+81312345678", None)),
        ("TEL: 03-1234-5678", "JP", K("+81312345678", None)),
        ("Tel.03-1234-5678", "JP", K("+81312345678", None)),
        ("tel:+81-3-1234-5678", "JP", K("+81312345678", None)),
        ("電話：03-1234-5678", "JP", K("+81312345678", None)),
        ("03-1234-5678(代表)", "JP", K("+81312345678", None)),
        ("03-1234-5678（代表）", "JP", K("+81312345678", None)),
        ("3-1234-5678", "JP", K("+81312345678", None)),
        // The same Tokyo number from another default region still needs its country code.
        ("+81 3-1234-5678", "US", K("+81312345678", None)),
        ("+81 03-1234-5678", "US", K("+81312345678", None)),
        ("+81 11-123-4567", "US", K("+81111234567", None)),
        ("011 81 11-123-4567", "US", K("+81111234567", None)),
        ("011 81 3 1234 5678", "US", K("+81312345678", None)),
        ("00 81 3 1234 5678", "GB", K("+81312345678", None)),
        // Other Japanese areas and services.
        ("06-6123-4567", "JP", K("+81661234567", None)),
        ("011-123-4567", "JP", K("+81111234567", None)),
        ("045-123-4567", "JP", K("+81451234567", None)),
        ("0466-12-3456", "JP", K("+81466123456", None)),
        ("099-123-4567", "JP", K("+81991234567", None)),
        ("090-1234-5678", "JP", K("+819012345678", None)),
        ("080-1234-5678", "JP", K("+818012345678", None)),
        ("070-1234-5678", "JP", K("+817012345678", None)),
        ("０９０（１２３４）５６７８", "JP", K("+819012345678", None)),
        ("+81 90-1234-5678", "JP", K("+819012345678", None)),
        ("+81 090 1234 5678", "JP", K("+819012345678", None)),
        ("携帯：090-1234-5678", "JP", K("+819012345678", None)),
        ("050-1234-5678", "JP", K("+815012345678", None)),
        ("0120-123-456", "JP", K("+81120123456", None)),
        ("0120-12-3456", "JP", K("+81120123456", None)),
        ("0800-123-4567", "JP", K("+818001234567", None)),
        ("0570-012-345", "JP", K("+81570012345", None)),
        // Not valid by the metadata, but with a landline's length: lenient, see the module doc.
        ("03-0000-0000", "JP", K("+81300000000", None)),
        // Extensions.
        ("03-1234-5678 内線 123", "JP", K("+81312345678", Some("123"))),
        ("03-1234-5678内線123", "JP", K("+81312345678", Some("123"))),
        ("03-1234-5678（内線１２３）", "JP", K("+81312345678", Some("123"))),
        ("03-1234-5678 (内123)", "JP", K("+81312345678", Some("123"))),
        ("03-1234-5678 ext. 123", "JP", K("+81312345678", Some("123"))),
        ("03-1234-5678 ext 123", "JP", K("+81312345678", Some("123"))),
        ("03-1234-5678, Ext. 4", "JP", K("+81312345678", Some("4"))),
        ("03-1234-5678 extension 1234", "JP", K("+81312345678", Some("1234"))),
        ("03-1234-5678 x123", "JP", K("+81312345678", Some("123"))),
        ("03-1234-5678x123", "JP", K("+81312345678", Some("123"))),
        ("03-1234-5678 #123", "JP", K("+81312345678", Some("123"))),
        ("tel:+81-3-1234-5678;ext=123", "JP", K("+81312345678", Some("123"))),
        ("03-1234-5678 内線", "JP", K("+81312345678", None)),
        ("+1 (415) 555-2671 x 42", "JP", K("+14155552671", Some("42"))),
        // The United States and Canada.
        ("(415) 555-2671", "US", K("+14155552671", None)),
        ("415-555-2671", "US", K("+14155552671", None)),
        ("415.555.2671", "US", K("+14155552671", None)),
        ("1-415-555-2671", "US", K("+14155552671", None)),
        ("+1 415 555 2671", "JP", K("+14155552671", None)),
        ("+1 (415) 555-2671", "JP", K("+14155552671", None)),
        ("010 1 415 555 2671", "JP", K("+14155552671", None)),
        ("(416) 555-0199", "CA", K("+14165550199", None)),
        ("555-2671", "US", E("too_short")),
        // The United Kingdom, Germany, France, Italy (whose national numbers keep their 0),
        // Australia, Korea, China, Singapore.
        ("020 7946 0958", "GB", K("+442079460958", None)),
        ("+44 (0)20 7946 0958", "JP", K("+442079460958", None)),
        ("+44 20 7946 0958", "JP", K("+442079460958", None)),
        ("07700 900123", "GB", K("+447700900123", None)),
        ("030 123456", "DE", K("+4930123456", None)),
        ("030/123456", "DE", K("+4930123456", None)),
        ("+49 30 123456", "JP", K("+4930123456", None)),
        ("01 42 68 53 00", "FR", K("+33142685300", None)),
        ("+33 1 42 68 53 00", "JP", K("+33142685300", None)),
        ("06 6982 1234", "IT", K("+390669821234", None)),
        ("+39 06 6982 1234", "JP", K("+390669821234", None)),
        ("010 39 06 6982 1234", "JP", K("+390669821234", None)),
        ("0039 06 6982 1234", "JP", K("+390669821234", None)),
        ("(02) 9876 5432", "AU", K("+61298765432", None)),
        ("+61 2 9876 5432", "JP", K("+61298765432", None)),
        ("02-312-3456", "KR", K("+8223123456", None)),
        ("+82 10-1234-5678", "JP", K("+821012345678", None)),
        ("+86 10 1234 5678", "JP", K("+861012345678", None)),
        ("+65 6123 4567", "JP", K("+6561234567", None)),
        ("jp", "JP", E("no_digits")),
        // Garbage, each with its own error.
        ("", "JP", E("empty")),
        ("   ", "JP", E("empty")),
        ("\u{3000}", "JP", E("empty")),
        ("abc", "JP", E("no_digits")),
        ("なし", "JP", E("no_digits")),
        ("-", "JP", E("no_digits")),
        ("123", "JP", E("too_short")),
        ("1", "JP", E("too_short")),
        ("03-1234", "JP", E("too_short")),
        ("03-1234-5678-9012-3456-7890", "JP", E("too_long")),
        // A digit too many for a landline, but a mobile's length: taken, by the lenient policy.
        ("03-1234-56789", "JP", K("+813123456789", None)),
        ("03-1234-567890", "JP", E("too_long")),
        ("031-234-56", "KR", E("invalid_length")),
        ("1-800-FLOWERS", "US", E("invalid")),
        ("03-1234-5678 or 03-1234-5679", "JP", E("invalid")),
        ("+81 +3 1234 5678", "JP", E("invalid")),
        ("03-1234-5678 内線 abc", "JP", E("invalid")),
        ("03-1234-5678 ext 12345678901", "JP", E("invalid")),
        ("+999 1234 5678", "JP", E("invalid_country_code")),
        ("+0 1234 5678", "JP", E("invalid_country_code")),
    ];

    #[test]
    fn normalizes_the_table() {
        assert!(CASES.len() >= 70, "{}", CASES.len());
        let mut failures = Vec::new();
        for (raw, region, want) in CASES {
            let region = Region::parse(region).unwrap();
            let got = normalize_phone(raw, &region);
            let ok = match (want, &got) {
                (K(e164, ext), Ok(n)) => {
                    n.e164.as_str() == *e164 && n.extension.as_deref() == *ext && n.raw == *raw
                }
                (E(code), Err(e)) => e.code() == *code,
                _ => false,
            };
            if !ok {
                let want = match want {
                    K(e, x) => format!("{e} ext {x:?}"),
                    E(c) => format!("error {c}"),
                };
                failures.push(format!("{raw:?} ({region}): want {want}, got {got:?}"));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn regions() {
        for (input, want) in [
            ("JP", Some("JP")),
            ("jp", Some("JP")),
            (" Jp ", Some("JP")),
            ("US", Some("US")),
            ("gb", Some("GB")),
            ("UK", None),
            ("XX", None),
            ("", None),
            ("J", None),
            ("JPN", None),
            ("81", None),
            ("ＪＰ", None),
        ] {
            let got = Region::parse(input);
            assert_eq!(got.as_ref().ok().map(Region::as_str), want, "{input:?}");
            if want.is_none() {
                assert_eq!(got.map_err(|e| e.code()), Err("unknown_region"));
            }
        }
        assert_eq!(Region::JP, Region::parse("jp").unwrap());
        let json = serde_json::to_string(&Region::JP).unwrap();
        assert_eq!(json, "\"JP\"");
        assert_eq!(
            serde_json::from_str::<Region>("\"us\"").unwrap().as_str(),
            "US"
        );
        assert!(serde_json::from_str::<Region>("\"ZZ\"").is_err());
    }

    #[test]
    fn stored_keys() {
        for (input, ok) in [
            ("+81312345678", true),
            ("+14155552671", true),
            ("+6831234", true),
            ("+123456789012345", true),
            ("+1234567890123456", false),
            ("+123456", false),
            ("81312345678", false),
            ("+081312345678", false),
            ("+81 3 1234 5678", false),
            ("+８１３１２３４５６７８", false),
            ("", false),
            ("+", false),
        ] {
            assert_eq!(E164::parse_stored(input).is_some(), ok, "{input:?}");
        }
        let e = E164::parse_stored("+81312345678").unwrap();
        assert_eq!(e.to_string(), "+81312345678");
        assert_eq!(serde_json::to_string(&e).unwrap(), "\"+81312345678\"");
        assert_eq!(serde_json::from_str::<E164>("\"+81312345678\"").unwrap(), e);
        assert!(serde_json::from_str::<E164>("\"03-1234-5678\"").is_err());
    }

    #[test]
    fn errors_do_not_repeat_the_number() {
        let region = Region::JP;
        for raw in [
            "03-1234-567890123",
            "1-800-FLOWERS-12",
            "+999 1234 5678",
            "123",
        ] {
            let e = normalize_phone(raw, &region).unwrap_err();
            let message = e.to_string();
            assert!(!message.chars().any(|c| c.is_ascii_digit()), "{message}");
        }
    }

    #[test]
    fn notations_of_one_number_share_one_key() {
        // The sandbox seeds write one number in eight notations; all must meet.
        let notations = [
            "03-1234-5678",
            "+81 3 1234 5678",
            "０３（１２３４）５６７８",
            "0312345678",
            "(03) 1234-5678",
            "+81-3-1234-5678",
            "０３－１２３４－５６７８",
            "+81312345678",
        ];
        let keys: std::collections::BTreeSet<E164> = notations
            .iter()
            .map(|n| normalize_phone(n, &Region::JP).unwrap().e164)
            .collect();
        assert_eq!(keys.len(), 1, "{keys:?}");
    }
}
