//! Company names: the display normaliser [`normalize_text`] and the matching key
//! [`company_key`], which ignores legal forms (PRODUCT.md 6), so that `株式会社ABC`, `(株)ABC`,
//! `ＡＢＣ株式会社`, `ABC Inc.` and `ＡＢＣ　Ｃｏ．，Ｌｔｄ．` are one company.
//!
//! Japanese legal forms (and their Chinese and Korean cousins) are removed as substrings
//! wherever they stand: `株式会社` never occurs inside a name by accident, and it stands before
//! or after the name by the company's choice (前株 / 後株). English and European forms are
//! removed only as whole trailing tokens, because short forms are ordinary words or parts of
//! words elsewhere: `AG` must not eat the end of `Stag`, `SAS Institute` keeps its `SAS`, and
//! `Limited Brands` keeps its `Limited`.
//!
//! A legal form that is all there is stays: trailing forms are removed only while a token is
//! left (`Inc.` is `inc`, `Co., Ltd.` is `co`), and when removing the Japanese forms leaves
//! nothing (`株式会社` alone), the key is the whole name without its punctuation. Only a name
//! without a single letter or digit has no key.
//!
//! Katakana and hiragana are not unified, nor are kanji variants: two companies may differ only
//! by that, and a CRM search by name would not unify them either.

use std::sync::LazyLock;

use super::nfkc;

