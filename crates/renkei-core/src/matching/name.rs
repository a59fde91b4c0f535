//! People's names: the order they are shown in, the display form, splitting a display form
//! back into the family and given names a CRM stores (Salesforce `LastName`/`FirstName`, Zoho
//! `Last_Name`/`First_Name`, HubSpot `lastname`/`firstname`), and the matching key.
//!
//! Japanese names are written family name first, separated by a space in CRMs (`山田 太郎`),
//! or with none at all (`山田太郎`), in which case nobody can tell where the family name ends
//! without a dictionary, and we do not guess. Western names are written given name first
//! (`Taro Yamada`), or family first with a comma (`Yamada, Taro`).

use super::company::normalize_text;

/// The order a name's parts are shown in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NameOrder {
    /// `山田 太郎`.
    FamilyFirst,
    /// `Taro Yamada`.
    GivenFirst,
}

/// The order a name is shown in: family first when either part is written in Japanese
/// (kanji/kana); otherwise given first. Chinese characters and Hangul count as Japanese here:
/// Chinese and Korean names are written family first too. [`name_order_with_hint`] adds a
/// locale hint for names in other non-Latin scripts.
pub fn name_order(family: Option<&str>, given: Option<&str>) -> NameOrder {
    name_order_with_hint(family, given, NameOrder::GivenFirst)
}

/// The order a name is shown in: family first when either part is written in Japanese
/// (kanji/kana) or `locale_hint` is FamilyFirst and both parts are non-Latin; otherwise given
/// first.
///
/// The hint is a tenant's or a CRM user's locale; it matters only for names written without
/// Latin letters in scripts other than Japanese (Cyrillic, Thai, …). Names with Latin letters
/// are always shown given first, since a Japanese customer whose name is entered in romaji
/// expects `Taro Yamada`.
pub fn name_order_with_hint(
    family: Option<&str>,
    given: Option<&str>,
    locale_hint: NameOrder,
) -> NameOrder {
    // Normalised so that full-width Latin (`ＹＡＭＡＤＡ`) counts as Latin.
    let parts: Vec<String> = [family, given]
        .into_iter()
        .flatten()
        .map(normalize_text)
        .filter(|p| !p.is_empty())
        .collect();
    if parts.iter().any(|p| p.chars().any(is_cjk)) {
        return NameOrder::FamilyFirst;
    }
    let non_latin = |p: &String| !p.chars().any(is_latin_letter);
    if locale_hint == NameOrder::FamilyFirst && !parts.is_empty() && parts.iter().all(non_latin) {
        return NameOrder::FamilyFirst;
    }
    NameOrder::GivenFirst
}

/// "山田 太郎" / "Taro Yamada" / just the part there is; None when both are empty.
/// Parts are normalize_text'ed. Japanese: family + " " + given (one ASCII space; the seeds'
/// products show "姓 名" with a space).
pub fn display_name(family: Option<&str>, given: Option<&str>) -> Option<String> {
    let family = family.map(normalize_text).filter(|s| !s.is_empty());
    let given = given.map(normalize_text).filter(|s| !s.is_empty());
    match (family, given) {
        (Some(f), Some(g)) => Some(match name_order(Some(&f), Some(&g)) {
            NameOrder::FamilyFirst => format!("{f} {g}"),
            NameOrder::GivenFirst => format!("{g} {f}"),
        }),
        (Some(one), None) | (None, Some(one)) => Some(one),
        (None, None) => None,
    }
}

/// Splits one display name back into (family, given) for writing to a CRM: "山田 太郎" →
/// (山田, 太郎); "山田太郎" (no space) → (山田太郎, None); "Taro Yamada" → (Yamada, Taro);
/// "Mary Ann Smith" → (Smith, Mary Ann); "Yamada" → (Yamada, None). Full-width spaces count.
///
/// Also: "Yamada, Taro" → (Yamada, Taro), since a comma puts the family name first; particles
/// and suffixes stay with the family name ("Ludwig van Beethoven" → (van Beethoven, Ludwig),
/// "Martin Luther King Jr." → (King Jr., Martin Luther)). A lone part is the family name,
/// because that is the field CRMs require (Salesforce's `LastName` is mandatory), so the
/// given name is only ever present beside a family name.
pub fn split_name(display: &str) -> (Option<String>, Option<String>) {
    let s = normalize_text(display);
    let non_empty = |p: &str| {
        let p = p.trim_matches(|c: char| c.is_whitespace() || is_comma(c));
        (!p.is_empty()).then(|| p.to_owned())
    };
    if let Some(at) = s.find(is_comma) {
        let (family, rest) = s.split_at(at);
        return match (non_empty(family), non_empty(rest)) {
            (Some(f), g) => (Some(f), g),
            (None, g) => (g, None),
        };
    }
    let words: Vec<&str> = s.split(' ').filter(|w| !w.is_empty()).collect();
    match words.as_slice() {
        [] => (None, None),
        [one] => (Some((*one).to_owned()), None),
        _ if s.chars().any(is_cjk) => {
            // Family first: the first word is the family name, the rest the given name.
            let (first, rest) = words.split_at(1);
            (Some(first.concat()), Some(rest.join(" ")))
        }
        _ => {
            let at = western_family_start(&words);
            let (given, family) = words.split_at(at);
            (Some(family.join(" ")), non_empty(&given.join(" ")))
        }
    }
}

