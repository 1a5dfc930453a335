//! Query fingerprints, by pt-query-digest's rules.
//!
//! A fingerprint is the query with its literals abstracted away, so that every execution of the same
//! statement shape aggregates under one value: `SELECT * FROM t WHERE id = 5` and
//! `select *   from t where id=7` both become `select * from t where id = ?`-like text. DBAs know
//! these from pt-query-digest (Percona Toolkit), so this module follows its `QueryRewriter::fingerprint`
//! as of Percona Toolkit 3.5.7 step by step, in the same order (the order matters: comments go
//! before strings, strings before numbers), and [`fingerprint_id`] is pt-query-digest's query id of
//! the result.
//!
//! Deliberate differences from pt-query-digest, each a bug there that would split or mangle groups:
//! - `ASC` after `ORDER BY` is dropped only as a whole word (pt turns `ORDER BY ascii_col` into
//!   `order by ii_col`);
//! - trailing whitespace is trimmed as well as leading whitespace;
//! - `CALL  proc(…)` is `call proc` whatever the spacing (pt keeps the spaces, splitting groups);
//! - a quote doubled inside a string (SQL's `'it''s'`) does not end it (pt 3.5.7 leaves `'s'`, a
//!   literal, in the fingerprint: one group per value).
//!
//! Pure: no I/O, no logging. Regexes are compiled once, beside the step that uses them.

use md5::{Digest, Md5};
use memchr::memmem::Finder;
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

#[allow(clippy::disallowed_methods, reason = "called only from the LazyLock statics below")]
fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("fingerprint regexes are valid (covered by tests)")
}

/// `SELECT /*!40001 SQL_NO_CACHE */ * FROM `…: mysqldump's table scans, all one group.
static MYSQLDUMP: LazyLock<Regex> = LazyLock::new(|| regex(r"\ASELECT /\*!40001 SQL_NO_CACHE \*/ \* FROM `"));
/// Percona Toolkit tools tag their queries with `/*db.tbl:1/2*/`.
static PERCONA_TOOLKIT: LazyLock<Regex> = LazyLock::new(|| regex(r"/\*\w+\.\w+:[0-9]/[0-9]\*/"));
/// `CALL proc(…)`: capture 1 is the procedure; the arguments are not part of the shape.
static CALL: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\A\s*call\s+(\S+)\("));
/// A multi-row INSERT/REPLACE: capture 1 is the statement up to the end of its first tuple.
static MULTI_ROW_INSERT: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?is)\A((?:INSERT|REPLACE)(?: IGNORE)?\s+INTO.+?VALUES\s*\(.*?\))\s*,\s*\("));
/// `use db` alone is a statement of its own shape.
static USE_DB: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\Ause \S+\z"));

/// Substring searchers built once: building one costs more than a search of a short query.
static COMMENT_OPEN: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("/*"));
static COMMENT_CLOSE: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("*/"));
static DASH_DASH: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("--"));
static NULL_WORD: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("null"));
static UNION: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new(" union "));
static LIMIT_PLACEHOLDER: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("limit ?"));
static ORDER_BY: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("order by "));
static ASC_WORD: LazyLock<Finder<'static>> = LazyLock::new(|| Finder::new("asc"));

/// The choices pt-query-digest offers over its fingerprints.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rules {
    /// pt-query-digest's `--preserve-embedded-numbers`: a number inside an identifier stays
    /// (`orders_2024_01` is kept). Off by default, as in pt: `select foo_1 from foo_2_3` becomes
    /// `select foo_? from foo_?_?`, so sharded and dated tables group together.
    pub preserve_embedded_numbers: bool,
}

/// The pt-query-digest fingerprint of `query`, with pt's default rules.
///
/// ```
/// use logs_to_opensearch::fingerprint::fingerprint;
/// assert_eq!(fingerprint("SELECT * FROM t WHERE id IN (1, 2, 3) LIMIT 10, 20"),
///            "select * from t where id in(?+) limit ?");
/// assert_eq!(fingerprint("select c_1 from orders_2024_01"), "select c_? from orders_?_?");
/// ```
pub fn fingerprint(query: &str) -> String {
    fingerprint_with(query, Rules::default())
}

/// The pt-query-digest fingerprint of `query` under `rules`.
///
/// ```
/// use logs_to_opensearch::fingerprint::{fingerprint_with, Rules};
/// let keep = Rules { preserve_embedded_numbers: true };
/// assert_eq!(fingerprint_with("select c_1 from orders_2024_01 where id = 7", keep),
///            "select c_1 from orders_2024_01 where id = ?");
/// ```
pub fn fingerprint_with(query: &str, rules: Rules) -> String {
    // Each regex below is guarded by a literal it needs: a regex search has a fixed cost of
    // hundreds of instructions even when it cannot match, and most queries need few of them.
    if query.starts_with("SELECT /*!40001 SQL_NO_CACHE */ * FROM `") && MYSQLDUMP.is_match(query) {
        return "mysqldump".to_owned();
    }
    if COMMENT_OPEN.find(query.as_bytes()).is_some() && PERCONA_TOOLKIT.is_match(query) {
        return "percona-toolkit".to_owned();
    }
    if query.starts_with("administrator command: ") {
        return query.to_owned();
    }
    if starts_with_keyword(query.trim_start(), "call") {
        if let Some(call) = CALL.captures(query) {
            return format!("call {}", call[1].to_ascii_lowercase());
        }
    }
    // Shorten multi-row INSERTs first: their VALUES lists can be megabytes long.
    let query = first_row_of_multi_row_insert(query).unwrap_or(query);

    let q = remove_multi_line_comments(query);
    let q = remove_one_line_comments(q);
    if starts_with_keyword(q.trim_start(), "use ") && USE_DB.is_match(q.trim()) {
        return "use ?".to_owned();
    }
    let q = remove_escapes(q);
    let q = replace_quoted(q, b'"', Doubled::Continue);
    let q = replace_quoted(q, b'\'', Doubled::Continue);
    let mut q = replace_literals_collapse_lowercase(&q, !rules.preserve_embedded_numbers);
    q = replace_null(q);
    q = collapse_in_values(q);
    if UNION.find(q.as_bytes()).is_some() {
        q = collapse_union(&q);
    }
    q = collapse_limit(q);
    q = drop_asc_after_order_by(q);
    q
}

