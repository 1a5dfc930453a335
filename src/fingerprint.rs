//! Query fingerprints, by pt-query-digest's rules.
//!
//! A fingerprint is the query with its literals abstracted away, so that every execution of the same
//! statement shape aggregates under one value: `SELECT * FROM t WHERE id = 5` and
//! `select *   from t where id=7` both become `select * from t where id = ?`-like text. DBAs know
//! these from pt-query-digest (Percona Toolkit), so this module follows its `QueryRewriter::fingerprint`
//! step by step, in the same order (the order matters: comments go before strings, strings before
//! numbers), and [`fingerprint_id`] is pt-query-digest's query checksum of the result.
//!
//! Deliberate differences from pt-query-digest, each a bug there that would split or mangle groups:
//! - `ASC` after `ORDER BY` is dropped only as a whole word (pt turns `ORDER BY ascii_col` into
//!   `order by ii_col`);
//! - trailing whitespace is trimmed as well as leading whitespace;
//! - `CALL  proc(…)` is `call proc` whatever the spacing (pt keeps the spaces, splitting groups).
//!
//! Pure: no I/O, no logging. Regexes are compiled once, beside the step that uses them.

use md5::{Digest, Md5};
use regex::Regex;
use std::borrow::Cow;
use std::sync::LazyLock;

fn regex(pattern: &str) -> Regex {
    Regex::new(pattern).expect("fingerprint regexes are valid (covered by tests)")
}

/// `SELECT /*!40001 SQL_NO_CACHE */ * FROM `…: mysqldump's table scans, all one group.
static MYSQLDUMP: LazyLock<Regex> =
    LazyLock::new(|| regex(r"\ASELECT /\*!40001 SQL_NO_CACHE \*/ \* FROM `"));
