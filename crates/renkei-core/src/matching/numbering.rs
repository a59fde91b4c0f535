//! Which region a parsed number belongs to and whether it is valid there, decided with our own
//! compiled copies of the numbering plans' patterns.
//!
//! This is what `phonenumber`'s `validator::source_for` and `number_type(…) != Unknown` do,
//! rule for rule, on the same metadata. It exists because of how that crate runs a pattern:
//! every regex of its metadata lives in one process-wide `Mutex<LruCache>` (`regex-cache`), so
//! each match hashes the pattern's text with SipHash, moves it in the LRU list and runs under
//! that lock. Validating one Japanese number runs a dozen patterns, so the threads that convert
//! import pages in parallel queued on that lock: two threads normalised phone numbers no
//! faster than one (docs/benchmarks.md, "Phone numbers"). Here each region's patterns are
//! compiled once into plain `regex::Regex`es, which many threads run at once. The crate still
//! parses the number (`phonenumber::parse`), under its lock.
//!
//! A test checks this module against the crate on every region's example numbers and on
//! numbers near them.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, RwLock};

use phonenumber::metadata::{DATABASE, Descriptor, Metadata};
use regex::{Regex, RegexBuilder};

/// The regions sharing a country code, in the metadata's order (`+7`: Russia, then
/// Kazakhstan).
static REGIONS: LazyLock<HashMap<u16, Vec<&'static Metadata>>> = LazyLock::new(|| {
    let mut by_code: HashMap<u16, Vec<&'static Metadata>> = HashMap::new();
    for code in DATABASE.iter().map(Metadata::country_code) {
        if by_code.contains_key(&code) {
            continue;
        }
        let ids = DATABASE.region(&code).unwrap_or_default();
        // The non-geographic codes (`+800`, `+882`, …) share the id `001`; each has metadata
        // of its own, found by the code, as the crate's `source_for` does.
        let regions = if ids == ["001"] {
            DATABASE
                .by_code(&code)
                .and_then(|m| m.first().copied())
                .into_iter()
                .collect()
        } else {
            ids.into_iter()
                .filter_map(|id| DATABASE.by_id(id))
                .collect()
        };
        by_code.insert(code, regions);
    }
    by_code
});

/// Compiled patterns, by the address of the region's metadata (ids are not unique: every
/// non-geographic code's is `001`), made on first use: a tenant's imports touch a handful of
/// the 250 regions, and compiling them all would cost every process start.
static PLANS: LazyLock<RwLock<HashMap<usize, Arc<Plan>>>> =
    LazyLock::new(|| RwLock::new(HashMap::new()));

/// `pattern` as a regex that matches only at the start of the text, with whitespace ignored as
/// the crate builds it (the metadata's XML spreads patterns over lines). The crate searches
/// unanchored and keeps a match that starts at the first digit; the leftmost match starts
/// there whenever any does, so the two agree. A pattern that does not compile (none in the
/// shipped metadata) matches nothing.
fn anchored(pattern: &str) -> Option<Regex> {
    RegexBuilder::new(&format!("^(?:{pattern})"))
        .ignore_whitespace(true)
        .build()
        .ok()
}

/// One pattern of a region, as `Descriptor::is_match` applies it.
struct Pattern {
    /// Empty means any length.
    lengths: Vec<u16>,
    regex: Regex,
}

impl Pattern {
    fn new(d: &Descriptor) -> Option<Self> {
        Some(Pattern {
            lengths: d.possible_length().to_vec(),
            regex: anchored(d.national_number().as_str())?,
        })
    }

    fn is_match(&self, national: &str) -> bool {
        let len = u16::try_from(national.len()).unwrap_or(u16::MAX);
        (self.lengths.is_empty() || self.lengths.contains(&len)) && self.regex.is_match(national)
    }
}

/// A region's patterns.
struct Plan {
    leading_digits: Option<Regex>,
    international_prefix: Option<Regex>,
    general: Option<Pattern>,
    /// Every type `number_type` knows (premium rate, toll free, …, fixed line, mobile). Which
    /// one matches decides the type; that one does is all validity needs.
    types: Vec<Pattern>,
}

/// The descriptors of every type `number_type` knows that `meta` has, in its order.
fn type_descriptors(meta: &Metadata) -> impl Iterator<Item = &Descriptor> {
    let d = meta.descriptors();
    [
        d.premium_rate(),
        d.toll_free(),
        d.shared_cost(),
        d.voip(),
        d.personal_number(),
        d.pager(),
        d.uan(),
        d.voicemail(),
        d.fixed_line(),
        d.mobile(),
    ]
    .into_iter()
    .flatten()
}