/// NFKC, control and zero-width characters removed, trimmed, and every inner run of whitespace
/// (including the ideographic space) turned into one ASCII space: the form in which renkei
/// shows and writes names.
pub fn normalize_text(s: &str) -> String {
    // Invisible characters go first, so that NFKC sees the characters they separated and the
    // result is stable: normalising twice gives the same text.
    let visible: String = s.chars().filter(|&c| !is_invisible(c)).collect();
    let folded = nfkc(&visible);
    let mut out = String::with_capacity(folded.len());
    for word in folded.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Control characters other than whitespace, and the zero-width space, word joiner and byte
/// order mark, which arrive from copy-paste and make equal names differ.
fn is_invisible(c: char) -> bool {
    (c.is_control() && !c.is_whitespace()) || matches!(c, '\u{200B}' | '\u{2060}' | '\u{FEFF}')
}

/// Japanese, Chinese and Korean legal forms, after NFKC and lowercasing (`㈱` is `(株)` by then,
/// `㍿` is `株式会社`, `ＮＰＯ法人` is `npo法人`). Removed as substrings, longest first.
const CJK_FORMS: &[&str] = &[
    // Companies (会社法) and their pre-2006 forms.
    "株式会社",
    "有限会社",
    "合同会社",
    "合資会社",
    "合名会社",
    "相互会社",
    "(株)",
    "(有)",
    "(同)",
    "(資)",
    "(名)",
    "(合)",
    // Associations, foundations and other corporations (法人).
    "一般社団法人",
    "一般財団法人",
    "公益社団法人",
    "公益財団法人",
    "社団法人",
    "財団法人",
    "特定非営利活動法人",
    "npo法人",
    "医療法人社団",
    "医療法人財団",
    "社会医療法人",
    "医療法人",
    "社会福祉法人",
    "学校法人",
    "宗教法人",
    "独立行政法人",
    "地方独立行政法人",
    "国立大学法人",
    "弁護士法人",
    "税理士法人",
    "司法書士法人",
    "行政書士法人",
    "社会保険労務士法人",
    "監査法人",
    "(一社)",
    "(一財)",
    "(公社)",
    "(公財)",
    "(社)",
    "(財)",
    "(特非)",
    "(npo)",
    "(医)",
    "(医社)",
    "(医財)",
    "(社福)",
    "(福)",
    "(学)",
    "(宗)",
    "(独)",
    "(監)",
    // Traditional Chinese (Taiwan, Hong Kong), simplified Chinese, and Korean.
    "株式會社",
    "股份有限公司",
    "有限责任公司",
    "有限責任公司",
    "有限公司",
    "주식회사",
    "유한회사",
    "(주)",
    "(유)",
];

/// English and European legal forms as token sequences: tokens are runs of letters and digits,
/// so `Co.,Ltd.` is `co ltd` and `L.L.C.` is `l l c`. Removed only at the end of a name,
/// repeatedly (`Co., Ltd.`, `GmbH & Co. KG`).
const TRAILING_FORMS: &[&[&str]] = &[
    &["inc"],
    &["incorporated"],
    &["corp"],
    &["corporation"],
    &["co"],
    &["company"],
    &["ltd"],
    &["limited"],
    &["llc"],
    &["l", "l", "c"],
    &["llp"],
    &["l", "l", "p"],
    &["lp"],
    &["l", "p"],
    &["plc"],
    &["p", "l", "c"],
    &["pty"],
    &["pte"],
    &["pvt"],
    &["private", "limited"],
    &["private", "ltd"],
    &["sdn", "bhd"],
    &["bhd"],
    &["kk"],
    &["k", "k"],
    &["gk"],
    &["g", "k"],
    &["kabushiki", "kaisha"],
    &["kabushiki", "gaisha"],
    &["kabushikigaisha"],
    &["kabushikikaisha"],
    &["godo", "kaisha"],
    &["yugen", "kaisha"],
    &["gmbh"],
    &["mbh"],
    &["ag"],
    &["a", "g"],
    &["kg"],
    &["kgaa"],
    &["se"],
    &["sa"],
    &["s", "a"],
    &["sas"],
    &["s", "a", "s"],
    &["sarl"],
    &["s", "a", "r", "l"],
    &["srl"],
    &["s", "r", "l"],
    &["spa"],
    &["s", "p", "a"],
    &["sl"],
    &["s", "l"],
    &["ltda"],
    &["bv"],
    &["b", "v"],
    &["nv"],
    &["n", "v"],
    &["ab"],
    &["oy"],
    &["oyj"],
    &["asa"],
    &["a", "s"],
];

/// The matching key of a company name: NFKC, case-folded, legal forms removed wherever they
/// stand, spaces and punctuation removed. None when nothing is left.
pub fn company_key(name: &str) -> Option<String> {
    let folded = normalize_text(name).to_lowercase();
    let without_cjk = remove_cjk_forms(&folded);
    let words = tokens(&without_cjk);
    let kept = strip_trailing_forms(&words);
    let key: String = kept.concat();
    if !key.is_empty() {
        return Some(key);
    }
    // Nothing but legal forms: the form is the name (see the module doc).
    let whole: String = tokens(&folded).concat();
    (!whole.is_empty()).then_some(whole)
}

/// [`CJK_FORMS`] longest first, so that `医療法人社団` goes whole rather than leaving `社団`.
static CJK_FORMS_LONGEST_FIRST: LazyLock<Vec<&'static str>> = LazyLock::new(|| {
    let mut forms = CJK_FORMS.to_vec();
    forms.sort_by_key(|f| std::cmp::Reverse(f.chars().count()));
    forms
});

fn remove_cjk_forms(s: &str) -> String {
    let mut out = s.to_owned();
    for form in CJK_FORMS_LONGEST_FIRST.iter() {
        if out.contains(form) {
            out = out.replace(form, " ");
        }
    }
    out
}

/// Runs of letters and digits, split also where Latin letters meet other scripts
/// (`エービーシーinc` is `エービーシー` and `inc`), so a trailing form written without a space
/// is still a token of its own.
fn tokens(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start: Option<(usize, bool)> = None;
    for (i, c) in s.char_indices() {
        let latin = is_latin_or_digit(c);
        match (start, c.is_alphanumeric()) {
            (None, true) => start = Some((i, latin)),
            (Some((from, was_latin)), true) if was_latin != latin => {
                out.push(&s[from..i]);
                start = Some((i, latin));
            }
            (Some((from, _)), false) => {
                out.push(&s[from..i]);
                start = None;
            }
            _ => {}
        }
    }
    if let Some((from, _)) = start {
        out.push(&s[from..]);
    }
    out
}