/// Percona Toolkit tools tag their queries with `/*db.tbl:1/2*/`.
static PERCONA_TOOLKIT: LazyLock<Regex> = LazyLock::new(|| regex(r"/\*\w+\.\w+:[0-9]/[0-9]\*/"));
/// `CALL proc(…)`: capture 1 is the procedure; the arguments are not part of the shape.
static CALL: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\A\s*call\s+(\S+)\("));
/// A multi-row INSERT/REPLACE: capture 1 is the statement up to the end of its first tuple.
static MULTI_ROW_INSERT: LazyLock<Regex> = LazyLock::new(|| {
    regex(r"(?is)\A((?:INSERT|REPLACE)(?: IGNORE)?\s+INTO.+?VALUES\s*\(.*?\))\s*,\s*\(")
});
/// `/* … */` comments, but not MySQL's executable `/*! … */` ones.
static MULTI_LINE_COMMENT: LazyLock<Regex> = LazyLock::new(|| regex(r"(?s)/\*[^!].*?\*/"));
/// `-- …` and `# …` to the end of the line, unless a quote follows on that line.
static ONE_LINE_COMMENT: LazyLock<Regex> = LazyLock::new(|| regex(r#"(?mR)(?:--|#)[^'"\r\n]*$"#));
/// `use db` alone is a statement of its own shape.
static USE_DB: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i)\Ause \S+\z"));
static ESCAPED_QUOTE: LazyLock<Regex> = LazyLock::new(|| regex(r#"\\["']"#));
static DOUBLE_QUOTED: LazyLock<Regex> = LazyLock::new(|| regex(r#"(?s)".*?""#));
static SINGLE_QUOTED: LazyLock<Regex> = LazyLock::new(|| regex(r"(?s)'.*?'"));
static BOOLEAN: LazyLock<Regex> = LazyLock::new(|| regex(r"(?i-u)\bfalse\b|\btrue\b"));
/// pt's broad number rule: anything that starts like a number and continues with hex digits, dots,
/// `x`, `b`, signs (`5`, `-6.00`, `0e0`, `0x1f`, `0b101`, `1.2.3.4`), when it starts a word.
static NUMBER: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\b)[0-9+-][0-9a-f.xb+-]*"));
/// What the number rule leaves behind: the sign of `-?`, the `x` of `x'…'`, the dot of `.5`.
static NUMBER_LEFTOVER: LazyLock<Regex> = LazyLock::new(|| regex(r"[xb.+-]\?"));
static NULL: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\bnull\b)"));
/// `IN (?, ?)` and `VALUES (?, ?), (?, ?)`: capture 1 is the keyword.
static IN_VALUES_LIST: LazyLock<Regex> =
    LazyLock::new(|| regex(r"(?-u:\b)(in|values?)(?:[\s,]*\([\s?,]*\))+"));
static LIMIT: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\b)limit \?(?:, ?\?| offset \?)?"));
static ORDER_BY: LazyLock<Regex> = LazyLock::new(|| regex(r"(?-u:\b)order by "));
static ASC: LazyLock<Regex> = LazyLock::new(|| regex(r"\s+asc(?-u:\b)"));

/// The pt-query-digest fingerprint of `query`.
///
/// ```
/// use logs_to_opensearch::fingerprint::fingerprint;
/// assert_eq!(fingerprint("SELECT * FROM t WHERE id IN (1, 2, 3) LIMIT 10, 20"),
///            "select * from t where id in(?+) limit ?");
/// ```
pub fn fingerprint(query: &str) -> String {
    if MYSQLDUMP.is_match(query) {
        return "mysqldump".to_owned();
    }
    if PERCONA_TOOLKIT.is_match(query) {
        return "percona-toolkit".to_owned();
    }
    if query.starts_with("administrator command: ") {
        return query.to_owned();
    }
    if let Some(call) = CALL.captures(query) {
        return format!("call {}", call[1].to_ascii_lowercase());
    }
    // Shorten multi-row INSERTs first: their VALUES lists can be megabytes long.
    let query = match MULTI_ROW_INSERT.captures(query) {
        Some(first_row) => first_row.get(1).map_or(query, |m| m.as_str()),
        None => query,
    };

    let q = MULTI_LINE_COMMENT.replace_all(query, "");
    let q = replace(q, &ONE_LINE_COMMENT, "");
    if USE_DB.is_match(q.trim()) {
        return "use ?".to_owned();
    }
    let q = replace(q, &ESCAPED_QUOTE, "");
    let q = replace(q, &DOUBLE_QUOTED, "?");
    let q = replace(q, &SINGLE_QUOTED, "?");
    let q = replace(q, &BOOLEAN, "?");
    let q = replace(q, &NUMBER, "?");
    let q = replace(q, &NUMBER_LEFTOVER, "?");

    let mut q = collapse_whitespace(&q);
    q.make_ascii_lowercase();
    let q = replace(Cow::Owned(q), &NULL, "?");
    let q = replace(q, &IN_VALUES_LIST, "$1(?+)");
    let q = collapse_union(&q);
    let q = match LIMIT.find(&q) {
        Some(m) => format!("{}limit ?{}", &q[..m.start()], &q[m.end()..]),
        None => q,
    };
    drop_asc_after_order_by(q)
}

/// A short stable id of a fingerprint: pt-query-digest's query checksum, the last 16 hex digits
/// of the MD5 of the fingerprint, upper-case (pt-query-digest prints it as `0x…` in its reports).
pub fn fingerprint_id(fingerprint: &str) -> String {
    let digest = Md5::digest(fingerprint.as_bytes());
    let mut id = String::with_capacity(16);
    for byte in &digest[8..] {
        id.push_str(&format!("{byte:02X}"));
    }
    id
}

/// `regex.replace_all`, keeping the input allocation when nothing matches.
fn replace<'a>(text: Cow<'a, str>, regex: &Regex, with: &str) -> Cow<'a, str> {
    match regex.replace_all(&text, with) {
        Cow::Borrowed(_) => text,
        Cow::Owned(replaced) => Cow::Owned(replaced),
    }
}

/// pt's `tr[ \n\t\r\f][ ]s` plus trimming both ends.
fn collapse_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut pending_space = false;
    for c in text.chars() {
        if matches!(c, ' ' | '\n' | '\t' | '\r' | '\x0c') {
            pending_space = !out.is_empty();
        } else {
            if pending_space {
                out.push(' ');
                pending_space = false;
            }
            out.push(c);
        }
    }
    out
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// pt's `s/\b(select\s.*?)(?:(\sunion(?:\sall)?)\s\1)+/$1 \/*repeat$2*\//g`: a SELECT repeated with
/// UNION becomes one SELECT and a marker. The regex needs a back-reference, so it is done by hand,
/// with the same leftmost, shortest-first choices. Runs on collapsed, lower-cased text.
fn collapse_union(q: &str) -> String {
    if !q.contains(" union ") {
        return q.to_owned();
    }
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

/// `ASC` is the default order, so `ORDER BY a ASC, b` and `ORDER BY a, b` are one shape.
fn drop_asc_after_order_by(q: String) -> String {
    match ORDER_BY.find(&q) {
        Some(order_by) => {
            let (head, tail) = q.split_at(order_by.end());
            match ASC.replace_all(tail, "") {
                Cow::Borrowed(_) => q,
                Cow::Owned(tail) => format!("{head}{tail}"),
            }
        }
        None => q,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Cases from pt-query-digest's documentation and its QueryRewriter tests, plus our own.
    const CASES: &[(&str, &str, &str)] = &[
        ("abstracts numbers and collapses whitespace", "SELECT name, password FROM user WHERE id=5", "select name, password from user where id=?"),
        ("same shape for different spacing", "select name,   password from user\n   where id='12823'", "select name, password from user where id=?"),
        ("mysqldump special case", "SELECT /*!40001 SQL_NO_CACHE */ * FROM `film`", "mysqldump"),
        ("percona-toolkit special case", "REPLACE /*foo.bar:3/3*/ INTO checksum.checksum", "percona-toolkit"),
        ("administrator commands kept as they are", "administrator command: Init DB", "administrator command: Init DB"),
        ("call name special case", "CALL foo(1, 2, 3)", "call foo"),
        ("call keeps a schema-qualified name", "  call db.proc_name('x')", "call db.proc_name"),
        ("call ignores spacing", "CALL\n   Proc(1)", "call proc"),
        ("multi-row insert cut to first tuple", "INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y'), (3, 'z')", "insert into t (a, b) values(?+)"),
        ("multi-row replace cut to first tuple", "REPLACE INTO t VALUES (1),(2)", "replace into t values(?+)"),
        ("insert ignore cut to first tuple", "INSERT IGNORE INTO t VALUES (1),(2)", "insert ignore into t values(?+)"),
        ("single-row insert collapses values", "INSERT INTO t VALUES (1, 2)", "insert into t values(?+)"),
        ("removes multi-line comments", "SELECT /* a\n comment */ 1 FROM t", "select ? from t"),
        ("keeps executable comments", "SELECT /*!40001 SQL_CACHE */ a FROM t", "select /*!? sql_cache */ a from t"),
        ("removes one-line comments", "SELECT a -- the a column\nFROM t # trailing", "select a from t"),
        ("use db becomes use ?", "use `sakila`", "use ?"),
        ("use with trailing whitespace", "USE db1  ", "use ?"),
        ("single-quoted strings", "SELECT * FROM t WHERE a = 'x' AND b = 'y z'", "select * from t where a = ? and b = ?"),
        // pt's `'.*?'` sees a doubled quote as two strings; kept, so groups match pt-query-digest's.
        ("doubled quote inside a string, as pt does", "SELECT 'it''s'", "select ??"),
        ("double-quoted strings", "SELECT * FROM t WHERE a = \"x\"", "select * from t where a = ?"),
        ("escaped quotes inside strings", r"SELECT 'O\'Brien'", "select ?"),
        ("booleans", "UPDATE t SET a = TRUE WHERE b = false", "update t set a = ? where b = ?"),
        ("numbers of every form", "select 0e0, +6e-30, -6.00 from foo where a = 5.5 or b=0.5 or c=.5", "select ?, ?, ? from foo where a = ? or b=? or c=?"),
        ("hex and binary literals", "select 0x0, x'123', 0b1010, b'10101' from foo", "select ?, ?, ?, ? from foo"),
        ("numbers inside identifiers are kept", "SELECT * FROM db1.tbl2 WHERE rt_5min = 1", "select * from db1.tbl2 where rt_5min = ?"),
        ("null becomes ?", "SELECT * FROM t WHERE a IS NULL", "select * from t where a is ?"),
        ("in lists collapse", "SELECT * FROM t WHERE id IN (1, 2, 3)", "select * from t where id in(?+)"),
        ("not in lists collapse", "select * from t where id not in ( 'a','b' )", "select * from t where id not in(?+)"),
        ("limit with offset comma", "SELECT * FROM t LIMIT 10, 20", "select * from t limit ?"),
        ("limit with offset keyword", "SELECT * FROM t LIMIT 10 OFFSET 20", "select * from t limit ?"),
        ("repeated union collapses", "select a from t where id=1 union select a from t where id=2 union select a from t where id=3", "select a from t where id=? /*repeat union*/"),
        ("repeated union all collapses", "SELECT 1 UNION ALL SELECT 2", "select ? /*repeat union all*/"),
        ("different selects in a union stay", "select a from t union select b from u", "select a from t union select b from u"),
        ("asc dropped after order by", "SELECT * FROM products ORDER BY name ASC, shape ASC", "select * from products order by name, shape"),
        ("asc kept before order by", "SELECT asc FROM t ORDER BY a", "select asc from t order by a"),
        ("asc prefix of a column name kept", "SELECT * FROM t ORDER BY ascii_col", "select * from t order by ascii_col"),
        ("keywords inside strings are literals", "SELECT * FROM t WHERE note = 'select 1 union select 1; drop table x'", "select * from t where note = ?"),
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
    fn fingerprint_id_is_pt_query_digest_checksum() {
        // pt-query-digest's checksum is the last 16 hex digits of the MD5, upper-case.
        let id = fingerprint_id("select ?");
        let full = format!("{:X}", Md5::digest(b"select ?"));
        assert_eq!(id.len(), 16);
        assert_eq!(id, full[16..]);
        assert!(id
            .chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_lowercase()));
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
        assert_eq!(fingerprint_id(""), "E9800998ECF8427E");
    }
}
