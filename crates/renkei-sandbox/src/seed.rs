//! Deterministic demo people and companies, the same for every emulator.
//!
//! `generate(seed, n)` always answers the same data for the same arguments, so a test can seed
//! an emulator and know what it will import. The data is built to exercise matching the way a
//! Japanese deployment meets it: Japanese and English names, companies with and without legal
//! forms (株式会社, (株), ㈱, Inc., Co., Ltd.), phone numbers in many real-world notations
//! (including full-width digits and brackets), some numbers shared by two people in different
//! notations, corporate and free-mail addresses, and some people missing a phone, a name or a
//! company. Each emulator maps these people onto its own objects.

/// A company.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Company {
    pub name: String,
    /// The web domain, also used for the people's corporate addresses.
    pub domain: String,
    pub phone: Option<String>,
    pub japanese: bool,
    pub city: String,
    pub industry: &'static str,
}

/// A person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    pub japanese: bool,
    /// Missing for a few people: a record known only by its email or phone.
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email: Option<String>,
    /// Landline or main number, in one of many notations.
    pub phone: Option<String>,
    pub mobile: Option<String>,
    /// Index into [`SeedData::companies`]; `None` for an individual.
    pub company: Option<usize>,
    pub title: Option<&'static str>,
    pub city: String,
}

