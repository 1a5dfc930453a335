//! One slow-log entry → a typed [`SlowQuery`].
//!
//! An entry is what MySQL 5.x/8.x, Aurora MySQL 2/3, MariaDB and Percona Server write per statement:
//! `#` header lines (`# Time:`, `# User@Host:`, `# Query_time:`, `Key: value` pairs), then an optional
//! preamble (`use db;`, `SET timestamp=…;`), then the statement, or `# administrator command: …;`.
//! RDS publishes exactly one entry per CloudWatch Logs event.
//!
//! This module owns the field names and types of the document contract for slow queries
//! (`../shared/DESIGN.md`): `Query_time`/`Lock_time` are always floats and row counts always integers
//! (a dynamic mapping takes the first value's type, so `Query_time: 2` must not become a long),
//! `Yes`/`No` are booleans, timestamps are RFC 3339 strings, an unparsable value is reported in
//! [`SlowQuery::warnings`] rather than guessed. It never fails: text that is not a slow-log entry
//! gives `None`, and a damaged entry gives what could be read plus warnings.
//!
//! Pure: no I/O, no clock, no logging.

use crate::fingerprint::{fingerprint_id, fingerprint_with, Rules};
use chrono::{DateTime, Datelike, NaiveDate};
use std::borrow::Cow;
use std::fmt::Write as _;
use std::net::IpAddr;

/// A typed header value.
#[derive(Debug, Clone, PartialEq)]
pub enum FieldValue {
    Int(i64),
    Float(f64),
    Bool(bool),
    Str(String),
    /// A JSON value as it is (auto_explain's JSON plan).
    Json(serde_json::Value),
}

/// The database engine that wrote the entry: `Engine` in the document.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Engine {
    /// MySQL, MariaDB, Percona Server, Aurora MySQL: the slow query log.
    #[default]
    Mysql,
    /// RDS / Aurora PostgreSQL: the `postgresql` log ([`crate::postgres`]).
    Postgresql,
}

impl Engine {
    pub fn name(self) -> &'static str {
        match self {
            Engine::Mysql => "mysql",
            Engine::Postgresql => "postgresql",
        }
    }
}

/// Everything extracted from one slow-log entry. Field docs name the document field.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SlowQuery {
    /// `Engine`: `mysql` or `postgresql`, on every slow-query document.
    pub engine: Engine,
    /// `Time`: the `# Time:` line as RFC 3339 (no offset for the old `YYMMDD H:MM:SS` form, which
    /// is in the server's time zone).
    pub time: Option<String>,
    /// The same time in milliseconds since the epoch (UTC assumed for the old form), when it is
    /// plausible; not a document field, it dates the document when its event's time is not.
    pub time_ms: Option<i64>,
    /// `User@Host`: `"app[app]"`.
    pub user_host: Option<String>,
    /// `User`: the user, or the privilege user when the user is empty (`[SQL_SLAVE]`).
    pub user: Option<String>,
    /// `Host`: the client host name; absent when empty.
    pub host: Option<String>,
    /// `IP`: the client address; absent when empty or not an address.
    pub ip: Option<IpAddr>,
    /// `Id`: the connection id of the `User@Host` line.
    pub id: Option<i64>,
    pub query_time: Option<f64>,
    pub lock_time: Option<f64>,
    pub rows_sent: Option<i64>,
    pub rows_examined: Option<i64>,
    /// `Schema`: MariaDB/Percona's `Schema:` header, else the preamble's `use db;`.
    pub schema: Option<String>,
    /// `Query`: the statement as logged, without the preamble and its final `;`.
    pub query: Option<String>,
    /// `Query_type`: the statement's first keyword, upper-cased; `ADMIN` for administrator commands.
    pub query_type: Option<String>,
    pub fingerprint: Option<String>,
    pub fingerprint_id: Option<String>,
    /// Every other `Key: value` header pair, typed, in the order seen, each key once.
    pub extra: Vec<(Cow<'static, str>, FieldValue)>,
    /// What could not be read as expected (`@parse_warnings` in the document).
    pub warnings: Vec<String>,
}