/// Latin letters (Basic Latin, Latin-1, Extended-A/B and Additional, so `Müller` is one token)
/// and ASCII digits.
fn is_latin_or_digit(c: char) -> bool {
    c.is_ascii_alphanumeric()
        || ('\u{00C0}'..='\u{024F}').contains(&c)
        || ('\u{1E00}'..='\u{1EFF}').contains(&c)
}

/// Removes trailing legal forms, longest first at each step, but never the last token left.
fn strip_trailing_forms<'a>(tokens: &'a [&'a str]) -> &'a [&'a str] {
    let mut kept = tokens;
    while let Some(len) = TRAILING_FORMS
        .iter()
        .filter(|form| form.len() < kept.len() && kept.ends_with(form))
        .map(|form| form.len())
        .max()
    {
        kept = &kept[..kept.len() - len];
    }
    kept
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (name, expected key)
    const CASES: &[(&str, Option<&str>)] = &[
        // The brief's six spellings of one company.
        ("ＡＢＣ株式会社", Some("abc")),
        ("株式会社ABC", Some("abc")),
        ("(株)ABC", Some("abc")),
        ("ABC Inc.", Some("abc")),
        ("abc, inc", Some("abc")),
        ("ＡＢＣ　Ｃｏ．，Ｌｔｄ．", Some("abc")),
        // More spellings of the same.
        ("㈱ABC", Some("abc")),
        ("（株）ＡＢＣ", Some("abc")),
        ("ABC㈱", Some("abc")),
        ("㍿ABC", Some("abc")),
        ("株式会社 ABC", Some("abc")),
        ("ABC Co., Ltd.", Some("abc")),
        ("ABC Co.,Ltd.", Some("abc")),
        ("ABC CO LTD", Some("abc")),
        ("ABC Corporation", Some("abc")),
        ("ABC Corp.", Some("abc")),
        ("ABC Incorporated", Some("abc")),
        ("ABC Limited", Some("abc")),
        ("ABC LLC", Some("abc")),
        ("ABC L.L.C.", Some("abc")),
        ("ABC K.K.", Some("abc")),
        ("ABC KK", Some("abc")),
        ("ABC G.K.", Some("abc")),
        ("ABC Pty Ltd", Some("abc")),
        ("ABC Pte. Ltd.", Some("abc")),
        ("ABC Private Limited", Some("abc")),
        ("ABC Pvt. Ltd.", Some("abc")),
        ("ABC Private", Some("abcprivate")),
        ("ABC GmbH", Some("abc")),
        ("ABC GmbH & Co. KG", Some("abc")),
        ("ABC AG", Some("abc")),
        ("ABC S.A.", Some("abc")),
        ("ABC SAS", Some("abc")),
        ("ABC PLC", Some("abc")),
        ("ABC B.V.", Some("abc")),
        ("ABC Kabushiki Kaisha", Some("abc")),
        ("ABC合同会社", Some("abc")),
        ("有限会社ABC", Some("abc")),
        ("ABC(有)", Some("abc")),
        ("㈲ABC", Some("abc")),
        ("ABC合資会社", Some("abc")),
        ("合名会社ABC", Some("abc")),
        ("ABC(同)", Some("abc")),
        // Japanese names.
        ("株式会社山田商事", Some("山田商事")),
        ("山田商事株式会社", Some("山田商事")),
        ("(株)山田商事", Some("山田商事")),
        ("山田商事（株）", Some("山田商事")),
        ("山田 商事 株式会社", Some("山田商事")),
        ("ｶﾌﾞｼｷｶﾞｲｼｬﾔﾏﾀﾞ", Some("カブシキガイシャヤマダ")),
        ("一般社団法人日本ABC協会", Some("日本abc協会")),
        ("(一社)日本ABC協会", Some("日本abc協会")),
        ("一般財団法人山田記念財団", Some("山田記念財団")),
        ("公益社団法人ABC", Some("abc")),
        ("公益財団法人ABC", Some("abc")),
        ("特定非営利活動法人ABC", Some("abc")),
        ("ＮＰＯ法人ABC", Some("abc")),
        ("医療法人社団山田会", Some("山田会")),
        ("医療法人山田会", Some("山田会")),
        ("社会福祉法人山田会", Some("山田会")),
        ("学校法人山田学園", Some("山田学園")),
        ("ソニーグループ株式会社", Some("ソニーグループ")),
        ("トヨタ自動車株式会社", Some("トヨタ自動車")),
        ("ジョン・スミス商事", Some("ジョンスミス商事")),
        ("ジョンスミス商事", Some("ジョンスミス商事")),
        ("エービーシーInc.", Some("エービーシー")),
        ("台灣ABC股份有限公司", Some("台灣abc")),
        ("(주)ABC", Some("abc")),
        // Katakana and hiragana stay apart.
        ("かぶ商店", Some("かぶ商店")),
        ("カブ商店", Some("カブ商店")),
        // Short forms inside words or at the front are not legal forms.
        ("Stag", Some("stag")),
        ("Stag AG", Some("stag")),
        ("Bookk Co", Some("bookk")),
        ("Coca-Cola Company", Some("cocacola")),
        ("SAS Institute Inc.", Some("sasinstitute")),
        ("Limited Brands", Some("limitedbrands")),
        ("Incredible Machines", Some("incrediblemachines")),
        ("AG Barr plc", Some("agbarr")),
        ("Cosmo Co", Some("cosmo")),
        // Only a legal form: the form is the name.
        ("株式会社", Some("株式会社")),
        ("(株)", Some("株")),
        ("Inc.", Some("inc")),
        ("Co., Ltd.", Some("co")),
        ("AG", Some("ag")),
        // Punctuation and spacing.
        ("A.B.C. Trading", Some("abctrading")),
        ("ABC-Trading", Some("abctrading")),
        ("AT&T Inc.", Some("att")),
        ("  abc   trading  ", Some("abctrading")),
        ("Müller GmbH", Some("müller")),
        ("Toréag", Some("toréag")),
        ("Société Générale S.A.", Some("sociétégénérale")),
        // Nothing there.
        ("", None),
        ("   ", None),
        ("・", None),
        ("---", None),
        ("(  )", None),
    ];

    #[test]
    fn keys_of_the_table() {
        assert!(CASES.len() >= 45, "{}", CASES.len());
        let failures: Vec<String> = CASES
            .iter()
            .filter_map(|(name, want)| {
                let got = company_key(name);
                (got.as_deref() != *want).then(|| format!("{name:?}: want {want:?}, got {got:?}"))
            })
            .collect();
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }

    #[test]
    fn normalizes_text() {
        for (input, want) in [
            ("", ""),
            ("  ", ""),
            ("山田\u{3000}太郎", "山田 太郎"),
            ("  Taro   Yamada  ", "Taro Yamada"),
            ("ＡＢＣ　Ｃｏ．，Ｌｔｄ．", "ABC Co.,Ltd."),
            ("ｶﾌﾞｼｷｶﾞｲｼｬ", "カブシキガイシャ"),
            ("㈱ABC", "(株)ABC"),
            ("a\tb\nc\r\nd", "a b c d"),
            ("a\u{200B}b", "ab"),
            ("\u{FEFF}abc", "abc"),
            ("a\u{0}b\u{7}c", "abc"),
            ("e\u{200B}\u{301}", "é"),
            ("Café", "Café"),
        ] {
            assert_eq!(normalize_text(input), want, "{input:?}");
        }
    }
}