/// The matching key of a person's name: NFKC, case-folded, all whitespace removed.
pub fn name_key(display: &str) -> Option<String> {
    let key: String = normalize_text(display)
        .to_lowercase()
        .chars()
        .filter(|c| !c.is_whitespace())
        .collect();
    (!key.is_empty()).then_some(key)
}

/// Lowercase particles that belong to the family name when they precede it.
const PARTICLES: &[&str] = &[
    "van", "von", "der", "den", "de", "del", "della", "di", "da", "du", "dos", "das", "la", "le",
    "ten", "ter", "bin", "binti", "al", "el",
];

/// Suffixes that follow the family name.
const SUFFIXES: &[&str] = &["jr", "jr.", "sr", "sr.", "ii", "iii", "iv"];

/// Where the family name begins in a given-first name of two or more words: the last word,
/// with a suffix before it taken along and particles before that, leaving at least one given
/// word.
fn western_family_start(words: &[&str]) -> usize {
    let mut at = words.len() - 1;
    if at > 1 && SUFFIXES.contains(&words[at].to_lowercase().as_str()) {
        at -= 1;
    }
    while at > 1 && PARTICLES.contains(&words[at - 1]) {
        at -= 1;
    }
    at
}

/// A comma as written in either script (`，` is `,` after NFKC; `、` is not folded).
fn is_comma(c: char) -> bool {
    c == ',' || c == '、'
}

/// Kanji (with `々`, `〆` and `〇`), hiragana, katakana and Hangul.
fn is_cjk(c: char) -> bool {
    matches!(c,
        '\u{3005}'..='\u{3007}'
        | '\u{3040}'..='\u{30FF}'
        | '\u{31F0}'..='\u{31FF}'
        | '\u{3400}'..='\u{4DBF}'
        | '\u{4E00}'..='\u{9FFF}'
        | '\u{F900}'..='\u{FAFF}'
        | '\u{FF66}'..='\u{FF9F}'
        | '\u{1100}'..='\u{11FF}'
        | '\u{3130}'..='\u{318F}'
        | '\u{AC00}'..='\u{D7AF}'
        | '\u{20000}'..='\u{3FFFF}')
}

/// Letters of the Latin script (Basic Latin to Latin Extended-B, and Latin Extended
/// Additional).
fn is_latin_letter(c: char) -> bool {
    c.is_ascii_alphabetic()
        || (c.is_alphabetic()
            && (('\u{00C0}'..='\u{024F}').contains(&c) || ('\u{1E00}'..='\u{1EFF}').contains(&c)))
}

#[cfg(test)]
mod tests {
    use super::*;

    use NameOrder::{FamilyFirst as F, GivenFirst as G};

    #[test]
    fn orders() {
        // (family, given, hint, expected)
        let cases: &[(Option<&str>, Option<&str>, NameOrder, NameOrder)] = &[
            (Some("山田"), Some("太郎"), G, F),
            (Some("やまだ"), Some("たろう"), G, F),
            (Some("ヤマダ"), Some("タロウ"), G, F),
            (Some("ﾔﾏﾀﾞ"), None, G, F),
            (Some("山田"), Some("Taro"), G, F),
            (Some("Yamada"), Some("太郎"), G, F),
            (Some("김"), Some("민수"), G, F),
            (Some("王"), Some("小明"), G, F),
            (Some("Yamada"), Some("Taro"), G, G),
            (Some("Yamada"), Some("Taro"), F, G),
            (Some("Müller"), Some("Jürgen"), F, G),
            (Some("Иванов"), Some("Иван"), G, G),
            (Some("Иванов"), Some("Иван"), F, F),
            (Some("Иванов"), Some("Ivan"), F, G),
            (Some("ＹＡＭＡＤＡ"), Some("Ｔａｒｏ"), F, G),
            (None, None, F, G),
            (Some(""), Some("  "), F, G),
        ];
        for (family, given, hint, want) in cases {
            assert_eq!(
                name_order_with_hint(*family, *given, *hint),
                *want,
                "{family:?} {given:?} {hint:?}"
            );
        }
        assert_eq!(name_order(Some("Иванов"), Some("Иван")), G);
        assert_eq!(name_order(Some("山田"), None), F);
    }