/// How a known header key is typed.
#[derive(Clone, Copy, PartialEq)]
enum KeyKind {
    /// A typed field of the contract, stored in its own field of [`SlowQuery`].
    QueryTime,
    LockTime,
    RowsSent,
    RowsExamined,
    Id,
    Schema,
    /// By what its value looks like.
    Inferred,
    /// An identifier, never a number, even when it looks like one (`InnoDB_trx_id: 1234`).
    Text,
    /// A field name of the document contract: a header pair must not overwrite it.
    Reserved,
}

/// The header keys MySQL 5.x/8.x (`log_slow_extra`), MariaDB and Percona Server write (sorted, for
/// reading), so their names are shared rather than copied per entry. Other keys are kept too, just
/// copied.
/// At most 64 (a bit set tracks which were seen).
const KNOWN_KEYS: &[(&str, KeyKind)] = &[
    ("Bytes_received", KeyKind::Inferred),
    ("Bytes_sent", KeyKind::Inferred),
    ("Created_tmp_disk_tables", KeyKind::Inferred),
    ("Created_tmp_tables", KeyKind::Inferred),
    ("End", KeyKind::Inferred),
    ("Errno", KeyKind::Inferred),
    ("Filesort", KeyKind::Inferred),
    ("Filesort_on_disk", KeyKind::Inferred),
    ("Fingerprint", KeyKind::Reserved),
    ("Fingerprint_id", KeyKind::Reserved),
    ("Full_join", KeyKind::Inferred),
    ("Full_scan", KeyKind::Inferred),
    ("Host", KeyKind::Reserved),
    ("IP", KeyKind::Reserved),
    ("Id", KeyKind::Id),
    ("InnoDB_IO_r_bytes", KeyKind::Inferred),
    ("InnoDB_IO_r_ops", KeyKind::Inferred),
    ("InnoDB_IO_r_wait", KeyKind::Inferred),
    ("InnoDB_pages_distinct", KeyKind::Inferred),
    ("InnoDB_queue_wait", KeyKind::Inferred),
    ("InnoDB_rec_lock_wait", KeyKind::Inferred),
    ("InnoDB_trx_id", KeyKind::Text),
    ("Killed", KeyKind::Inferred),
    ("Last_errno", KeyKind::Inferred),
    ("Lock_time", KeyKind::LockTime),
    ("Log_slow_rate_limit", KeyKind::Inferred),
    ("Log_slow_rate_type", KeyKind::Text),
    ("Merge_passes", KeyKind::Inferred),
    ("Pages_accessed", KeyKind::Inferred),
    ("Pages_read", KeyKind::Inferred),
    ("Pages_updated", KeyKind::Inferred),
    ("Priority_queue", KeyKind::Inferred),
    ("QC_Hit", KeyKind::Inferred),
    ("QC_hit", KeyKind::Inferred),
    ("Query", KeyKind::Reserved),
    ("Query_time", KeyKind::QueryTime),
    ("Query_type", KeyKind::Reserved),
    ("Read_first", KeyKind::Inferred),
    ("Read_key", KeyKind::Inferred),
    ("Read_last", KeyKind::Inferred),
    ("Read_next", KeyKind::Inferred),
    ("Read_prev", KeyKind::Inferred),
    ("Read_rnd", KeyKind::Inferred),
    ("Read_rnd_next", KeyKind::Inferred),
    ("Rows_affected", KeyKind::Inferred),
    ("Rows_examined", KeyKind::RowsExamined),
    ("Rows_read", KeyKind::Inferred),
    ("Rows_sent", KeyKind::RowsSent),
    ("Schema", KeyKind::Schema),
    ("Sort_merge_passes", KeyKind::Inferred),
    ("Sort_range_count", KeyKind::Inferred),
    ("Sort_rows", KeyKind::Inferred),
    ("Sort_scan_count", KeyKind::Inferred),
    ("Start", KeyKind::Inferred),
    ("Thread_id", KeyKind::Inferred),
    ("Time", KeyKind::Reserved),
    ("Tmp_disk_tables", KeyKind::Inferred),
    ("Tmp_table", KeyKind::Inferred),
    ("Tmp_table_on_disk", KeyKind::Inferred),
    ("Tmp_table_sizes", KeyKind::Inferred),
    ("Tmp_tables", KeyKind::Inferred),
    ("User", KeyKind::Reserved),
];