impl Person {
    /// "佐藤 翔太" for Japanese people (family name first), "Emma Johnson" for others.
    pub fn full_name(&self) -> Option<String> {
        match (&self.first_name, &self.last_name) {
            (Some(f), Some(l)) if self.japanese => Some(format!("{l} {f}")),
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (None, Some(l)) => Some(l.clone()),
            (Some(f), None) => Some(f.clone()),
            (None, None) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedData {
    pub companies: Vec<Company>,
    pub people: Vec<Person>,
}

const JA_FAMILY: &[(&str, &str)] = &[
    ("佐藤", "sato"),
    ("鈴木", "suzuki"),
    ("高橋", "takahashi"),
    ("田中", "tanaka"),
    ("伊藤", "ito"),
    ("渡辺", "watanabe"),
    ("山本", "yamamoto"),
    ("中村", "nakamura"),
    ("小林", "kobayashi"),
    ("加藤", "kato"),
    ("吉田", "yoshida"),
    ("山田", "yamada"),
    ("佐々木", "sasaki"),
    ("山口", "yamaguchi"),
    ("松本", "matsumoto"),
    ("井上", "inoue"),
    ("木村", "kimura"),
    ("林", "hayashi"),
    ("斎藤", "saito"),
    ("清水", "shimizu"),
];

const JA_GIVEN: &[(&str, &str)] = &[
    ("翔太", "shota"),
    ("陽菜", "hina"),
    ("大輔", "daisuke"),
    ("美咲", "misaki"),
    ("健太", "kenta"),
    ("結衣", "yui"),
    ("拓也", "takuya"),
    ("さくら", "sakura"),
    ("直樹", "naoki"),
    ("愛", "ai"),
    ("蓮", "ren"),
    ("葵", "aoi"),
    ("悠真", "yuma"),
    ("花子", "hanako"),
    ("太郎", "taro"),
    ("恵子", "keiko"),
];

const EN_FIRST: &[&str] = &[
    "Emma", "Liam", "Olivia", "Noah", "Ava", "James", "Sophia", "Lucas", "Mia", "Ethan", "Grace",
    "Daniel", "Chloe", "Henry", "Zoe", "Jack",
];

const EN_LAST: &[&str] = &[
    "Smith", "Johnson", "Williams", "Brown", "Jones", "Miller", "Davis", "Wilson", "Taylor",
    "Clark", "Lewis", "Walker", "Young", "King", "Wright", "O'Brien",
];

/// Japanese company stems with their romanised domain part.
const JA_COMPANY: &[(&str, &str)] = &[
    ("さくら商事", "sakura-shoji"),
    ("東京テック", "tokyo-tech"),
    ("北斗システム", "hokuto-sys"),
    ("青空物産", "aozora-bussan"),
    ("富士ソリューションズ", "fuji-solutions"),
    ("みらい製作所", "mirai-ss"),
    ("大和ロジスティクス", "yamato-logi"),
    ("光電工業", "koden-kogyo"),
    ("桜井建設", "sakurai-kensetsu"),
    ("日の出フーズ", "hinode-foods"),
    ("浪速データ", "naniwa-data"),
    ("瀬戸内マリン", "setouchi-marine"),
];

const EN_COMPANY: &[(&str, &str)] = &[
    ("Acme", "acme"),
    ("Globex", "globex"),
    ("Initech", "initech"),
    ("Umbrella", "umbrella"),
    ("Stark Industries", "stark"),
    ("Wayne Enterprises", "wayne"),
    ("Hooli", "hooli"),
    ("Vandelay Industries", "vandelay"),
    ("Tyrell", "tyrell"),
    ("Cyberdyne Systems", "cyberdyne"),
];

const JA_CITIES: &[(&str, &str)] = &[
    ("東京都千代田区", "3"),
    ("東京都渋谷区", "3"),
    ("大阪府大阪市", "6"),
    ("愛知県名古屋市", "52"),
    ("福岡県福岡市", "92"),
    ("北海道札幌市", "11"),
    ("京都府京都市", "75"),
];

const EN_CITIES: &[(&str, &str)] = &[
    ("San Francisco", "1415"),
    ("New York", "1212"),
    ("London", "4420"),
    ("Seattle", "1206"),
];

const FREE_MAIL: &[&str] = &[
    "gmail.com",
    "yahoo.co.jp",
    "outlook.com",
    "icloud.com",
    "docomo.ne.jp",
    "hotmail.com",
    "ezweb.ne.jp",
];

const INDUSTRIES: &[&str] = &[
    "Technology",
    "Manufacturing",
    "Retail",
    "Finance",
    "Logistics",
    "Construction",
    "Food & Beverage",
];

const JA_TITLES: &[&str] = &[
    "営業部長",
    "代表取締役",
    "課長",
    "マネージャー",
    "エンジニア",
    "担当",
];
const EN_TITLES: &[&str] = &[
    "Sales Director",
    "CEO",
    "Account Manager",
    "Engineer",
    "VP Marketing",
];

/// A phone number as digits, before it is written in some notation.
#[derive(Debug, Clone, Copy)]
struct Number {
    /// Country calling code: 81, 1 or 44.
    country: u16,
    /// The national significant number's area part and the rest, e.g. ("3", "12345678").
    area: &'static str,
    subscriber: u32,
    mobile: bool,
}

fn full_width(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(c as u32 - '0' as u32 + 0xFF10).unwrap_or(c),
            '(' => '（',
            ')' => '）',
            '-' => '－',
            '+' => '＋',
            ' ' => '　',
            c => c,
        })
        .collect()
}

/// Writes a number in one of the notations people actually type.
fn notation(n: Number, style: u8) -> String {
    match n.country {
        81 => {
            // Japanese numbers: area code plus an 8-digit (landline, 1-digit area) or a
            // 4+4 (mobile 090/080/070) subscriber part.
            let (area, sub) = if n.mobile {
                (
                    n.area.to_string(),
                    format!("{:08}", n.subscriber % 100_000_000),
                )
            } else {
                let width = 9 - n.area.len();
                (
                    n.area.to_string(),
                    format!(
                        "{:0width$}",
                        n.subscriber % 10u32.pow(width as u32),
                        width = width
                    ),
                )
            };
            let split = sub.len() - 4;
            let (a, b) = sub.split_at(split);
            match style % 8 {
                0 => format!("0{area}-{a}-{b}"),
                1 => format!("+81 {area} {a} {b}"),
                2 => full_width(&format!("0{area}({a}){b}")),
                3 => format!("0{area}{a}{b}"),
                4 => format!("(0{area}) {a}-{b}"),
                5 => format!("+81-{area}-{a}-{b}"),
                6 => full_width(&format!("0{area}-{a}-{b}")),
                _ => format!("+81{area}{a}{b}"),
            }
        }
        _ => {
            let sub = format!("{:07}", n.subscriber % 10_000_000);
            let (a, b) = sub.split_at(3);
            let cc = n.country;
            if cc == 1 {
                match style % 4 {
                    0 => format!("+1 ({}) {a}-{b}", n.area),
                    1 => format!("{}-{a}-{b}", n.area),
                    2 => format!("({}) {a}-{b}", n.area),
                    _ => format!("+1{}{a}{b}", n.area),
                }
            } else {
                match style % 3 {
                    0 => format!("+44 {} {a} {b}", n.area),
                    1 => format!("0{} {a} {b}", n.area),
                    _ => format!("+44{}{a}{b}", n.area),
                }
            }
        }
    }
}

fn landline(rng: &mut fastrand::Rng, japanese: bool, city: usize) -> Number {
    if japanese {
        let area = JA_CITIES[city % JA_CITIES.len()].1;
        Number {
            country: 81,
            area,
            subscriber: rng.u32(10_000_000..99_999_999),
            mobile: false,
        }
    } else {
        let code = EN_CITIES[city % EN_CITIES.len()].1;
        let (country, area) = match code.strip_prefix("44") {
            Some(rest) => (44, rest),
            None => (1, &code[1..]),
        };
        Number {
            country,
            area,
            // 555-01xx is reserved for fiction in North America; use it where it applies.
            subscriber: if country == 1 {
                5_550_100 + rng.u32(0..100)
            } else {
                rng.u32(1_000_000..9_999_999)
            },
            mobile: false,
        }
    }
}

fn mobile(rng: &mut fastrand::Rng, japanese: bool) -> Number {
    if japanese {
        Number {
            country: 81,
            area: ["90", "80", "70"][rng.usize(..3)],
            subscriber: rng.u32(10_000_000..99_999_999),
            mobile: true,
        }
    } else {
        Number {
            country: 1,
            area: "415",
            subscriber: 5_550_100 + rng.u32(0..100),
            mobile: true,
        }
    }
}

/// `count` people (and about one company per four people), the same for the same `seed`.
pub fn generate(seed: u64, count: usize) -> SeedData {
    let mut rng = fastrand::Rng::with_seed(seed);
    let company_count = count.div_ceil(4).max(1).min(count.max(1));
    let mut companies = Vec::with_capacity(company_count);
    let mut domains = std::collections::HashSet::new();
    for i in 0..company_count {
        let japanese = rng.u8(..100) < 60;
        let city = rng.usize(..8);
        let (name, stem) = if japanese {
            let (stem, roman) = JA_COMPANY[rng.usize(..JA_COMPANY.len())];
            let name = match rng.u8(..6) {
                0 | 1 => format!("株式会社{stem}"),
                2 => format!("{stem}株式会社"),
                3 => format!("(株){stem}"),
                4 => format!("㈱{stem}"),
                _ => format!("合同会社{stem}"),
            };
            (name, roman)
        } else {
            let (stem, roman) = EN_COMPANY[rng.usize(..EN_COMPANY.len())];
            let name = match rng.u8(..5) {
                0 => format!("{stem} Inc."),
                1 => format!("{stem} Co., Ltd."),
                2 => format!("{stem}, Inc."),
                3 => format!("{stem} LLC"),
                _ => stem.to_owned(),
            };
            (name, roman)
        };
        // Two companies can share a stem; their domains must not collide.
        let tld = if japanese { "co.jp" } else { "com" };
        let mut domain = format!("{stem}.{tld}");
        if !domains.insert(domain.clone()) {
            domain = format!("{stem}{i}.{tld}");
            domains.insert(domain.clone());
        }
        let phone =
            (rng.u8(..10) < 8).then(|| notation(landline(&mut rng, japanese, city), rng.u8(..8)));
        let city_name = if japanese {
            JA_CITIES[city % JA_CITIES.len()].0
        } else {
            EN_CITIES[city % EN_CITIES.len()].0
        };
        companies.push(Company {
            name,
            domain,
            phone,
            japanese,
            city: city_name.to_owned(),
            industry: INDUSTRIES[rng.usize(..INDUSTRIES.len())],
        });
    }

    let mut people: Vec<Person> = Vec::with_capacity(count);
    let mut numbers: Vec<Number> = Vec::new();
    let mut emails = std::collections::HashSet::new();
    for i in 0..count {
        let company = (rng.u8(..100) < 85).then(|| rng.usize(..companies.len()));
        let japanese = match company {
            Some(c) => companies[c].japanese || rng.u8(..10) == 0,
            None => rng.u8(..100) < 60,
        };
        let (first, last, first_roman, last_roman) = if japanese {
            let (f, fr) = JA_GIVEN[rng.usize(..JA_GIVEN.len())];
            let (l, lr) = JA_FAMILY[rng.usize(..JA_FAMILY.len())];
            (f.to_owned(), l.to_owned(), fr.to_owned(), lr.to_owned())
        } else {
            let f = EN_FIRST[rng.usize(..EN_FIRST.len())];
            let l = EN_LAST[rng.usize(..EN_LAST.len())];
            (
                f.to_owned(),
                l.to_owned(),
                f.to_lowercase(),
                l.to_lowercase().replace('\'', ""),
            )
        };
        // About 4% have no name at all, 4% only a family name.
        let name_roll = rng.u8(..100);
        let (first_name, last_name) = match name_roll {
            0..4 => (None, None),
            4..8 => (None, Some(last)),
            _ => (Some(first), Some(last)),
        };
        let email = match rng.u8(..100) {
            0..8 => None,
            roll => {
                let local = match rng.u8(..3) {
                    0 => format!("{first_roman}.{last_roman}"),
                    1 => format!("{}{last_roman}", &first_roman[..1]),
                    _ => format!("{last_roman}.{first_roman}"),
                };
                let domain = match company {
                    Some(c) if roll < 70 => companies[c].domain.clone(),
                    _ => FREE_MAIL[rng.usize(..FREE_MAIL.len())].to_owned(),
                };
                let mut candidate = format!("{local}@{domain}");
                let mut n = 2;
                while !emails.insert(candidate.to_ascii_lowercase()) {
                    candidate = format!("{local}{n}@{domain}");
                    n += 1;
                }
                // Some people type their address with capitals; matching must fold case.
                if rng.u8(..20) == 0 {
                    candidate = capitalise_local(&candidate);
                }
                Some(candidate)
            }
        };
        let city = rng.usize(..8);
        // About 10% share a number already given to someone else, written another way: the
        // same office line, or a number typed in by two colleagues.
        let phone = match rng.u8(..100) {
            0..12 => None,
            12..22 if !numbers.is_empty() => {
                let n = numbers[rng.usize(..numbers.len())];
                Some(notation(n, rng.u8(..8)))
            }
            _ => {
                let n = landline(&mut rng, japanese, city);
                numbers.push(n);
                Some(notation(n, rng.u8(..8)))
            }
        };
        let mobile = (rng.u8(..100) < 45).then(|| {
            let n = mobile(&mut rng, japanese);
            numbers.push(n);
            notation(n, rng.u8(..8))
        });
        let title = if japanese {
            (rng.u8(..3) > 0).then(|| JA_TITLES[rng.usize(..JA_TITLES.len())])
        } else {
            (rng.u8(..3) > 0).then(|| EN_TITLES[rng.usize(..EN_TITLES.len())])
        };
        let city = match company {
            Some(c) => companies[c].city.clone(),
            None if japanese => JA_CITIES[city % JA_CITIES.len()].0.to_owned(),
            None => EN_CITIES[city % EN_CITIES.len()].0.to_owned(),
        };
        let _ = i;
        people.push(Person {
            japanese,
            first_name,
            last_name,
            email,
            phone,
            mobile,
            company,
            title,
            city,
        });
    }
    SeedData { companies, people }
}

fn capitalise_local(email: &str) -> String {
    let mut chars = email.chars();
    match chars.next() {
        Some(c) => c.to_ascii_uppercase().to_string() + chars.as_str(),
        None => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_gives_the_same_data_and_another_seed_other_data() {
        assert_eq!(generate(7, 200), generate(7, 200));
        assert_ne!(generate(7, 200), generate(8, 200));
    }

    #[test]
    fn the_data_has_the_variety_matching_needs() {
        let data = generate(1, 2000);
        let people = &data.people;
        assert_eq!(people.len(), 2000);
        let count = |f: &dyn Fn(&Person) -> bool| people.iter().filter(|p| f(p)).count();
        assert!(count(&|p| p.japanese) > 600);
        assert!(count(&|p| !p.japanese) > 400);
        assert!(count(&|p| p.phone.is_none()) > 50);
        assert!(count(&|p| p.full_name().is_none()) > 20);
        assert!(count(&|p| p.company.is_none()) > 100);
        assert!(count(&|p| p.email.is_none()) > 50);
        let phones: Vec<&str> = people.iter().filter_map(|p| p.phone.as_deref()).collect();
        assert!(phones.iter().any(|p| p.starts_with("+81 ")));
        assert!(
            phones.iter().any(|p| p.contains('（')),
            "full-width brackets"
        );
        assert!(phones.iter().any(|p| p.starts_with("0") && p.contains('-')));
        assert!(
            people
                .iter()
                .filter_map(|p| p.email.as_deref())
                .any(|e| e.ends_with("@yahoo.co.jp"))
        );
        let names: Vec<&str> = data.companies.iter().map(|c| c.name.as_str()).collect();
        assert!(names.iter().any(|n| n.contains("株式会社")));
        assert!(
            names
                .iter()
                .any(|n| n.starts_with("(株)") || n.starts_with('㈱'))
        );
        assert!(names.iter().any(|n| n.ends_with("Inc.")));
        // Emails are unique ignoring case, so vendors with a unique-email rule accept them all.
        let mut emails: Vec<String> = people
            .iter()
            .filter_map(|p| p.email.as_ref().map(|e| e.to_lowercase()))
            .collect();
        let n = emails.len();
        emails.sort();
        emails.dedup();
        assert_eq!(emails.len(), n);
    }

    #[test]
    fn some_numbers_are_shared_in_different_notations() {
        let data = generate(3, 500);
        let digits = |s: &str| -> String {
            s.chars()
                .filter_map(|c| {
                    let c = if ('\u{FF10}'..='\u{FF19}').contains(&c) {
                        char::from_u32(c as u32 - 0xFF10 + '0' as u32)?
                    } else {
                        c
                    };
                    c.is_ascii_digit().then_some(c)
                })
                .collect::<String>()
        };
        let normalised: Vec<String> = data
            .people
            .iter()
            .filter_map(|p| p.phone.as_deref())
            .map(|p| {
                let d = digits(p);
                d.strip_prefix("81").map(|r| format!("0{r}")).unwrap_or(d)
            })
            .collect();
        let mut sorted = normalised.clone();
        sorted.sort();
        sorted.dedup();
        assert!(sorted.len() < normalised.len(), "some numbers are shared");
    }
}