    #[test]
    fn displays() {
        // (family, given, expected)
        let cases: &[(Option<&str>, Option<&str>, Option<&str>)] = &[
            (Some("山田"), Some("太郎"), Some("山田 太郎")),
            (Some("Yamada"), Some("Taro"), Some("Taro Yamada")),
            (Some("山田"), None, Some("山田")),
            (None, Some("太郎"), Some("太郎")),
            (Some(""), Some("Taro"), Some("Taro")),
            (Some("  "), Some("\u{3000}"), None),
            (None, None, None),
            (Some("ﾔﾏﾀﾞ"), Some("ﾀﾛｳ"), Some("ヤマダ タロウ")),
            (Some("ＹＡＭＡＤＡ"), Some("Ｔａｒｏ"), Some("Taro YAMADA")),
            (
                Some(" van  Beethoven "),
                Some("Ludwig"),
                Some("Ludwig van Beethoven"),
            ),
            (Some("Smith"), Some("Mary Ann"), Some("Mary Ann Smith")),
            (Some("山田"), Some("Taro"), Some("山田 Taro")),
        ];
        for (family, given, want) in cases {
            assert_eq!(
                display_name(*family, *given).as_deref(),
                *want,
                "{family:?} {given:?}"
            );
        }
    }

    /// (display, family, given)
    const SPLITS: &[(&str, Option<&str>, Option<&str>)] = &[
        ("山田 太郎", Some("山田"), Some("太郎")),
        ("山田\u{3000}太郎", Some("山田"), Some("太郎")),
        ("  山田   太郎  ", Some("山田"), Some("太郎")),
        ("山田太郎", Some("山田太郎"), None),
        ("ﾔﾏﾀﾞ ﾀﾛｳ", Some("ヤマダ"), Some("タロウ")),
        ("やまだ たろう", Some("やまだ"), Some("たろう")),
        ("山田 太郎 次郎", Some("山田"), Some("太郎 次郎")),
        ("Taro Yamada", Some("Yamada"), Some("Taro")),
        ("Ｔａｒｏ　Ｙａｍａｄａ", Some("Yamada"), Some("Taro")),
        ("Mary Ann Smith", Some("Smith"), Some("Mary Ann")),
        ("Yamada", Some("Yamada"), None),
        ("Yamada, Taro", Some("Yamada"), Some("Taro")),
        ("山田、太郎", Some("山田"), Some("太郎")),
        ("Smith,", Some("Smith"), None),
        (",Taro", Some("Taro"), None),
        (
            "Ludwig van Beethoven",
            Some("van Beethoven"),
            Some("Ludwig"),
        ),
        (
            "Vincent van der Berg",
            Some("van der Berg"),
            Some("Vincent"),
        ),
        ("Van Morrison", Some("Morrison"), Some("Van")),
        (
            "Martin Luther King Jr.",
            Some("King Jr."),
            Some("Martin Luther"),
        ),
        ("John Smith III", Some("Smith III"), Some("John")),
        ("van Beethoven", Some("Beethoven"), Some("van")),
        ("", None, None),
        ("   ", None, None),
        (", ,", None, None),
    ];

    #[test]
    fn splits() {
        assert!(SPLITS.len() >= 20);
        for (display, family, given) in SPLITS {
            let (f, g) = split_name(display);
            assert_eq!(
                (f.as_deref(), g.as_deref()),
                (*family, *given),
                "{display:?}"
            );
        }
    }

    #[test]
    fn keys() {
        for (display, want) in [
            ("山田 太郎", Some("山田太郎")),
            ("山田太郎", Some("山田太郎")),
            ("山田\u{3000}太郎", Some("山田太郎")),
            ("ﾔﾏﾀﾞ ﾀﾛｳ", Some("ヤマダタロウ")),
            ("Taro Yamada", Some("taroyamada")),
            ("TARO  YAMADA", Some("taroyamada")),
            ("Ｔａｒｏ　Ｙａｍａｄａ", Some("taroyamada")),
            ("やまだ たろう", Some("やまだたろう")),
            ("", None),
            (" \u{3000} ", None),
        ] {
            assert_eq!(name_key(display).as_deref(), want, "{display:?}");
        }
        // A display name and its split, shown again, give the same key.
        for (display, _, _) in SPLITS {
            let (f, g) = split_name(display);
            let again = display_name(f.as_deref(), g.as_deref());
            if let (Some(again), Some(key)) = (again, name_key(display))
                && !display.contains([',', '、'])
            {
                assert_eq!(name_key(&again), Some(key), "{display:?}");
            }
        }
    }
}