/// A known key's place in [`KNOWN_KEYS`]: a lookup per header pair is on the hot path, so the
/// keys are bucketed by first letter ([`KEYS_BY_LETTER`]) and compared by length first; no hashing.
fn known_key(key: &str) -> Option<usize> {
    let first = *key.as_bytes().first()?;
    let (start, end) = *KEYS_BY_LETTER.get(usize::from(first.wrapping_sub(b'A')))?;
    let (start, end) = (usize::from(start), usize::from(end));
    KNOWN_KEYS[start..end].iter().position(|(k, _)| k.len() == key.len() && *k == key).map(|i| start + i)
}

/// For each letter `A`..=`Z`: the range of [`KNOWN_KEYS`] (which is sorted) starting with it.
const KEYS_BY_LETTER: [(u8, u8); 26] = {
    let mut ranges = [(0u8, 0u8); 26];
    let mut i = 0;
    while i < KNOWN_KEYS.len() {
        let letter = (KNOWN_KEYS[i].0.as_bytes()[0] - b'A') as usize;
        if ranges[letter].1 == 0 {
            ranges[letter].0 = i as u8;
        }
        ranges[letter].1 = i as u8 + 1;
        i += 1;
    }
    ranges
};

/// Parses one entry. `None` when the text is not a slow-log entry (no `# Query_time:` and no
/// `# User@Host:` header at its start), for example a start-up banner or an error-log line.
pub fn parse(entry: &str) -> Option<SlowQuery> {
    parse_with(entry, Rules::default())
}

/// [`parse`], with the fingerprint made under `rules`.
pub fn parse_with(entry: &str, rules: Rules) -> Option<SlowQuery> {
    let mut parser = Parser { rules, ..Parser::default() };
    let mut pos = 0;
    // Header section: the leading `#` lines (blank lines before them are skipped).
    for line in lines(entry) {
        let text = line.trim();
        if text.is_empty() && !parser.seen_header {
            pos += line.len();
            continue;
        }
        let Some(header) = text.strip_prefix('#') else {
            break;
        };
        let header = header.trim_start();
        if header.starts_with("administrator command:") {
            break; // part of the body
        }
        parser.header(header);
        parser.seen_header = true;
        pos += line.len();
    }
    if !parser.is_entry {
        return None;
    }
    parser.body(&entry[pos..]);
    Some(parser.q)
}

/// The time an entry was logged, in milliseconds since the epoch (UTC assumed for the old
/// `# Time: YYMMDD H:MM:SS` form), from `# Time:` or else `SET timestamp=`. Reads only the header
/// and preamble lines; used to date entries of slow-log files, which have no CloudWatch timestamp.
pub fn entry_time_millis(entry: &str) -> Option<i64> {
    let mut set_timestamp = None;
    for line in entry.lines().map(str::trim).filter(|l| !l.is_empty()) {
        if let Some(header) = line.strip_prefix('#') {
            if let Some(rest) = header.trim_start().strip_prefix("Time:") {
                if let Ok((_, millis, _)) = parse_time(rest.trim_start()) {
                    if plausible_time(millis) {
                        return Some(millis);
                    }
                }
            }
        } else if let Some(settings) = session_settings(line) {
            if let Some(seconds) = settings {
                set_timestamp = seconds.checked_mul(1000).filter(|ms| plausible_time(*ms));
                break;
            }
        } else if use_schema(line).is_none() {
            break; // the statement: no more preamble
        }
    }
    set_timestamp
}

/// Lines with their terminators (so positions add up), split with memchr.
fn lines(text: &str) -> impl Iterator<Item = &str> {
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let end = memchr::memchr(b'\n', rest.as_bytes()).map_or(rest.len(), |i| i + 1);
        let (line, after) = rest.split_at(end);
        rest = after;
        Some(line)
    })
}

const _: () = assert!(KNOWN_KEYS.len() <= 64);

#[derive(Default)]
struct Parser {
    q: SlowQuery,
    seen_header: bool,
    /// A `# Query_time:` or `# User@Host:` header was seen.
    is_entry: bool,
    header_schema: Option<String>,
    /// Bit i: `KNOWN_KEYS[i]` is in `extra` already.
    seen_known: u64,
    /// `Query_time` / `Lock_time` were read (even when refused): a repeated line keeps the first.
    seen_query_time: bool,
    seen_lock_time: bool,
    rules: Rules,
}