/// `text` starts with `keyword`, ignoring ASCII case.
fn starts_with_keyword(text: &str, keyword: &str) -> bool {
    text.as_bytes().get(..keyword.len()).is_some_and(|start| start.eq_ignore_ascii_case(keyword.as_bytes()))
}

/// The number of hex digits in a [`fingerprint_id`].
pub const FINGERPRINT_ID_DIGITS: usize = 32;

/// The stable id of a fingerprint: pt-query-digest 3.x's query id, all 32 hex digits of the MD5 of
/// the fingerprint, upper-case (its reports print it as `0x…`, its JSON output without the `0x`).
/// Before pt 3, and in this project before 2026-12, only the last 16 digits were used: an old id is
/// the tail of the new one.
pub fn fingerprint_id(fingerprint: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let digest = Md5::digest(fingerprint.as_bytes());
    let mut id = String::with_capacity(FINGERPRINT_ID_DIGITS);
    for byte in &digest {
        id.push(char::from(HEX[usize::from(byte >> 4)]));
        id.push(char::from(HEX[usize::from(byte & 0xf)]));
    }
    id
}

/// pt's multi-row INSERT/REPLACE rule: the statement up to the end of its first tuple, when a
/// second tuple follows. The regex is anchored at an INSERT or REPLACE keyword, so anything else
/// skips it; `find` (a DFA) instead of captures: the first tuple ends where `\s*,\s*\(` begins.
fn first_row_of_multi_row_insert(query: &str) -> Option<&str> {
    let start = query.as_bytes().get(..7)?;
    if !start[..6].eq_ignore_ascii_case(b"insert") && !start.eq_ignore_ascii_case(b"replace") {
        return None;
    }
    let whole = MULTI_ROW_INSERT.find(query)?.as_str();
    let before_paren = whole.strip_suffix('(')?.trim_end();
    Some(before_paren.strip_suffix(',')?.trim_end())
}

/// pt's `s#/\*[^!].*?\*/##smg`: comments out, MySQL's executable `/*! … */` comments kept.
fn remove_multi_line_comments(text: &str) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let finder = COMMENT_OPEN.find_iter(bytes);
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    for open in finder {
        if open < copied {
            continue; // inside a comment already removed
        }
        match bytes.get(open + 2) {
            None | Some(b'!') => continue,
            Some(_) => {}
        }
        // `[^!]` takes one character; its bytes cannot hold `*/`, so searching from the next byte is exact.
        let Some(len) = COMMENT_CLOSE.find(&bytes[open + 3..]) else {
            break;
        };
        let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
        out.extend_from_slice(&bytes[copied..open]);
        copied = open + 3 + len + 2;
    }
    match out {
        None => Cow::Borrowed(text),
        Some(mut out) => {
            out.extend_from_slice(&bytes[copied..]);
            Cow::Owned(into_string(out))
        }
    }
}

/// pt's `s/(?:--|#)[^'"\r\n]*(?=[\r\n]|\Z)//g`: `--` or `#` to the end of the line, unless a quote
/// comes first on that line. Linear: a candidate that meets a quote makes every candidate before
/// that quote fail too.
fn remove_one_line_comments(text: Cow<'_, str>) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    if memchr::memchr(b'#', bytes).is_none() && DASH_DASH.find(bytes).is_none() {
        return text;
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut copied = 0;
    let mut i = 0;
    while i < bytes.len() {
        let is_start = bytes[i] == b'#' || (bytes[i] == b'-' && bytes.get(i + 1) == Some(&b'-'));
        if !is_start {
            i += 1;
            continue;
        }
        let end =
            bytes[i..].iter().position(|b| matches!(b, b'\'' | b'"' | b'\r' | b'\n')).map_or(bytes.len(), |p| i + p);
        if end < bytes.len() && matches!(bytes[end], b'\'' | b'"') {
            i = end + 1;
            continue;
        }
        out.extend_from_slice(&bytes[copied..i]);
        copied = end;
        i = end;
    }
    out.extend_from_slice(&bytes[copied..]);
    Cow::Owned(into_string(out))
}

