//! A small JSON writer for the hot path: documents and action lines.
//!
//! Strings are most of a `_bulk` body (`@message`, `Query`, `Fingerprint`), and serde_json escapes
//! them one byte at a time. [`write_str`] checks eight bytes at a time for anything that needs
//! escaping and copies clean runs whole; its output is byte-for-byte serde_json's (same escapes,
//! lower-case `\u00xx`), which the tests check. Integers use `itoa` as serde_json does; the few
//! floats of a document go through serde_json itself.
//! Arbitrary JSON values (`extractedFields`, objects found in messages) still go through serde_json.
//!
//! Pure: appends to a `Vec<u8>`.

use serde_json::Value;

/// What each byte becomes: 0 = itself, else the escape letter (`u` = `\u00XX`).
const ESCAPE: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = b'u';
        b += 1;
    }
    table[0x08] = b'b';
    table[0x09] = b't';
    table[0x0a] = b'n';
    table[0x0c] = b'f';
    table[0x0d] = b'r';
    table[b'"' as usize] = b'"';
    table[b'\\' as usize] = b'\\';
    table
};

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

/// One bit (the high bit of its byte) for each of the eight bytes that is a control character,
/// `"` or `\`. The lowest set bit is exact; bits above a set one may be false (a borrow carries
/// into the next byte), so only the first is used.
#[inline(always)]
fn escape_mask(chunk: u64) -> u64 {
    let control = chunk.wrapping_sub(ONES * 0x20) & !chunk;
    let quote = chunk ^ (ONES * u64::from(b'"'));
    let backslash = chunk ^ (ONES * u64::from(b'\\'));
    let quote = quote.wrapping_sub(ONES) & !quote;
    let backslash = backslash.wrapping_sub(ONES) & !backslash;
    (control | quote | backslash) & HIGHS
}

#[inline(always)]
fn word(bytes: &[u8], at: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&bytes[at..at + 8]);
    u64::from_le_bytes(word)
}

/// Where the first byte at or after `from` that needs an escape is, if any. Sixteen bytes a
/// step, then the last (fewer than sixteen) bytes in at most two words: a string of eight bytes
/// or more reads its last eight (overlapping what was checked, those bytes counted as clean),
/// a shorter one is padded with spaces.
#[inline(always)]
fn next_escape(bytes: &[u8], mut from: usize) -> Option<usize> {
    let at = |from: usize, mask: u64| from + (mask.trailing_zeros() / 8) as usize;
    while from + 16 <= bytes.len() {
        let (low, high) = (escape_mask(word(bytes, from)), escape_mask(word(bytes, from + 8)));
        if low | high != 0 {
            return Some(if low != 0 { at(from, low) } else { at(from + 8, high) });
        }
        from += 16;
    }
    if from + 8 <= bytes.len() {
        let mask = escape_mask(word(bytes, from));
        if mask != 0 {
            return Some(at(from, mask));
        }
        from += 8;
    }
    let left = bytes.len() - from;
    if left == 0 {
        return None;
    }
    let mask = if bytes.len() >= 8 {
        // The last eight bytes; the 8 - left already checked become spaces, so an escape among
        // them cannot carry into the bytes that count.
        let seen = 8 - left;
        let keep = u64::MAX << (seen * 8);
        let last = word(bytes, bytes.len() - 8);
        escape_mask((last & keep) | ((ONES * u64::from(b' ')) & !keep)) >> (seen * 8)
    } else {
        let mut padded = [b' '; 8];
        padded[..left].copy_from_slice(&bytes[from..]);
        escape_mask(u64::from_le_bytes(padded))
    };
    (mask != 0).then(|| at(from, mask))
}

/// Appends `text` as a JSON string, quotes included.
pub fn write_str(out: &mut Vec<u8>, text: &str) {
    let bytes = text.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut clean_from = 0;
    while let Some(at) = next_escape(bytes, clean_from) {
        out.extend_from_slice(&bytes[clean_from..at]);
        let byte = bytes[at];
        match ESCAPE[usize::from(byte)] {
            b'u' => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[
                    b'\\',
                    b'u',
                    b'0',
                    b'0',
                    HEX[usize::from(byte >> 4)],
                    HEX[usize::from(byte & 0xf)],
                ]);
            }
            letter => out.extend_from_slice(&[b'\\', letter]),
        }
        clean_from = at + 1;
    }
    out.extend_from_slice(&bytes[clean_from..]);
    out.push(b'"');
}

/// Appends `ip` as a JSON string, as its `Display` writes it. IPv4 (most clients) is written
/// octet by octet; `Display` costs about twenty times more.
pub fn write_ip(out: &mut Vec<u8>, ip: std::net::IpAddr) {
    match ip {
        std::net::IpAddr::V4(v4) => {
            out.push(b'"');
            for (i, octet) in v4.octets().into_iter().enumerate() {
                if i > 0 {
                    out.push(b'.');
                }
                out.extend_from_slice(itoa::Buffer::new().format(octet).as_bytes());
            }
            out.push(b'"');
        }
        std::net::IpAddr::V6(v6) => write_str(out, &v6.to_string()),
    }
}

pub fn write_i64(out: &mut Vec<u8>, value: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(value).as_bytes());
}