impl Parser {
    fn header(&mut self, header: &str) {
        if let Some(rest) = header.strip_prefix("Time:") {
            self.time(rest.trim_start());
        } else if let Some(rest) = header.strip_prefix("User@Host:") {
            self.is_entry = true;
            self.user_host(rest);
        } else if header.starts_with(|c: char| c.is_ascii_uppercase() || c == '_' || c == '@') {
            // `_id:` and `@timestamp:` are read too, to say that they are ignored.
            self.pairs(header);
        }
        // Anything else (`# No InnoDB statistics available…`, MariaDB's `# explain:` table) is
        // informational: it stays in `@message` only.
    }

    fn time(&mut self, value: &str) {
        match parse_time(value) {
            Ok((rfc3339, millis, _)) if !plausible_time(millis) => {
                self.warn(format!("Time: {rfc3339} is not a plausible time (1995 to 2099): ignored"));
            }
            Ok((rfc3339, millis, rest)) => {
                self.q.time = Some(rfc3339);
                self.q.time_ms = Some(millis);
                // Old servers sometimes write `# Time: … # User@Host: …` on one line.
                if let Some(next) = rest.trim_start().strip_prefix('#') {
                    self.header(next.trim_start());
                }
            }
            Err(()) => self.warn(format!("Time: cannot read {:?} as a time", value.trim())),
        }
    }

    /// `app[app] @ host.example [10.0.0.1]  Id:   123`
    fn user_host(&mut self, value: &str) {
        let value = value.trim();
        let (user_part, host_part) = match value.find("] @") {
            Some(i) => (&value[..=i], &value[i + 3..]),
            None => match value.find('@') {
                Some(i) => (value[..i].trim_end(), &value[i + 1..]),
                None => (value, ""),
            },
        };
        if !user_part.is_empty() {
            self.q.user_host = Some(user_part.to_owned());
        }
        let (user, privilege_user) = match user_part.split_once('[') {
            Some((user, rest)) => (user.trim(), rest.trim_end_matches(']').trim()),
            None => (user_part.trim(), ""),
        };
        let user = if user.is_empty() { privilege_user } else { user };
        self.q.user = non_empty(user);

        let host_part = host_part.trim_start();
        let host_end = host_part.find(|c: char| c.is_whitespace() || c == '[').unwrap_or(host_part.len());
        let mut host = &host_part[..host_end];
        let mut rest = host_part[host_end..].trim_start();
        if let Some(bracketed) = rest.strip_prefix('[') {
            let end = bracketed.find(']').unwrap_or(bracketed.len());
            let address = bracketed[..end].trim();
            rest = bracketed.get(end + 1..).unwrap_or("");
            match address.parse::<IpAddr>() {
                Ok(ip) => self.q.ip = Some(ip),
                Err(_) if address.is_empty() => {}
                // `foo[foo] @ [host]`: a name where the address goes.
                Err(_) if host.is_empty() => host = address,
                Err(_) => self.warn(format!("IP: {address:?} is not an IP address")),
            }
        }
        self.q.host = non_empty(host);
        if let Some(id) = rest.trim_start().strip_prefix("Id:") {
            self.q.id = self.integer("Id", id.trim());
        }
    }

    /// `Query_time: 0.1  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 2  Thread_id: 8 …`
    fn pairs(&mut self, header: &str) {
        let mut key: Option<&str> = None;
        for token in ascii_words(header) {
            match (as_key(token), key) {
                // An empty value (`Schema:  Last_errno: 0`) is followed directly by the next key.
                (Some(next), Some(previous)) => {
                    self.field(previous, "");
                    key = Some(next);
                }
                (Some(next), None) => key = Some(next),
                (None, Some(previous)) => {
                    self.field(previous, token);
                    key = None;
                }
                // `_id:`, `@timestamp:`, `Foo.Bar:`: shaped like a key, but not a name servers
                // write (nor one a document can take as it is): said, not silently dropped.
                (None, None) if token.len() > 1 && token.ends_with(':') => {
                    self.warn(format!("{token} header pair ignored: not a key name slow logs use"));
                }
                (None, None) => {} // a stray word: nothing to attach it to
            }
        }
        if let Some(last) = key {
            self.field(last, "");
        }
    }