/// pt's escape steps, in its order: `s/([^\\])(\\')/$1/sg` and the same for `\"` (an escaped quote
/// after anything but a backslash goes), `s/\\\\//sg` (escaped backslashes go, in pairs from the
/// left), then `s/\\'//sg` and `s/\\"//sg` (any escaped quote left goes). So `'\\'` is an empty
/// string, not a quote that runs on, and no backslash is left before a quote for the next step.
fn remove_escapes(text: Cow<'_, str>) -> Cow<'_, str> {
    if memchr::memchr(b'\\', text.as_bytes()).is_none() {
        return text;
    }
    let mut bytes = text.as_bytes().to_vec();
    for quote in [b'\'', b'"'] {
        bytes = drop_escaped_quote_after_other(&bytes, quote);
    }
    bytes = drop_pairs(&bytes, b'\\', b'\\');
    for quote in [b'\'', b'"'] {
        bytes = drop_pairs(&bytes, b'\\', quote);
    }
    Cow::Owned(into_string(bytes))
}

/// `s/([^\\])(\\<quote>)/$1/sg`: the byte before is kept and taken by the match, so it cannot start
/// the next one.
fn drop_escaped_quote_after_other(bytes: &[u8], quote: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        out.push(bytes[i]);
        if bytes[i] != b'\\' && bytes.get(i + 1) == Some(&b'\\') && bytes.get(i + 2) == Some(&quote) {
            i += 3;
        } else {
            i += 1;
        }
    }
    out
}

/// `s/<first><second>//sg`, from the left, matches not overlapping.
fn drop_pairs(bytes: &[u8], first: u8, second: u8) -> Vec<u8> {
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == first && bytes.get(i + 1) == Some(&second) {
            i += 2;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    out
}

/// What a quote doubled inside a string (SQL's `'it''s'`) does.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Doubled {
    /// pt's regex: the string ends at the first quote, and the second one cannot open another
    /// (the byte before it was taken), so `'it''s'` is `?'s'`: a literal left in the fingerprint,
    /// one group per value.
    #[cfg(test)]
    Ends,
    /// SQL: a doubled quote is a quote inside the string, which goes on (`'it''s'` is `?`). Where
    /// no closing quote follows, pt's reading stands.
    Continue,
}

