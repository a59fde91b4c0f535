//! Salesforce record ids: the 15-character case-sensitive id and its 18-character case-safe
//! form, and the key prefixes of the emulated objects.
//!
//! A 15-character id is a 3-character key prefix (the object), a 2-character instance code, one
//! reserved character and a 9-character base-62 serial ("What is a Salesforce ID", Salesforce
//! Help, knowledge article 000385008). The 18-character form appends a 3-character checksum of
//! the capitalisation, so that case-insensitive tools do not confuse ids: each 5-character chunk
//! gives one character, whose 5 bits say which of the chunk's characters are upper-case letters,
//! looked up in `A–Z0–5` (the algorithm published in "Convert 15-char id to 18-char id",
//! Salesforce developer documentation of `Id.to18()`, and implemented by every community tool).
//!
//! The serial is written with the digits `0-9A-Za-z`, whose ASCII order equals their numeric
//! order, so ids sort as they were created, like Salesforce's own.

const BASE62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const CHECKSUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ012345";

/// The three checksum characters of a 15-character id.
pub fn checksum(id15: &str) -> String {
    checksum_of(id15.as_bytes())
        .iter()
        .map(|b| *b as char)
        .collect()
}

fn checksum_of(id15: &[u8]) -> [u8; 3] {
    let mut out = [0u8; 3];
    for (chunk, slot) in out.iter_mut().enumerate() {
        let mut bits = 0usize;
        for i in 0..5 {
            if id15
                .get(chunk * 5 + i)
                .is_some_and(|b| b.is_ascii_uppercase())
            {
                bits |= 1 << i;
            }
        }
        *slot = CHECKSUM[bits];
    }
    out
}

/// The 18-character form of a 15-character id.
pub fn to18(id15: &str) -> String {
    let mut out = String::with_capacity(id15.len() + 3);
    out.push_str(id15);
    out.extend(checksum_of(id15.as_bytes()).iter().map(|b| *b as char));
    out
}

/// The 9 base-62 digits of serial `n`.
fn serial_digits(n: u64) -> [u8; 9] {
    let mut serial = [b'0'; 9];
    let mut v = n;
    for slot in serial.iter_mut().rev() {
        *slot = BASE62[(v % 62) as usize];
        v /= 62;
    }
    serial
}

fn push_id15(out: &mut String, prefix: &str, pod: &str, n: u64) {
    out.push_str(prefix);
    out.push_str(pod);
    out.push('0');
    out.extend(serial_digits(n).iter().map(|b| *b as char));
}

/// Builds the 15-character id of serial `n` with `prefix` in the org's `pod` (2 characters).
pub fn id15(prefix: &str, pod: &str, n: u64) -> String {
    let mut out = String::with_capacity(15);
    push_id15(&mut out, prefix, pod, n);
    out
}

/// The 18-character id of serial `n` (one allocation: ids are written for every record of a
/// query page).
pub fn id18(prefix: &str, pod: &str, n: u64) -> String {
    let mut out = String::with_capacity(18);
    push_id15(&mut out, prefix, pod, n);
    let sum = checksum_of(out.as_bytes());
    out.extend(sum.iter().map(|b| *b as char));
    out
}

/// A well-formed id split into its key prefix and serial. Accepts the 15- and 18-character forms;
/// an 18-character id whose checksum does not match its case is refused, as Salesforce refuses it
/// ("invalid ID field").
pub fn parse(id: &str) -> Option<(&str, u64)> {
    if !id.is_ascii() || !(id.len() == 15 || id.len() == 18) {
        return None;
    }
    if !id.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let id15 = &id[..15];
    if id.len() == 18 && !id.as_bytes()[15..].eq_ignore_ascii_case(&checksum_of(id15.as_bytes())) {
        return None;
    }
    let mut n: u64 = 0;
    for b in id15[6..].bytes() {
        let d = BASE62.iter().position(|c| *c == b)? as u64;
        n = n.checked_mul(62)?.checked_add(d)?;
    }
    Some((&id15[..3], n))
}

/// Whether two ids name the same record: the 15-character part is compared case-sensitively,
/// which is how Salesforce compares a 15- with an 18-character id.
pub fn same(a: &str, b: &str) -> bool {
    a.len() >= 15
        && b.len() >= 15
        && a.is_char_boundary(15)
        && b.is_char_boundary(15)
        && a[..15] == b[..15]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checksums_match_known_id_pairs() {
        // Pairs taken from real Salesforce exports and the Salesforce Help example.
        for (id15, id18) in [
            ("0015000000Gv7qJ", "0015000000Gv7qJAAR"),
            ("0RTUJ00000k2vxq", "0RTUJ00000k2vxq4AA"),
            ("0038Z00003aegKp", "0038Z00003aegKpQAI"),
            ("00TUJ00000disvz", "00TUJ00000disvz2AA"),
            ("000000000000000", "000000000000000AAA"),
            ("ZZZZZZZZZZZZZZZ", "ZZZZZZZZZZZZZZZ555"),
        ] {
            assert_eq!(to18(id15), id18, "{id15}");
        }
    }

    #[test]
    fn ids_round_trip_and_sort_by_serial() {
        let a = id18("00Q", "5g", 61);
        let b = id18("00Q", "5g", 62);
        assert_eq!(a.len(), 18);
        assert!(a < b);
        assert_eq!(parse(&a), Some(("00Q", 61)));
        assert_eq!(parse(&b[..15]), Some(("00Q", 62)));
        assert_eq!(
            parse(&id18("001", "5g", 123_456_789)),
            Some(("001", 123_456_789))
        );
    }

    #[test]
    fn malformed_ids_are_refused() {
        assert_eq!(parse("001"), None);
        assert_eq!(parse("0015g000000001x-AA"), None);
        // A wrong checksum.
        let mut bad = id18("003", "5g", 7);
        bad.replace_range(15..18, "ZZZ");
        assert_eq!(parse(&bad), None);
        assert!(same(&id18("003", "5g", 7), &id15("003", "5g", 7)));
    }
}