    /// A duration in seconds: not negative, and the first one when the line is repeated.
    fn seconds(&mut self, key: &str, value: &str, seen: bool, first: Option<f64>) -> Option<f64> {
        if seen {
            let first = first.map_or_else(|| "refused".to_owned(), |f| f.to_string());
            self.warn(format!("{key}: repeated ({first}, then {value}): the first is kept"));
            return None;
        }
        let seconds = self.float(key, value)?;
        if seconds < 0.0 {
            self.warn(format!("{key}: {value} is negative: ignored"));
            return None;
        }
        Some(seconds)
    }

    fn field(&mut self, key: &str, value: &str) {
        let known = known_key(key);
        let kind = known.map_or(KeyKind::Inferred, |i| KNOWN_KEYS[i].1);
        let typed = match kind {
            KeyKind::QueryTime => {
                self.is_entry = true;
                let seen = std::mem::replace(&mut self.seen_query_time, true);
                if let Some(seconds) = self.seconds(key, value, seen, self.q.query_time) {
                    self.q.query_time = Some(seconds);
                }
                return;
            }
            KeyKind::LockTime => {
                let seen = std::mem::replace(&mut self.seen_lock_time, true);
                if let Some(seconds) = self.seconds(key, value, seen, self.q.lock_time) {
                    self.q.lock_time = Some(seconds);
                }
                return;
            }
            KeyKind::RowsSent => return self.q.rows_sent = self.integer(key, value),
            KeyKind::RowsExamined => return self.q.rows_examined = self.integer(key, value),
            KeyKind::Id => return self.q.id = self.integer(key, value),
            KeyKind::Schema => return self.header_schema = non_empty(value).map(|v| unquote_identifier(&v)),
            _ if value.is_empty() => return,
            KeyKind::Reserved => {
                return self.warn(format!("{key}: header pair ignored, the name is a document field"));
            }
            KeyKind::Text => FieldValue::Str(value.to_owned()),
            KeyKind::Inferred => infer(value),
        };
        // A repeated key (some servers repeat Rows_affected) keeps its last value: a document
        // with a duplicate field is refused by OpenSearch. Known keys are tracked in a bit set,
        // so the common case needs no search.
        let seen = match known {
            Some(i) => {
                let bit = 1u64 << i;
                let seen = self.seen_known & bit != 0;
                self.seen_known |= bit;
                seen
            }
            None => self.q.extra.iter().any(|(k, _)| k == key),
        };
        if seen {
            if let Some(slot) = self.q.extra.iter_mut().find(|(k, _)| k == key) {
                slot.1 = typed;
            }
        } else {
            if self.q.extra.is_empty() {
                self.q.extra.reserve(24);
            }
            let name = known.map_or_else(|| Cow::Owned(key.to_owned()), |i| Cow::Borrowed(KNOWN_KEYS[i].0));
            self.q.extra.push((name, typed));
        }
    }

    /// Preamble lines, then the statement.
    fn body(&mut self, body: &str) {
        let mut use_line = None;
        let mut admin = None;
        let mut rest = body;
        while !rest.is_empty() {
            let (line, after) = match memchr::memchr(b'\n', rest.as_bytes()) {
                Some(i) => (&rest[..i], &rest[i + 1..]),
                None => (rest, ""),
            };
            let text = line.trim();
            if text.is_empty() {
            } else if let Some(settings) = session_settings(text) {
                if let Some(seconds) = settings.filter(|s| !s.checked_mul(1000).is_some_and(plausible_time)) {
                    self.warn(format!("SET timestamp={seconds}: not a plausible time (1995 to 2099): ignored"));
                }
            } else if let Some(schema) = use_schema(text) {
                use_line = Some(text.trim_end_matches(';'));
                self.q.schema = Some(unquote_identifier(schema));
            } else if let Some(command) =
                text.strip_prefix('#').and_then(|t| t.trim_start().strip_prefix("administrator command:"))
            {
                admin = Some(command.trim().trim_end_matches(';').trim_end());
            } else {
                break;
            }
            rest = after;
        }
        if let Some(header_schema) = self.header_schema.take() {
            self.q.schema = Some(header_schema);
        }

        let statement = strip_statement_end(rest);
        if !statement.is_empty() {
            self.q.query_type = statement_keyword(statement);
            self.set_query(statement.to_owned());
        } else if let Some(command) = admin {
            self.q.query_type = Some("ADMIN".to_owned());
            self.set_query(format!("administrator command: {command}"));
        } else if let Some(use_line) = use_line {
            // Only the preamble: the statement may have been `use db` itself (pt-query-digest
            // reports it so, as `use ?`), or the entry was cut. Kept as pt does, and said.
            self.q.query_type = Some("USE".to_owned());
            self.set_query(use_line.to_owned());
            self.warn(format!("Query: no statement after the preamble; {use_line:?} is taken as the statement"));
        } else {
            self.warn("Query: the entry has no statement".to_owned());
        }
    }