/// pt's `s/([^\\])('.*?[^\\]?')/$1?/sg` (and the same for `"`): a quote after a byte that is not a
/// backslash, up to the next quote, becomes `?` (three quotes in a row are one string); a quote at
/// the very start, right after the previous string, or without a partner stays. With
/// [`Doubled::Continue`], a doubled quote inside the string does not end it.
fn replace_quoted(text: Cow<'_, str>, quote: u8, doubled: Doubled) -> Cow<'_, str> {
    let bytes = text.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    // The regex's next attempt starts here: the byte before an opening quote must be at or after it.
    let mut from = 0;
    let mut search = 0;
    while let Some(open) = memchr::memchr(quote, &bytes[search..]).map(|p| search + p) {
        search = open + 1;
        if open == 0 || open - 1 < from || bytes[open - 1] == b'\\' {
            continue;
        }
        let Some(next) = memchr::memchr(quote, &bytes[open + 1..]).map(|p| open + 1 + p) else {
            break; // no later quote closes this one or any after it
        };
        // `.*?[^\\]?` then the quote: the first quote after `open` closes, unless it comes right
        // after the opening one (or after a backslash) and another quote follows it at once.
        let pt_close = if (next == open + 1 || bytes[next - 1] == b'\\') && bytes.get(next + 1) == Some(&quote) {
            next + 1
        } else {
            next
        };
        let close = match doubled {
            Doubled::Continue => sql_close(bytes, next, quote).unwrap_or(pt_close),
            #[cfg(test)]
            Doubled::Ends => pt_close,
        };
        let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
        out.extend_from_slice(&bytes[copied..open]);
        out.push(b'?');
        copied = close + 1;
        from = copied;
        search = copied;
    }
    match out {
        None => text,
        Some(mut out) => {
            out.extend_from_slice(&bytes[copied..]);
            Cow::Owned(into_string(out))
        }
    }
}

/// SQL's end of a string whose first quote after the opening one is at `next`: the first quote not
/// followed by another (a pair is a quote inside the string); `None` when the string never ends.
fn sql_close(bytes: &[u8], mut next: usize, quote: u8) -> Option<usize> {
    while bytes.get(next + 1) == Some(&quote) {
        next = memchr::memchr(quote, &bytes[next + 2..]).map(|p| next + 2 + p)?;
    }
    Some(next)
}

/// pt's boolean rule (`true` and `false` as whole words, any case, become `?`), its broad number rule
/// `s/[0-9+-][0-9a-f.xb+-]*/?/g` (anything that starts like a number and continues with hex digits,
/// dots, `x`, `b` or signs: `5`, `-6.00`, `0e0`, `0x1f`, `0b101`, the `1` of `foo_1`), or with
/// `--preserve-embedded-numbers` (`embedded` false) `s/\b[0-9+-][0-9a-f.xb+-]*/?/g`, only at a word
/// boundary, its
/// clean-up `s/[xb.+-]\?/?/g` (the sign of `-?`, the `x` of `x'…'`, the dot of `.5`),
/// `tr[ \n\t\r\f][ ]s` with both ends trimmed, and `lc` (ASCII, as Perl's on bytes), in one pass.
/// The tests check it against the composition of pt's steps.
fn replace_literals_collapse_lowercase(text: &str, embedded: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut pending_space = false;
    // The previous byte of the text after the number rule, before collapsing and lower-casing.
    let mut previous = b' ';
    // Whether the previous byte of the text after the boolean rule is a word byte.
    let mut after_word = false;
    let mut i = 0;
    while i < bytes.len() {
        // Inside a word, a byte that cannot start a number (any digit, when numbers inside
        // identifiers are replaced) is itself, lower-cased: the rest of the run in one go. No
        // boolean starts here (no boundary), and nothing is pending: the byte before was a word
        // byte, written out.
        if after_word {
            let run = bytes[i..].iter().take_while(|&&b| is_word_byte(b) && !(embedded && b.is_ascii_digit())).count();
            if run > 0 {
                out.extend(bytes[i..i + run].iter().map(u8::to_ascii_lowercase));
                i += run;
                previous = bytes[i - 1];
                continue;
            }
        }
        let b = bytes[i];
        let word = is_word_byte(b);
        let boundary = after_word != word;
        let emitted = if boundary && word && matches!(b, b't' | b'T' | b'f' | b'F') && boolean_at(bytes, i) > 0 {
            i += boolean_at(bytes, i);
            after_word = false;
            b'?'
        } else if (boundary || embedded) && matches!(b, b'0'..=b'9' | b'+' | b'-') {
            i += 1;
            // A boolean inside the run (`1.false`) was a `?` before the number rule ran: it ends it.
            while i < bytes.len()
                && matches!(bytes[i], b'0'..=b'9' | b'a'..=b'f' | b'.' | b'x' | b'+' | b'-')
                && !(bytes[i] == b'f' && !is_word_byte(bytes[i - 1]) && boolean_at(bytes, i) > 0)
            {
                i += 1;
            }
            after_word = is_word_byte(bytes[i - 1]);
            b'?'
        } else {
            i += 1;
            after_word = word;
            b
        };
        if matches!(emitted, b' ' | b'\n' | b'\t' | b'\r' | b'\x0c') {
            pending_space = !out.is_empty();
        } else {
            if emitted == b'?' && matches!(previous, b'x' | b'b' | b'.' | b'+' | b'-') {
                out.pop(); // the clean-up: `previous` is not whitespace, so it is the last byte out
            }
            if pending_space {
                out.push(b' ');
                pending_space = false;
            }
            out.push(emitted.to_ascii_lowercase());
        }
        previous = emitted;
    }
    into_string(out)
}

/// The length of `true` or `false` (any case) at `at` when a word boundary follows it, else 0.
/// The caller checks the boundary before it.
fn boolean_at(bytes: &[u8], at: usize) -> usize {
    let rest = &bytes[at..];
    let len = if rest.len() >= 4 && rest[..4].eq_ignore_ascii_case(b"true") {
        4
    } else if rest.len() >= 5 && rest[..5].eq_ignore_ascii_case(b"false") {
        5
    } else {
        return 0;
    };
    if rest.get(len).is_some_and(|b| is_word_byte(*b)) {
        0
    } else {
        len
    }
}

/// The scanners only drop or replace ASCII bytes, so UTF-8 stays valid.
fn into_string(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// pt's `s/\b(select\s.*?)(?:(\sunion(?:\sall)?)\s\1)+/$1 \/*repeat$2*\//g`: a SELECT repeated with
/// UNION becomes one SELECT and a marker. The regex needs a back-reference, so it is done by hand,
/// with the same leftmost, shortest-first choices. Runs on collapsed, lower-cased text.
fn collapse_union(q: &str) -> String {
    let bytes = q.as_bytes();
    let mut out = String::with_capacity(q.len());
    let mut copied = 0;
    let mut search = 0;
    while let Some(found) = q[search..].find("select ") {
        let start = search + found;
        search = start + 1;
        if start > 0 && is_word_byte(bytes[start - 1]) {
            continue;
        }
        if let Some((end_of_first, end, last_union)) = repeated_select_at(q, start) {
            out.push_str(&q[copied..end_of_first]);
            out.push_str(" /*repeat");
            out.push_str(last_union);
            out.push_str("*/");
            copied = end;
            search = end;
        }
    }
    out.push_str(&q[copied..]);
    out
}

/// For a `select ` at `start`: the shortest first SELECT that is followed by at least one
/// `union [all] <the same text>`; returns where it ends, where the repeats end, and the last
/// union keyword (` union` or ` union all`).
fn repeated_select_at(q: &str, start: usize) -> Option<(usize, usize, &'static str)> {
    let mut candidate = start + "select ".len();
    while let Some(found) = q[candidate..].find(" union") {
        let end_of_first = candidate + found;
        let first = &q[start..end_of_first];
        let mut end = end_of_first;
        let mut last_union = None;
        'repeat: loop {
            for union in [" union all", " union"] {
                let rest = &q[end..];
                if let Some(after) = rest.strip_prefix(union) {
                    if let Some(after) = after.strip_prefix(' ') {
                        if after.starts_with(first) {
                            end += union.len() + 1 + first.len();
                            last_union = Some(union);
                            continue 'repeat;
                        }
                    }
                }
            }
            break;
        }
        if let Some(union) = last_union {
            return Some((end_of_first, end, union));
        }
        candidate = end_of_first + 1;
    }
    None
}

/// Whitespace as Perl's `\s` on bytes.
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r')
}