/// serde_json's form: shortest round trip, `2.0` for whole numbers, `null` when not finite.
pub fn write_f64(out: &mut Vec<u8>, value: f64) {
    // Writing an f64 into a Vec cannot fail.
    serde_json::to_writer(out, &value).expect("an f64 always serializes");
}

/// Writes one JSON object's members, commas included.
pub struct ObjectWriter<'a> {
    out: &'a mut Vec<u8>,
    first: bool,
}

impl<'a> ObjectWriter<'a> {
    pub fn start(out: &'a mut Vec<u8>) -> Self {
        out.push(b'{');
        ObjectWriter { out, first: true }
    }

    /// The key, and room for its value: returns the buffer to write the value into.
    pub fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.first {
            self.out.push(b',');
        }
        self.first = false;
        write_str(self.out, key);
        self.out.push(b':');
        self.out
    }

    pub fn str(&mut self, key: &str, value: &str) {
        write_str(self.key(key), value);
    }

    pub fn i64(&mut self, key: &str, value: i64) {
        write_i64(self.key(key), value);
    }

    pub fn f64(&mut self, key: &str, value: f64) {
        write_f64(self.key(key), value);
    }

    pub fn ip(&mut self, key: &str, value: std::net::IpAddr) {
        write_ip(self.key(key), value);
    }

    pub fn bool(&mut self, key: &str, value: bool) {
        self.key(key).extend_from_slice(if value { b"true" } else { b"false" });
    }

    pub fn value(&mut self, key: &str, value: &Value) {
        let out = self.key(key);
        // Writing a Value into a Vec cannot fail: its keys are strings, its numbers finite.
        serde_json::to_writer(out, value).expect("a serde_json::Value always serializes");
    }

    pub fn str_array(&mut self, key: &str, values: &[String]) {
        let out = self.key(key);
        out.push(b'[');
        for (i, value) in values.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            write_str(out, value);
        }
        out.push(b']');
    }

    pub fn end(self) {
        self.out.push(b'}');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn escaped(text: &str) -> String {
        let mut out = Vec::new();
        write_str(&mut out, text);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn escapes_like_serde_json() {
        for text in
            ["", "plain", "q\"uote", "back\\slash", "\n\r\t\u{8}\u{c}", "\0\u{1f}\u{7f}", "é🚀\u{2028}", "12345678\"9"]
        {
            assert_eq!(escaped(text), serde_json::to_string(text).unwrap(), "{text:?}");
        }
    }

    #[test]
    fn numbers_like_serde_json() {
        for value in [0.0, 2.0, 0.000091, 7.412893, 18_446_744_073_708.797, -1.5, 1e300] {
            let mut out = Vec::new();
            write_f64(&mut out, value);
            assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&value).unwrap());
        }
        let mut out = Vec::new();
        write_f64(&mut out, f64::NAN);
        assert_eq!(out, b"null");
        let mut out = Vec::new();
        write_i64(&mut out, i64::MIN);
        assert_eq!(out, i64::MIN.to_string().as_bytes());
    }

    #[test]
    fn object_writer_separates_members() {
        let mut out = Vec::new();
        let mut object = ObjectWriter::start(&mut out);
        object.str("a", "x");
        object.i64("b", 1);
        object.bool("c", false);
        object.str_array("d", &["y".to_owned(), "z".to_owned()]);
        object.value("e", &serde_json::json!({"f": [1, null]}));
        object.end();
        assert_eq!(String::from_utf8(out).unwrap(), r#"{"a":"x","b":1,"c":false,"d":["y","z"],"e":{"f":[1,null]}}"#);
    }

    proptest! {
        #[test]
        fn any_string_escapes_byte_for_byte_like_serde_json(text in any::<String>()) {
            prop_assert_eq!(escaped(&text), serde_json::to_string(&text).unwrap());
        }

        #[test]
        fn addresses_are_written_as_display_writes_them(v4 in any::<u32>(), v6 in any::<u128>()) {
            for ip in [std::net::IpAddr::from(v4.to_be_bytes()), std::net::IpAddr::from(v6.to_be_bytes())] {
                let mut out = Vec::new();
                write_ip(&mut out, ip);
                prop_assert_eq!(String::from_utf8(out).unwrap(), serde_json::to_string(&ip.to_string()).unwrap());
            }
        }

        #[test]
        fn control_heavy_strings_escape_like_serde_json(text in "[\\x00-\\x1f\"\\\\a-z]{0,40}") {
            prop_assert_eq!(escaped(&text), serde_json::to_string(&text).unwrap());
        }

        // Clean text with a few escapes anywhere: each in the first or second word of a
        // sixteen-byte step, the overlapping last word or the padded tail, next to each other
        // or to the end.
        #[test]
        fn sparse_escapes_at_any_position_escape_like_serde_json(
            filler in prop::sample::select(vec!['a', ' ', '~', '\u{7f}', 'é', '🚀']),
            len in 0usize..70,
            hits in prop::collection::vec((0usize..70, prop::sample::select(vec!['"', '\\', '\n', '\u{0}', '\u{1f}'])), 0..4),
        ) {
            let mut text: Vec<char> = vec![filler; len];
            for (at, escape) in hits {
                if at < text.len() {
                    text[at] = escape;
                }
            }
            let text: String = text.into_iter().collect();
            prop_assert_eq!(escaped(&text), serde_json::to_string(&text).unwrap());
        }
    }
}