    fn set_query(&mut self, query: String) {
        let fp = fingerprint_with(&query, self.rules);
        self.q.fingerprint_id = Some(fingerprint_id(&fp));
        self.q.fingerprint = Some(fp);
        self.q.query = Some(query);
    }

    fn warn(&mut self, warning: String) {
        self.q.warnings.push(warning);
    }

    /// A float field; a damaged value keeps its leading number (as pt-query-digest does) with a
    /// warning, so `Query_time: 18446744073708.796870.000036` (a MySQL wrap-around) is still dated
    /// and sortable, and flagged.
    fn float(&mut self, key: &str, value: &str) -> Option<f64> {
        if let Ok(v) = value.parse::<f64>() {
            if v.is_finite() && value.bytes().all(|b| b.is_ascii_digit() || b == b'.' || b == b'-') {
                return Some(v);
            }
        }
        let prefix = numeric_prefix(value, true);
        let parsed = prefix.parse::<f64>().ok().filter(|v| v.is_finite());
        match parsed {
            Some(_) => self.warn(format!("{key}: {value:?} is not a number; kept its leading number {prefix}")),
            None => self.warn(format!("{key}: {value:?} is not a number")),
        }
        parsed
    }

    fn integer(&mut self, key: &str, value: &str) -> Option<i64> {
        if let Ok(v) = value.parse::<i64>() {
            return Some(v);
        }
        let prefix = numeric_prefix(value, false);
        let parsed = prefix.parse::<i64>().ok();
        match parsed {
            Some(_) => self.warn(format!("{key}: {value:?} is not an integer; kept its leading number {prefix}")),
            None => self.warn(format!("{key}: {value:?} is not an integer")),
        }
        parsed
    }
}

/// `split_ascii_whitespace`, as a plain byte loop (it is most of the header parsing's time).
fn ascii_words(text: &str) -> impl Iterator<Item = &str> {
    let bytes = text.as_bytes();
    let mut at = 0;
    std::iter::from_fn(move || {
        while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let start = at;
        while bytes.get(at).is_some_and(|b| !b.is_ascii_whitespace()) {
            at += 1;
        }
        // Both ends are at ASCII whitespace or the text's ends: character boundaries.
        (at > start).then(|| &text[start..at])
    })
}

/// `Key:` with a key of the shape servers write (`Query_time`, `QC_hit`, `InnoDB_IO_r_ops`).
fn as_key(token: &str) -> Option<&str> {
    let key = token.strip_suffix(':')?;
    let mut bytes = key.bytes();
    let first = bytes.next()?;
    (first.is_ascii_uppercase() && key.len() <= 64 && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_'))
        .then_some(key)
}

/// The type a value's text shows: integer, decimal, `Yes`/`No`, else a string (RFC 3339
/// timestamps such as MySQL 8's `Start:`/`End:` stay strings, which OpenSearch maps as dates).
fn infer(value: &str) -> FieldValue {
    let digits = value.strip_prefix('-').unwrap_or(value);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match value.parse::<i64>() {
            Ok(v) => FieldValue::Int(v),
            Err(_) => value.parse::<f64>().map_or_else(|_| FieldValue::Str(value.to_owned()), FieldValue::Float),
        };
    }
    if let Some((int, frac)) = digits.split_once('.') {
        if !int.is_empty() && !frac.is_empty() && int.bytes().chain(frac.bytes()).all(|b| b.is_ascii_digit()) {
            if let Ok(v) = value.parse::<f64>() {
                return FieldValue::Float(v);
            }
        }
    }
    if value.eq_ignore_ascii_case("yes") {
        return FieldValue::Bool(true);
    }
    if value.eq_ignore_ascii_case("no") {
        return FieldValue::Bool(false);
    }
    FieldValue::Str(value.to_owned())
}