/// Positions of `needle` in `text` that start a word.
fn word_starts<'a>(text: &'a [u8], needle: &'a Finder<'static>) -> impl Iterator<Item = usize> + 'a {
    needle.find_iter(text).filter(move |&at| at == 0 || !is_word_byte(text[at - 1]))
}

/// pt's `s/\bnull\b/?/g`.
fn replace_null(q: String) -> String {
    let bytes = q.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    for at in word_starts(bytes, &NULL_WORD) {
        if bytes.get(at + 4).is_none_or(|b| !is_word_byte(*b)) {
            let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
            out.extend_from_slice(&bytes[copied..at]);
            out.push(b'?');
            copied = at + 4;
        }
    }
    finish(q, out, copied)
}

/// The text with what a scanner wrote (`out`, up to `copied`) and the rest; `q` itself when the
/// scanner changed nothing.
fn finish(q: String, out: Option<Vec<u8>>, copied: usize) -> String {
    match out {
        None => q,
        Some(mut out) => {
            out.extend_from_slice(&q.as_bytes()[copied..]);
            into_string(out)
        }
    }
}

/// pt's `s/\b(in|values?)(?:[\s,]*\([\s?,]*\))+/$1(?+)/g`: `IN (?, ?)` → `in(?+)`, `VALUES (?), (?)` →
/// `values(?+)`.
fn collapse_in_values(q: String) -> String {
    let bytes = q.as_bytes();
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    while let Some(found) = memchr::memchr2(b'i', b'v', &bytes[at..]) {
        let start = at + found;
        at = start + 1;
        if start < copied || (start > 0 && is_word_byte(bytes[start - 1])) {
            continue;
        }
        let rest = &bytes[start..];
        let keyword = if rest.starts_with(b"in") {
            2
        } else if rest.starts_with(b"values") {
            6
        } else if rest.starts_with(b"value") {
            5
        } else {
            continue;
        };
        let mut end = start + keyword;
        let mut groups = 0;
        loop {
            let mut i = end;
            while i < bytes.len() && (is_space(bytes[i]) || bytes[i] == b',') {
                i += 1;
            }
            if bytes.get(i) != Some(&b'(') {
                break;
            }
            i += 1;
            while i < bytes.len() && (is_space(bytes[i]) || matches!(bytes[i], b'?' | b',')) {
                i += 1;
            }
            if bytes.get(i) != Some(&b')') {
                break;
            }
            end = i + 1;
            groups += 1;
        }
        if groups > 0 {
            let out = out.get_or_insert_with(|| Vec::with_capacity(bytes.len()));
            out.extend_from_slice(&bytes[copied..start + keyword]);
            out.extend_from_slice(b"(?+)");
            copied = end;
            at = end;
        }
    }
    finish(q, out, copied)
}

/// pt's `s/\blimit \?(?:, ?\?| offset \?)?/limit ?/`: the first LIMIT only, as pt does.
fn collapse_limit(q: String) -> String {
    let bytes = q.as_bytes();
    let Some(at) = word_starts(bytes, &LIMIT_PLACEHOLDER).next() else { return q };
    let after = at + "limit ?".len();
    let rest = &bytes[after..];
    let end = if rest.starts_with(b", ?") {
        after + 3
    } else if rest.starts_with(b",?") {
        after + 2
    } else if rest.starts_with(b" offset ?") {
        after + 9
    } else {
        return q;
    };
    format!("{}{}", &q[..after], &q[end..])
}