impl Plan {
    fn new(meta: &Metadata) -> Self {
        let d = meta.descriptors();
        let types = type_descriptors(meta).filter_map(Pattern::new).collect();
        Plan {
            leading_digits: meta.leading_digits().and_then(|r| anchored(r.as_str())),
            international_prefix: meta
                .international_prefix()
                .and_then(|r| anchored(r.as_str())),
            general: Pattern::new(d.general()),
            types,
        }
    }

    /// `number_type(meta, national) != Type::Unknown`.
    fn is_valid(&self, national: &str) -> bool {
        self.general.as_ref().is_some_and(|g| g.is_match(national))
            && self.types.iter().any(|t| t.is_match(national))
    }
}

fn plan(meta: &'static Metadata) -> Arc<Plan> {
    let key = std::ptr::from_ref(meta) as usize;
    if let Some(p) = PLANS.read().ok().and_then(|m| m.get(&key).cloned()) {
        return p;
    }
    // Compiled outside the lock; two threads that race compile twice and keep one.
    let made = Arc::new(Plan::new(meta));
    match PLANS.write() {
        Ok(mut m) => m.entry(key).or_insert(made).clone(),
        Err(_) => made,
    }
}

/// How many leading digits of `digits` are `meta`'s international prefix (`010` in Japan),
/// when they start with it.
pub(crate) fn international_prefix_len(meta: &'static Metadata, digits: &str) -> Option<usize> {
    plan(meta)
        .international_prefix
        .as_ref()?
        .find(digits)
        .map(|m| m.end())
}

/// The region a number with country code `code` and national significant number `national`
/// belongs to (`source_for`); `None` where the crate finds none.
pub(crate) fn region(code: u16, national: &str) -> Option<&'static Metadata> {
    match REGIONS.get(&code)?.as_slice() {
        // One region, or a non-geographic code (`001`), whose metadata is the code's own.
        [only] => Some(*only),
        many => many.iter().copied().find(|&meta| {
            let p = plan(meta);
            match &p.leading_digits {
                Some(lead) => lead.is_match(national),
                None => p.is_valid(national),
            }
        }),
    }
}

/// Whether the number is valid (`is_valid`): it has a region, and is of a known type there.
pub(crate) fn is_valid(code: u16, national: &str) -> bool {
    region(code, national).is_some_and(|meta| plan(meta).is_valid(national))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every region's example numbers of every type, and numbers near them (a digit fewer, a
    /// digit more, the last digit changed, the first digit changed): the region and the
    /// validity must be the crate's own.
    #[test]
    fn agrees_with_the_phonenumber_crate() {
        let mut checked = 0;
        let mut valid = 0;
        for meta in DATABASE.iter() {
            let examples = std::iter::once(meta.descriptors().general())
                .chain(type_descriptors(meta))
                .filter_map(Descriptor::example);
            for example in examples {
                let mut variants = vec![example.to_owned(), format!("{example}7")];
                if example.len() > 1 {
                    variants.push(example[..example.len() - 1].to_owned());
                    let (head, last) = example.split_at(example.len() - 1);
                    let changed = if last == "9" { "0" } else { "9" };
                    variants.push(format!("{head}{changed}"));
                    let (first, tail) = example.split_at(1);
                    let changed = if first == "1" { "2" } else { "1" };
                    variants.push(format!("{changed}{tail}"));
                }
                for national in variants {
                    let text = format!("+{}{national}", meta.country_code());
                    let Ok(parsed) = phonenumber::parse(None, &text) else {
                        continue;
                    };
                    let code = parsed.code().value();
                    let nsn = parsed.national().to_string();
                    // The crate finds the region by the number without its leading zeros and
                    // validates the number with them; `phone::judge` asks the same questions.
                    let value = parsed.national().value().to_string();
                    let theirs = (
                        parsed.metadata(&DATABASE).map(std::ptr::from_ref),
                        parsed.is_valid(),
                    );
                    let ours = (
                        region(code, &value).map(std::ptr::from_ref),
                        is_valid(code, &nsn),
                    );
                    assert_eq!(ours, theirs, "{text} (national {nsn})");
                    checked += 1;
                    valid += usize::from(ours.1);
                }
            }
        }
        // Enough of both answers that the comparison means something.
        assert!(checked > 3_000, "only {checked} numbers compared");
        assert!(
            valid > 1_000 && checked - valid > 1_000,
            "{valid} of {checked} valid"
        );
    }

    /// Japan's international prefix is `010`; a number that does not start with it has none.
    #[test]
    fn international_prefix_of_japan() {
        let jp = DATABASE.by_id("JP").expect("Japan's metadata");
        assert_eq!(international_prefix_len(jp, "010441234567890"), Some(3));
        assert_eq!(international_prefix_len(jp, "0312345678"), None);
        assert_eq!(international_prefix_len(jp, "1010"), None);
    }
}