fn numeric_prefix(value: &str, allow_fraction: bool) -> &str {
    let bytes = value.as_bytes();
    let mut end = usize::from(bytes.first() == Some(&b'-'));
    while end < bytes.len() && bytes[end].is_ascii_digit() {
        end += 1;
    }
    if allow_fraction && bytes.get(end) == Some(&b'.') {
        let mut frac_end = end + 1;
        while frac_end < bytes.len() && bytes[frac_end].is_ascii_digit() {
            frac_end += 1;
        }
        if frac_end > end + 1 {
            end = frac_end;
        }
    }
    &value[..end]
}

/// `# Time:` value → (RFC 3339 text, epoch millis, the rest of the line).
/// MySQL 5.7+: `2016-07-20T18:13:25.698433Z` (or with an offset under `log_timestamps=SYSTEM`);
/// MySQL ≤ 5.6 and MariaDB: `071218 11:48:27` or `090127  1:23:34` (server-local, no zone).
fn parse_time(value: &str) -> Result<(String, i64, &str), ()> {
    let (first, rest) = split_token(value);
    if first.contains('T') {
        let parsed = DateTime::parse_from_rfc3339(first).map_err(|_| ())?;
        return Ok((first.to_owned(), parsed.timestamp_millis(), rest));
    }
    let (clock, rest) = split_token(rest);
    if first.len() != 6 || !first.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    let number = |range: std::ops::Range<usize>| first[range].parse::<u32>().map_err(|_| ());
    let date = NaiveDate::from_ymd_opt(2000 + number(0..2)? as i32, number(2..4)?, number(4..6)?).ok_or(())?;
    // Some servers add a fraction: `121123 19:56:06.0000001967`.
    let (clock, fraction) = clock.split_once('.').unwrap_or((clock, ""));
    let mut parts = clock.split(':').map(|p| p.parse::<u32>().map_err(|_| ()));
    let (h, m, s) = (parts.next().ok_or(())??, parts.next().ok_or(())??, parts.next().ok_or(())??);
    if parts.next().is_some() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return Err(());
    }
    let nanos = format!("{:0<9}", &fraction[..fraction.len().min(9)]).parse::<u32>().map_err(|_| ())?;
    let at = date.and_hms_nano_opt(h, m, s, nanos).ok_or(())?;
    let mut text = String::with_capacity(32);
    let _ = write!(text, "{}-{:02}-{:02}T{h:02}:{m:02}:{s:02}", date.year(), date.month(), date.day());
    if !fraction.is_empty() {
        let _ = write!(text, ".{}", &fraction[..fraction.len().min(9)]);
    }
    Ok((text, at.and_utc().timestamp_millis(), rest))
}

/// Times from 1995-01-01 (MySQL's first release) up to 2100-01-01 UTC. A slow-log time outside
/// (`# Time: 9999-12-31…`, `SET timestamp=99999999999999999`) or a CloudWatch timestamp outside
/// (negative) is refused with a parse warning: it would make an index dated 9999 or 1969.
pub const PLAUSIBLE_MS: std::ops::RangeInclusive<i64> = 788_918_400_000..=4_102_444_799_999;

/// Whether `ms` (since the epoch) is in [`PLAUSIBLE_MS`].
pub fn plausible_time(ms: i64) -> bool {
    PLAUSIBLE_MS.contains(&ms)
}

fn split_token(text: &str) -> (&str, &str) {
    let text = text.trim_start();
    let end = text.find(char::is_whitespace).unwrap_or(text.len());
    (&text[..end], &text[end..])
}

/// `SET timestamp=1469038405;` → `Some(Some(1469038405))`.
/// Also the form the server writes for a statement that used an auto-increment value (a
/// replica's SQL thread, mostly): `SET insert_id=34484549,timestamp=1197996507;`, and
/// `SET last_insert_id=…,insert_id=…,timestamp=…;`. Like pt-query-digest, such a line is preamble
/// (the session settings the server logs before the statement), not part of `Query`; its
/// `timestamp` dates the entry (`Some(None)`: none in the line). `None` when the line is something
/// else (any other `SET`).
fn session_settings(line: &str) -> Option<Option<i64>> {
    let settings = line.get(..4).filter(|p| p.eq_ignore_ascii_case("SET "))?;
    let settings = line[settings.len()..].strip_suffix(';')?;
    let mut seconds = None;
    for pair in settings.split(',') {
        let (name, value) = pair.split_once('=')?;
        let (name, value) = (name.trim(), value.trim());
        let (whole, fraction) = value.split_once('.').unwrap_or((value, "0"));
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        if name.eq_ignore_ascii_case("timestamp") {
            seconds = whole.parse().ok();
        } else if !name.eq_ignore_ascii_case("insert_id") && !name.eq_ignore_ascii_case("last_insert_id") {
            return None;
        }
    }
    Some(seconds)
}