/// `ASC` is the default order, so `ORDER BY a ASC, b` and `ORDER BY a, b` are one shape: after the
/// first `order by `, every `\s+asc` that ends a word goes.
fn drop_asc_after_order_by(q: String) -> String {
    let bytes = q.as_bytes();
    let Some(order_by) = word_starts(bytes, &ORDER_BY).next() else { return q };
    let tail = order_by + "order by ".len();
    let mut out: Option<Vec<u8>> = None;
    let mut copied = tail;
    for at in ASC_WORD.find_iter(&bytes[tail..]).map(|i| tail + i) {
        let mut space = at;
        while space > copied && is_space(bytes[space - 1]) {
            space -= 1;
        }
        let ends_word = bytes.get(at + 3).is_none_or(|b| !is_word_byte(*b));
        if space == at || !ends_word {
            continue;
        }
        let out = out.get_or_insert_with(|| bytes[..tail].to_vec());
        out.extend_from_slice(&bytes[copied..space]);
        copied = at + 3;
    }
    finish(q, out, copied)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// pt's own regexes for the steps done by hand above: the oracle the scanners must agree with.
    mod oracle {
        use super::*;
        pub static NULL: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\bnull\b)"));
        pub static IN_VALUES_LIST: LazyLock<Regex> =
            LazyLock::new(|| regex(r"(?-u:\b)(in|values?)(?:(?-u:[\s,])*\((?-u:[\s?,])*\))+"));
        pub static LIMIT: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\b)limit \?(?:, ?\?| offset \?)?"));
        pub static ORDER_BY: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\b)order by "));
        pub static ASC: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\s)+asc(?-u:\b)"));
        /// pt 3.5.7's escape steps, in order, each with its replacement.
        pub static ESCAPES: LazyLock<[(Regex, &str); 5]> = LazyLock::new(|| {
            [
                (regex(r"(?s)([^\\])(\\')"), "$1"),
                (regex(r#"(?s)([^\\])(\\")"#), "$1"),
                (regex(r"\\\\"), ""),
                (regex(r"\\'"), ""),
                (regex(r#"\\""#), ""),
            ]
        });
        pub static DOUBLE_QUOTED: LazyLock<Regex> = LazyLock::new(|| regex(r#"(?s)([^\\])(".*?[^\\]?")"#));
        pub static SINGLE_QUOTED: LazyLock<Regex> = LazyLock::new(|| regex(r"(?s)([^\\])('.*?[^\\]?')"));
        pub static BOOLEAN: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i-u)\bfalse\b|\btrue\b"));
        pub static NUMBER: LazyLock<Regex> = LazyLock::new(|| regex(r"[0-9+-][0-9a-f.xb+-]*"));
        pub static NUMBER_AT_BOUNDARY: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\b)[0-9+-][0-9a-f.xb+-]*"));
        pub static NUMBER_LEFTOVER: LazyLock<Regex> = LazyLock::new(|| regex(r"[xb.+-]\?"));
        pub static MULTI_LINE_COMMENT: LazyLock<Regex> = LazyLock::new(|| regex(r"(?s)/\*[^!].*?\*/"));
        pub static ONE_LINE_COMMENT: LazyLock<Regex> = LazyLock::new(|| regex(r#"(?mR)(?:--|#)[^'"\r\n]*$"#));
        pub static MULTI_ROW_INSERT: LazyLock<Regex> =
            LazyLock::new(|| regex(r"(?is)\A((?:INSERT|REPLACE)(?: IGNORE)?\s+INTO.+?VALUES\s*\(.*?\))\s*,\s*\("));
    }

    /// Text made of `tokens`, up to `max` of them: dense in what a scanner cares about.
    fn text_of(tokens: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(tokens), 0..max).prop_map(|parts| parts.concat())
    }

    /// SQL-ish text, for the early steps (comments, quotes, numbers, whitespace).
    const SQLISH: &[&str] = &[
        "'",
        "\"",
        "\\",
        "?",
        "-",
        "+",
        ".",
        "x",
        "b",
        "0",
        "7",
        "e",
        "f",
        "a",
        "_",
        " ",
        "\n",
        "\t",
        "SELECT",
        "Id",
        "X",
        "B",
        "9",
        "é",
        "\u{c}",
        "(",
        ",",
        "/*",
        "*/",
        "!",
        "*",
        "/",
        "#",
        "--",
        "\r",
        ")",
        "INSERT INTO t",
        "replace into",
        " VALUES ",
        " ignore",
        "true",
        "FALSE",
        "t",
        "rue",
        "fals",
    ];

    /// Collapsed, lower-cased SQL-ish text, for the late steps' keywords.
    const LOWERED_SQLISH: &[&str] = &[
        "in",
        "values",
        "value",
        "null",
        "limit",
        "offset",
        "order by ",
        "asc",
        "?",
        ",",
        " ",
        "(",
        ")",
        "a",
        "_",
        "x",
        "\t",
        "é",
        "select",
        "in ,(",
        " in (?, ?)",
        "values (?), (?)",
        ", (",
        " asc",
        "xasc",
        "limit ?, ?",
        "limit ? offset ?",
        "(?)",
    ];

    proptest! {
        #[test]
        fn quote_scanners_agree_with_pt_regexes(text in text_of(SQLISH, 40)) {
            let unescaped = oracle::ESCAPES.iter().fold(text.clone(), |t, (re, with)| re.replace_all(&t, *with).into_owned());
            prop_assert_eq!(remove_escapes(Cow::Borrowed(&text)), unescaped.as_str());
            // On the raw text too: the scanner must follow the regex even where a backslash is left.
            let pt = Doubled::Ends;
            prop_assert_eq!(replace_quoted(Cow::Borrowed(&text), b'"', pt), oracle::DOUBLE_QUOTED.replace_all(&text, "${1}?"));
            prop_assert_eq!(replace_quoted(Cow::Borrowed(&text), b'\'', pt), oracle::SINGLE_QUOTED.replace_all(&text, "${1}?"));
            let doubled = oracle::DOUBLE_QUOTED.replace_all(&unescaped, "${1}?");
            prop_assert_eq!(
                replace_quoted(replace_quoted(Cow::Borrowed(&unescaped), b'"', pt), b'\'', pt),
                oracle::SINGLE_QUOTED.replace_all(&doubled, "${1}?")
            );
            // Without a doubled quote, the SQL reading is pt's.
            if !text.contains("''") && !text.contains("\"\"") {
                prop_assert_eq!(
                    replace_quoted(Cow::Borrowed(&text), b'\'', Doubled::Continue),
                    replace_quoted(Cow::Borrowed(&text), b'\'', pt)
                );
            }
        }

        #[test]
        fn comment_scanners_agree_with_pt_regexes(text in text_of(SQLISH, 40)) {
            prop_assert_eq!(remove_multi_line_comments(&text), oracle::MULTI_LINE_COMMENT.replace_all(&text, ""));
            prop_assert_eq!(remove_one_line_comments(Cow::Borrowed(&text)), oracle::ONE_LINE_COMMENT.replace_all(&text, ""));
        }

        #[test]
        fn multi_row_insert_cut_agrees_with_pt_regex(text in text_of(SQLISH, 40)) {
            let expected = oracle::MULTI_ROW_INSERT.captures(&text).and_then(|c| c.get(1)).map(|m| m.as_str());
            prop_assert_eq!(first_row_of_multi_row_insert(&text), expected);
        }

        #[test]
        fn boolean_number_whitespace_case_scanner_agrees_with_pt_steps(text in text_of(SQLISH, 40)) {
            for (embedded, number) in [(true, &*oracle::NUMBER), (false, &*oracle::NUMBER_AT_BOUNDARY)] {
                let booleans = oracle::BOOLEAN.replace_all(&text, "?");
                let numbers = number.replace_all(&booleans, "?");
                let cleaned = oracle::NUMBER_LEFTOVER.replace_all(&numbers, "?");
                let squeezed = regex(r"[ \n\t\r\x0c]+").replace_all(&cleaned, " ");
                let expected = squeezed.trim_matches(' ').to_ascii_lowercase();
                prop_assert_eq!(replace_literals_collapse_lowercase(&text, embedded), expected);
            }
        }
    }

    /// Cases from pt-query-digest's documentation and its QueryRewriter tests, plus our own.
    const CASES: &[(&str, &str, &str)] = &[
        (
            "abstracts numbers and collapses whitespace",
            "SELECT name, password FROM user WHERE id=5",
            "select name, password from user where id=?",
        ),
        (
            "same shape for different spacing",
            "select name,   password from user\n   where id='12823'",
            "select name, password from user where id=?",
        ),
        ("mysqldump special case", "SELECT /*!40001 SQL_NO_CACHE */ * FROM `film`", "mysqldump"),
        ("percona-toolkit special case", "REPLACE /*foo.bar:3/3*/ INTO checksum.checksum", "percona-toolkit"),
        ("administrator commands kept as they are", "administrator command: Init DB", "administrator command: Init DB"),
        ("call name special case", "CALL foo(1, 2, 3)", "call foo"),
        ("call keeps a schema-qualified name", "  call db.proc_name('x')", "call db.proc_name"),
        ("call ignores spacing", "CALL\n   Proc(1)", "call proc"),
        (
            "multi-row insert cut to first tuple",
            "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')",
            "insert into t (a, b) values(?+)",
        ),
        ("multi-row replace cut to first tuple", "REPLACE INTO t VALUES (1),(2)", "replace into t values(?+)"),
        ("insert ignore cut to first tuple", "INSERT IGNORE INTO t VALUES (1),(2)", "insert ignore into t values(?+)"),
        ("single-row insert collapses values", "INSERT INTO t VALUES (1, 2)", "insert into t values(?+)"),
        ("removes multi-line comments", "SELECT /* a\n comment */ 1 FROM t", "select ? from t"),
        ("keeps executable comments", "SELECT /*!40001 SQL_CACHE */ a FROM t", "select /*!? sql_cache */ a from t"),
        ("removes one-line comments", "SELECT a -- the a column\nFROM t # trailing", "select a from t"),
        ("use db becomes use ?", "use `sakila`", "use ?"),
        ("use with trailing whitespace", "USE db1  ", "use ?"),
        (
            "single-quoted strings",
            "SELECT * FROM t WHERE a = 'x' AND b = 'y z'",
            "select * from t where a = ? and b = ?",
        ),
        // pt 3.5.7 leaves `'s'` (and pt 3.2.1 makes `??`): a deliberate difference, see the module.
        ("doubled quote inside a string", "SELECT 'it''s'", "select ?"),
        ("doubled quote between strings", "SELECT 'it''s', 'x' FROM t", "select ?, ? from t"),
        ("a string of one quote", "SELECT '''', \"\"\"\" FROM t", "select ?, ? from t"),
        ("empty strings", "SELECT '', \"\" FROM t WHERE a=''", "select ?, ? from t where a=?"),
        ("a doubled quote that never closes is read as pt does", "SELECT 'a'' FROM t", "select ?' from t"),
        ("an escaped backslash ends a string", r"SELECT '\\' FROM t WHERE a = 'x'", "select ? from t where a = ?"),
        ("an escaped backslash ends a double-quoted string", r#"SELECT "a\\" , b FROM t"#, "select ? , b from t"),
        ("an escaped quote after an escaped backslash", r"SELECT 'a\\\'b' FROM t", "select ? from t"),
        ("double-quoted strings", "SELECT * FROM t WHERE a = \"x\"", "select * from t where a = ?"),
        ("escaped quotes inside strings", r"SELECT 'O\'Brien'", "select ?"),
        ("booleans", "UPDATE t SET a = TRUE WHERE b = false", "update t set a = ? where b = ?"),
        ("a boolean ends a number before it, as pt's earlier step does", "select 1.false, x", "select ??, x"),
        ("booleans only as whole words", "select trueish, is_false, falsetrue", "select trueish, is_false, falsetrue"),
        (
            "numbers of every form",
            "select 0e0, +6e-30, -6.00 from foo where a = 5.5 or b=0.5 or c=.5",
            "select ?, ?, ? from foo where a = ? or b=? or c=?",
        ),
        ("hex and binary literals", "select 0x0, x'123', 0b1010, b'10101' from foo", "select ?, ?, ?, ? from foo"),
        (
            "numbers inside identifiers become ?, as pt's default does",
            "SELECT * FROM db1.tbl2 WHERE rt_5min = 1",
            "select * from d?tbl? where rt_?min = ?",
        ),
        ("sharded tables group together", "select foo_1 from foo_2_3", "select foo_? from foo_?_?"),
        ("dated tables group together", "SELECT id FROM orders_2024_01", "select id from orders_?_?"),
        ("null becomes ?", "SELECT * FROM t WHERE a IS NULL", "select * from t where a is ?"),
        ("in lists collapse", "SELECT * FROM t WHERE id IN (1, 2, 3)", "select * from t where id in(?+)"),
        ("not in lists collapse", "select * from t where id not in ( 'a','b' )", "select * from t where id not in(?+)"),
        ("limit with offset comma", "SELECT * FROM t LIMIT 10, 20", "select * from t limit ?"),
        ("limit with offset keyword", "SELECT * FROM t LIMIT 10 OFFSET 20", "select * from t limit ?"),
        (
            "repeated union collapses",
            "select a from t where id=1 union select a from t where id=2 union select a from t where id=3",
            "select a from t where id=? /*repeat union*/",
        ),
        ("repeated union all collapses", "SELECT 1 UNION ALL SELECT 2", "select ? /*repeat union all*/"),
        (
            "different selects in a union stay",
            "select a from t union select b from u",
            "select a from t union select b from u",
        ),
        (
            "asc dropped after order by",
            "SELECT * FROM products ORDER BY name ASC, shape ASC",
            "select * from products order by name, shape",
        ),
        ("asc kept before order by", "SELECT asc FROM t ORDER BY a", "select asc from t order by a"),
        (
            "asc prefix of a column name kept",
            "SELECT * FROM t ORDER BY ascii_col",
            "select * from t order by ascii_col",
        ),
        (
            "keywords inside strings are literals",
            "SELECT * FROM t WHERE note = 'select 1 union select 1; drop table x'",
            "select * from t where note = ?",
        ),
        ("multi-line statement", "UPDATE t\n   SET a = 1\n WHERE b = 2", "update t set a = ? where b = ?"),
        ("empty query", "", ""),
    ];

    #[test]
    fn follows_pt_query_digest_rules() {
        for (case, query, expected) in CASES {
            assert_eq!(fingerprint(query), *expected, "case: {case}");
        }
    }

    #[test]
    fn preserve_embedded_numbers_keeps_numbers_inside_identifiers() {
        let keep = Rules { preserve_embedded_numbers: true };
        assert_eq!(
            fingerprint_with("SELECT * FROM db1.tbl2 WHERE rt_5min = 1 AND x = 0x1f", keep),
            "select * from db1.tbl2 where rt_5min = ? and x = ?"
        );
        assert_eq!(fingerprint_with("select foo_1 from foo_2_3", keep), "select foo_1 from foo_2_3");
        // Everything else is the same rule.
        for (case, query, expected) in CASES {
            if !expected.contains("_?") && !expected.contains("d?tbl") {
                assert_eq!(fingerprint_with(query, keep), *expected, "case: {case}");
            }
        }
    }

    #[test]
    fn fingerprint_id_is_pt_query_digest_query_id() {
        // pt-query-digest 3.x's query id is all 32 hex digits of the MD5, upper-case: pt 3.2.1
        // prints `# Query 1: … ID 0xC893BEA04602018D5146D415A8F6BAA2` for `select ?`... not this
        // text; what matters is the digest, checked against an independent MD5 below.
        let id = fingerprint_id("select ?");
        let full = format!("{:X}", Md5::digest(b"select ?"));
        assert_eq!(id.len(), FINGERPRINT_ID_DIGITS);
        assert_eq!(id, full);
        assert!(id.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
    }

    #[test]
    fn fingerprint_id_is_stable_and_distinguishes_shapes() {
        let a = fingerprint_id(&fingerprint("SELECT * FROM t WHERE id = 1"));
        let b = fingerprint_id(&fingerprint("select *  from t where id = 99"));
        let c = fingerprint_id(&fingerprint("select * from u where id = 1"));
        assert_eq!(a, b);
        assert_ne!(a, c);
        // Pinned: an id must never change between releases, or Dashboards groups split.
        // md5("") = d41d8cd98f00b204e9800998ecf8427e.
        assert_eq!(fingerprint_id(""), "D41D8CD98F00B204E9800998ECF8427E");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        #[test]
        fn late_steps_agree_with_pt_regexes(text in text_of(LOWERED_SQLISH, 30)) {
            prop_assert_eq!(replace_null(text.clone()), oracle::NULL.replace_all(&text, "?"));
            prop_assert_eq!(collapse_in_values(text.clone()), oracle::IN_VALUES_LIST.replace_all(&text, "$1(?+)"));
            let limit = match oracle::LIMIT.find(&text) {
                Some(m) => format!("{}limit ?{}", &text[..m.start()], &text[m.end()..]),
                None => text.clone(),
            };
            prop_assert_eq!(collapse_limit(text.clone()), limit);
            let asc = match oracle::ORDER_BY.find(&text) {
                Some(m) => format!("{}{}", &text[..m.end()], oracle::ASC.replace_all(&text[m.end()..], "")),
                None => text.clone(),
            };
            prop_assert_eq!(drop_asc_after_order_by(text.clone()), asc);
        }
    }
}