/// `use db;` → `db` (one identifier, possibly back-quoted).
fn use_schema(line: &str) -> Option<&str> {
    let prefix = line.get(..4)?;
    if !prefix.eq_ignore_ascii_case("use ") {
        return None;
    }
    let schema = line[4..].strip_suffix(';')?.trim();
    (!schema.is_empty() && !schema.contains(char::is_whitespace)).then_some(schema)
}

fn unquote_identifier(name: &str) -> String {
    name.strip_prefix('`').and_then(|n| n.strip_suffix('`')).unwrap_or(name).to_owned()
}

/// The statement without trailing whitespace, NUL padding and its final `;`.
fn strip_statement_end(statement: &str) -> &str {
    let trimmed = statement.trim_end_matches(|c: char| c.is_whitespace() || c == '\0');
    let trimmed = trimmed.strip_suffix(';').unwrap_or(trimmed);
    trimmed.trim_end_matches(|c: char| c.is_whitespace() || c == '\0').trim_start()
}

/// The first keyword of a statement, upper-cased, after comments and opening parentheses:
/// `/* app */ (SELECT …` → `SELECT`; `/*!40101 SET …*/` → `SET`.
fn statement_keyword(statement: &str) -> Option<String> {
    let mut rest = statement;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c == '(');
        if let Some(comment) = rest.strip_prefix("/*!") {
            rest = comment.trim_start_matches(|c: char| c.is_ascii_digit());
        } else if let Some(comment) = rest.strip_prefix("/*") {
            rest = comment.split_once("*/").map_or("", |(_, after)| after);
        } else if rest.starts_with("--") || rest.starts_with('#') {
            rest = rest.split_once('\n').map_or("", |(_, after)| after);
        } else {
            break;
        }
    }
    let end = rest.find(|c: char| !c.is_ascii_alphabetic()).unwrap_or(rest.len());
    (end > 0).then(|| rest[..end].to_ascii_uppercase())
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_keys_are_unique_and_found() {
        assert!(KNOWN_KEYS.windows(2).all(|w| w[0].0 < w[1].0), "KNOWN_KEYS: sorted, each once");
        for (i, (key, _)) in KNOWN_KEYS.iter().enumerate() {
            assert_eq!(known_key(key), Some(i));
        }
        assert_eq!(known_key("Not_a_known_key"), None);
    }

    #[test]
    fn a_replicas_session_settings_are_preamble_and_date_the_entry() {
        let entry = "# User@Host: [SQL_SLAVE] @  []\n# Query_time: 0.000530  Lock_time: 0.000027\n\
                     SET last_insert_id=90417,insert_id=90418,timestamp=1795256102;\n\
                     INSERT INTO orders (customer_id) VALUES (77);\n";
        let q = parse(entry).unwrap();
        assert_eq!(q.query.as_deref(), Some("INSERT INTO orders (customer_id) VALUES (77)"));
        assert_eq!(entry_time_millis(entry), Some(1_795_256_102_000));
        let q = parse("# Query_time: 1\nSET insert_id=5;\nINSERT INTO t VALUES (NULL);").unwrap();
        assert_eq!(q.query.as_deref(), Some("INSERT INTO t VALUES (NULL)"));
        // Any other SET is a statement.
        for statement in ["SET NAMES utf8mb4", "SET insert_id=5, sql_mode=''", "SET timestamp=now()"] {
            let q = parse(&format!("# Query_time: 1\n{statement};\n")).unwrap();
            assert_eq!(q.query.as_deref(), Some(statement));
        }
    }

    #[test]
    fn a_repeated_unknown_key_is_emitted_once() {
        let q = parse("# Query_time: 1\n# Custom_counter: 1  Custom_counter: 2\nSELECT 1;").unwrap();
        assert_eq!(q.extra, vec![(Cow::Owned("Custom_counter".to_owned()), FieldValue::Int(2))]);
    }
}
