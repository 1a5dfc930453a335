//! RDS and Aurora PostgreSQL log records → [`SlowQuery`] (pure: no clock, no I/O).
//!
//! RDS fixes `log_line_prefix` to `%t:%r:%u@%d:[%p]:`, so every record starts
//! `2026-11-20 10:24:10 UTC:10.0.3.121(52314):app_rw@orders:[12345]:LOG:  ` (time with its zone;
//! the client as `host(port)`, `[local]` or nothing; user and database, either may be empty; the
//! backend's pid; the severity and two spaces). A statement that spans lines goes on in lines that
//! start with a tab, in the same record. With `log_min_duration_statement` the message is one of
//! - `duration: 4118.207 ms  statement: SELECT …` (simple protocol),
//! - `duration: 0.5 ms  execute P_1: UPDATE … $1` / `parse <unnamed>: …` / `bind S_1: …`
//!   (extended protocol; the values follow as their own record, `DETAIL:  parameters: $1 = '…'`),
//! - `duration: 60.3 ms  plan:` and auto_explain's plan, text (`Query Text: …` first) or JSON,
//! - `duration: 1.2 ms` alone (`log_duration`), or `statement: …` alone (`log_statement`);
//!
//! and errors are `ERROR:  …` / `FATAL:  …`, their statement following as a `STATEMENT:  …` record.
//! [`records`] splits a text into records; [`parse`] reads one record with the `DETAIL`,
//! `STATEMENT`, `HINT`, `CONTEXT` records that follow it (what a CloudWatch event holds, or a
//! file's lines grouped by [`group`]). [`normalize`] is the fingerprint.

use crate::event::LogEvent;
use crate::slowlog::{FieldValue, SlowQuery};
use std::borrow::Cow;
use std::net::IpAddr;

/// The prefix of one record.
#[derive(Debug, Clone, PartialEq)]
pub struct Prefix<'a> {
    /// `2026-11-20 10:24:10` (or with milliseconds, `%m`).
    pub time: &'a str,
    /// `UTC`, `GMT`, `+01`, `-05:30`, … (`%t` writes the server's `log_timezone`).
    pub zone: &'a str,
    /// The client host (`10.0.3.121`, `2001:db8::5`, a name with `log_hostname`), `[local]`, or empty.
    pub host: &'a str,
    pub port: Option<u16>,
    pub user: &'a str,
    pub database: &'a str,
    pub pid: i64,
    /// `LOG`, `ERROR`, `FATAL`, `DETAIL`, `STATEMENT`, …
    pub severity: &'a str,
    /// The message after the severity's two spaces (its first line).
    pub message: &'a str,
}

/// Reads a record's first line; `None` when it does not start with RDS's prefix.
pub fn prefix(line: &str) -> Option<Prefix<'_>> {
    let bytes = line.as_bytes();
    // `YYYY-MM-DD HH:MM:SS` then an optional `.mmm`, a space and the zone, then `:`.
    if bytes.len() < 24 || !shape_matches(&bytes[..19], b"dddd-dd-dd dd:dd:dd") {
        return None;
    }
    let mut at = 19;
    if bytes[at] == b'.' {
        at += 1;
        while bytes.get(at).is_some_and(u8::is_ascii_digit) {
            at += 1;
        }
    }
    let time = &line[..at];
    if bytes.get(at) != Some(&b' ') {
        return None;
    }
    let zone_start = at + 1;
    // A zone is letters, or a signed offset (`+05`, `-05:30`: its colon is not the separator).
    let mut zone_end = zone_start;
    if matches!(bytes.get(zone_start), Some(b'+' | b'-')) {
        zone_end += 1;
        while bytes.get(zone_end).is_some_and(u8::is_ascii_digit) {
            zone_end += 1;
        }
        if bytes.get(zone_end) == Some(&b':') && bytes.get(zone_end + 1).is_some_and(u8::is_ascii_digit) {
            zone_end += 1;
            while bytes.get(zone_end).is_some_and(u8::is_ascii_digit) {
                zone_end += 1;
            }
        }
    } else {
        while bytes.get(zone_end).is_some_and(u8::is_ascii_alphabetic) {
            zone_end += 1;
        }
    }
    if zone_end == zone_start || bytes.get(zone_end) != Some(&b':') {
        return None;
    }
    let zone = &line[zone_start..zone_end];
    let rest = &line[zone_end + 1..];
    // The client: `[local]`, nothing, or `host(port)`; an IPv6 host holds colons, so the client
    // ends at the first `(digits):`.
    let (host, port, rest) = if let Some(rest) = rest.strip_prefix("[local]:") {
        ("[local]", None, rest)
    } else if let Some(rest) = rest.strip_prefix(':') {
        ("", None, rest)
    } else {
        let close = find_bytes(rest, b"):")?;
        let open = rest[..close].rfind('(')?;
        let port = rest[open + 1..close].parse::<u16>().ok()?;
        (&rest[..open], Some(port), &rest[close + 2..])
    };
    // `user@database:[pid]:`
    let pid_open = find_bytes(rest, b":[")?;
    let (user, database) = rest[..pid_open].split_once('@')?;
    let rest = &rest[pid_open + 2..];
    let pid_close = find_bytes(rest, b"]:")?;
    let pid = rest[..pid_close].parse::<i64>().ok()?;
    let rest = &rest[pid_close + 2..];
    let (severity, message) = find_bytes(rest, b":  ")
        .map(|i| (&rest[..i], &rest[i + 3..]))
        .or_else(|| rest.strip_suffix(':').map(|s| (s, "")))?;
    if severity.is_empty() || !severity.bytes().all(|b| b.is_ascii_uppercase() || b.is_ascii_digit()) {
        return None;
    }
    Some(Prefix { time, zone, host, port, user, database, pid, severity, message })
}

/// Where `needle` (a few ASCII bytes) first starts in `text`: memchr on its first byte. A `str`
/// pattern builds a two-way searcher on every call, which costs more than the search itself on
/// a prefix's short fields, and the prefix is read several times a record.
fn find_bytes(text: &str, needle: &[u8]) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut from = 0;
    while let Some(i) = memchr::memchr(needle[0], &bytes[from..]) {
        let at = from + i;
        if bytes[at..].starts_with(needle) {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// `shape`'s `d` is an ASCII digit; every other byte must be itself.
fn shape_matches(bytes: &[u8], shape: &[u8]) -> bool {
    bytes.len() == shape.len()
        && bytes.iter().zip(shape).all(|(b, s)| if *s == b'd' { b.is_ascii_digit() } else { b == s })
}

/// The records of `text`: each starts at a line with the prefix and takes the lines after it that
/// do not (a multi-line statement, a plan). Text before the first record is a record of its own.
pub fn records(text: &str) -> Vec<&str> {
    let mut starts = Vec::new();
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if prefix(line.trim_end_matches(['\n', '\r'])).is_some() {
            starts.push(at);
        }
        at += line.len();
    }
    if starts.first() != Some(&0) {
        starts.insert(0, 0);
    }
    starts
        .iter()
        .enumerate()
        .map(|(i, &start)| &text[start..starts.get(i + 1).copied().unwrap_or(text.len())])
        .collect()
}

/// Whether a record of this severity belongs to the record before it (of the same backend).
pub fn is_follow_up(severity: &str) -> bool {
    matches!(severity, "DETAIL" | "STATEMENT" | "HINT" | "CONTEXT" | "QUERY" | "LOCATION")
}

/// The records of `text` grouped as [`parse`] reads them: a record and the follow-up records of
/// the same pid right after it. Pure.
pub fn group(text: &str) -> Vec<&str> {
    let records = records(text);
    let mut groups: Vec<(usize, usize, Option<i64>)> = Vec::new();
    let mut at = 0;
    for record in records {
        let first = record.lines().next().unwrap_or("");
        let parsed = prefix(first);
        let joins = match (&parsed, groups.last()) {
            (Some(p), Some((_, _, Some(pid)))) => is_follow_up(p.severity) && p.pid == *pid,
            _ => false,
        };
        if joins {
            groups.last_mut().expect("checked").1 = at + record.len();
        } else {
            groups.push((at, at + record.len(), parsed.map(|p| p.pid)));
        }
        at += record.len();
    }
    groups.into_iter().map(|(start, end, _)| &text[start..end]).collect()
}

/// CloudWatch may deliver a record's follow-ups (`DETAIL:  parameters: …` after an `execute`, the
/// `STATEMENT` of an `ERROR`) and even its continuation lines (a tab first) as events of their own.
/// Each such event is appended to the event of its record (the one before it, of the same pid), so
/// the record is one document with its `Parameters` or `Query`; the joined event's text is kept in
/// that document's `@message` and its id is not used. Events of one batch only (one log stream, in
/// order); any other event passes as it is. Pure.
pub fn join_follow_ups(events: Vec<LogEvent>) -> Vec<LogEvent> {
    let mut out: Vec<LogEvent> = Vec::with_capacity(events.len());
    // The pid of the last record of `out`'s last event, when that event is PostgreSQL's.
    let mut last_pid: Option<i64> = None;
    for event in events {
        if event.extracted_fields.is_none() {
            if let (Some(pid), Some(previous)) = (last_pid, out.last_mut()) {
                let first_line = event.message.lines().next().unwrap_or("");
                let joins = match prefix(first_line) {
                    Some(p) => is_follow_up(p.severity) && p.pid == pid,
                    None => event.message.starts_with('\t'),
                };
                if joins && previous.extracted_fields.is_none() {
                    if !previous.message.ends_with('\n') {
                        previous.message.push('\n');
                    }
                    previous.message.push_str(&event.message);
                    continue;
                }
            }
        }
        // Cheap for any other event: only a message that starts with the prefix is looked into.
        let first =
            event.extracted_fields.is_none().then(|| prefix(event.message.lines().next().unwrap_or(""))).flatten();
        last_pid = first.map(|p| event.message.lines().skip(1).filter_map(prefix).last().map_or(p.pid, |q| q.pid));
        out.push(event);
    }
    out
}

/// Whether `text` reads as a PostgreSQL record (its first non-blank line has the prefix).
pub fn looks_like(text: &str) -> bool {
    text.lines().find(|l| !l.trim().is_empty()).is_some_and(|l| prefix(l).is_some())
}

/// Reads one record and its follow-ups (see [`group`]). `None` when the text does not start with
/// the prefix.
pub fn parse(text: &str) -> Option<SlowQuery> {
    let mut recs = records(text).into_iter();
    let first = recs.next()?;
    let (head, body) = first.split_once('\n').unwrap_or((first, ""));
    let p = prefix(head.trim_end_matches('\r'))?;
    let mut q = SlowQuery { engine: crate::slowlog::Engine::Postgresql, ..SlowQuery::default() };
    set_time(&mut q, p.time, p.zone);
    set_client(&mut q, &p);
    q.extra.push((Cow::Borrowed("Severity"), FieldValue::Str(p.severity.to_owned())));
    let continuation = continuation_text(body);
    match p.severity {
        // A follow-up delivered on its own (CloudWatch gives each record its own event).
        "DETAIL" if p.message.starts_with("parameters: ") => {
            push_str(&mut q, "Parameters", join(&p.message["parameters: ".len()..], &continuation).trim());
        }
        "STATEMENT" => set_query(&mut q, &join(p.message, &continuation)),
        severity => read_message(&mut q, severity, p.message, &continuation),
    }
    for record in recs {
        let (head, body) = record.split_once('\n').unwrap_or((record, ""));
        let Some(follow) = prefix(head.trim_end_matches('\r')) else { continue };
        let text = join(follow.message, &continuation_text(body));
        match follow.severity {
            "DETAIL" => {
                if let Some(values) = text.strip_prefix("parameters: ") {
                    push_str(&mut q, "Parameters", values.trim());
                } else {
                    push_str(&mut q, "Detail", text.trim());
                }
            }
            "STATEMENT" if q.query.is_none() => set_query(&mut q, text.trim()),
            "HINT" => push_str(&mut q, "Hint", text.trim()),
            "CONTEXT" => push_str(&mut q, "Context", text.trim()),
            _ => {}
        }
    }
    Some(q)
}

/// The lines after a record's first, each without the one tab PostgreSQL puts before it.
fn continuation_text(body: &str) -> String {
    let mut out = String::new();
    for line in body.lines() {
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line.strip_prefix('\t').unwrap_or(line));
    }
    out.trim_end().to_owned()
}

fn join(first: &str, rest: &str) -> String {
    match (first.is_empty(), rest.is_empty()) {
        (_, true) => first.to_owned(),
        (true, false) => rest.to_owned(),
        (false, false) => format!("{first}\n{rest}"),
    }
}

fn push_str(q: &mut SlowQuery, key: &'static str, value: &str) {
    if !value.is_empty() && !q.extra.iter().any(|(k, _)| k == key) {
        q.extra.push((Cow::Borrowed(key), FieldValue::Str(value.to_owned())));
    }
}

/// The time of `text`'s first record, in milliseconds, when its zone is UTC or an offset and the
/// time is plausible.
pub fn record_time_millis(text: &str) -> Option<i64> {
    let line = text.lines().find(|l| !l.trim().is_empty())?;
    let p = prefix(line)?;
    time_of(p.time, p.zone).ok().map(|(_, ms)| ms)
}

fn set_time(q: &mut SlowQuery, time: &str, zone: &str) {
    match time_of(time, zone) {
        Ok((text, ms)) => {
            q.time = Some(text);
            q.time_ms = Some(ms);
        }
        Err(warning) => q.warnings.push(warning),
    }
}

/// `Time` as RFC 3339 and in milliseconds, or the parse warning.
fn time_of(time: &str, zone: &str) -> Result<(String, i64), String> {
    let offset = match zone {
        "UTC" | "GMT" | "Z" => Some("Z".to_owned()),
        z if z.starts_with(['+', '-']) => {
            let (sign, digits) = z.split_at(1);
            let (hours, minutes) = digits.split_once(':').unwrap_or((digits, "00"));
            (hours.len() <= 2 && minutes.len() == 2).then(|| format!("{sign}{hours:0>2}:{minutes}"))
        }
        _ => None,
    };
    let Some(offset) = offset else {
        return Err(format!("Time: the zone {zone:?} is not UTC or an offset; the event's time dates the entry"));
    };
    let text = format!("{}T{}{offset}", &time[..10], &time[11..]);
    match chrono::DateTime::parse_from_rfc3339(&text) {
        Ok(parsed) if crate::slowlog::plausible_time(parsed.timestamp_millis()) => {
            Ok((text, parsed.timestamp_millis()))
        }
        _ => Err(format!("Time: {time} {zone} is not a plausible time; the event's time dates the entry")),
    }
}

fn set_client(q: &mut SlowQuery, p: &Prefix<'_>) {
    if !p.user.is_empty() {
        q.user = Some(p.user.to_owned());
    }
    match p.host.parse::<IpAddr>() {
        Ok(ip) => q.ip = Some(ip),
        Err(_) if !p.host.is_empty() => q.host = Some(p.host.to_owned()),
        Err(_) => {}
    }
    if let Some(port) = p.port {
        q.extra.push((Cow::Borrowed("Client_port"), FieldValue::Int(i64::from(port))));
    }
    if !p.database.is_empty() {
        q.extra.push((Cow::Borrowed("Database"), FieldValue::Str(p.database.to_owned())));
    }
    q.extra.push((Cow::Borrowed("Pid"), FieldValue::Int(p.pid)));
}

/// The message of the record's first line (`first`) and its continuation lines.
fn read_message(q: &mut SlowQuery, severity: &str, first: &str, continuation: &str) {
    let mut rest = first;
    if let Some(after) = rest.strip_prefix("duration: ") {
        let (number, after) = after.split_once(" ms").unwrap_or((after, ""));
        match number.trim().parse::<f64>() {
            Ok(ms) if ms.is_finite() && ms >= 0.0 => {
                q.extra.push((Cow::Borrowed("Duration_ms"), FieldValue::Float(ms)));
                // In whole microseconds first (PostgreSQL prints three decimals), so 0.293 ms is
                // 0.000293 s, not 0.00029299999999999997.
                q.query_time = Some((ms * 1000.0).round() / 1e6);
            }
            _ => q.warnings.push(format!("Duration_ms: {number:?} is not a number of milliseconds")),
        }
        rest = after.trim_start();
        if rest.is_empty() && continuation.is_empty() {
            return; // `log_duration`: the time alone
        }
    }
    if let Some(after) = rest.strip_prefix("statement: ") {
        push_str(q, "Statement_kind", "statement");
        set_query(q, &join(after, continuation));
        return;
    }
    for kind in ["execute", "parse", "bind"] {
        if let Some(after) = rest.strip_prefix(kind).and_then(|r| r.strip_prefix(' ')) {
            if let Some((name, statement)) = after.split_once(": ") {
                push_str(q, "Statement_kind", kind);
                push_str(q, "Prepared_name", name);
                set_query(q, &join(statement, continuation));
                return;
            }
        }
    }
    if let Some(plan) = rest.strip_prefix("plan:") {
        push_str(q, "Statement_kind", "plan");
        read_plan(q, &join(plan.trim_start(), continuation));
        return;
    }
    // Anything else (an error, a connection message, a checkpoint): the message is the record.
    let text = join(rest, continuation);
    if !text.trim().is_empty() {
        push_str(q, if matches!(severity, "ERROR" | "FATAL" | "PANIC") { "Error" } else { "Message" }, text.trim());
    }
}

/// auto_explain's plan: JSON (`{"Query Text": …, "Plan": …}`), kept as an object in `Plan`, or
/// text whose first line is `Query Text: …`, kept in `Plan_text`. Two names, not one: an index
/// that met a string under a name refuses an object under it (and the other way round), and a
/// server may log both formats over time.
fn read_plan(q: &mut SlowQuery, plan: &str) {
    if let Ok(serde_json::Value::Object(object)) = serde_json::from_str::<serde_json::Value>(plan) {
        if let Some(text) = object.get("Query Text").and_then(|t| t.as_str()) {
            set_query(q, text.trim());
        }
        q.extra.push((Cow::Borrowed("Plan"), FieldValue::Json(serde_json::Value::Object(object))));
        return;
    }
    let mut lines = plan.lines();
    if let Some(text) = lines.next().and_then(|l| l.trim_start().strip_prefix("Query Text: ")) {
        set_query(q, text.trim());
        let rest: Vec<&str> = lines.collect();
        push_str(q, "Plan_text", rest.join("\n").trim_end());
    } else {
        push_str(q, "Plan_text", plan.trim_end());
    }
}

fn set_query(q: &mut SlowQuery, statement: &str) {
    let statement = statement.trim();
    if statement.is_empty() {
        return;
    }
    let fingerprint = normalize(statement);
    q.fingerprint_id = Some(crate::fingerprint::fingerprint_id(&fingerprint));
    q.fingerprint = Some(fingerprint);
    q.query_type = first_keyword(statement);
    q.query = Some(statement.to_owned());
}

fn first_keyword(statement: &str) -> Option<String> {
    let word: String = statement
        .trim_start_matches(|c: char| c.is_whitespace() || c == '(')
        .chars()
        .take_while(|c| c.is_ascii_alphabetic())
        .collect();
    (!word.is_empty()).then(|| word.to_ascii_uppercase())
}

/// The fingerprint of a PostgreSQL statement, grouping what pgBadger and pg_stat_statements group:
/// comments (`/* … */`, `-- …`) go; string literals (`'…'` with `''` inside, `E'…'` with backslash
/// escapes, `$tag$…$tag$`), numbers (integers, decimals, exponents, a sign right after an operator
/// or `(`/`,`), and placeholders `$1` become `?`; `IN (?, ?, …)` becomes `in (...)` and a
/// `VALUES` list of tuples `values (...)`; words are lower-cased, `"Quoted"` identifiers kept as
/// written; whitespace is one space, none before `,` `)` `;` or after `(`; a final `;` goes.
///
/// ```
/// use logs_to_opensearch::postgres::normalize;
/// assert_eq!(normalize("SELECT * FROM \"Orders\" WHERE id IN (1, 2,3) AND note = 'it''s' LIMIT $1;"),
///            "select * from \"Orders\" where id in (...) and note = ? limit ?");
/// ```
pub fn normalize(statement: &str) -> String {
    let bytes = statement.as_bytes();
    // Words are lower-cased once for the whole statement (ASCII only, so every position is the
    // same in both), not one allocation per upper-case word.
    let lowered = statement.to_ascii_lowercase();
    let mut tokens: Vec<Cow<'_, str>> = Vec::with_capacity(statement.len() / 4 + 4);
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        let start = i;
        if b.is_ascii_whitespace() {
            i += 1;
            continue;
        }
        if b == b'-' && bytes.get(i + 1) == Some(&b'-') {
            i = memchr::memchr(b'\n', &bytes[i..]).map_or(bytes.len(), |p| i + p);
            continue;
        }
        if b == b'/' && bytes.get(i + 1) == Some(&b'*') {
            i = memchr::memmem::find(&bytes[i + 2..], b"*/").map_or(bytes.len(), |p| i + 2 + p + 2);
            continue;
        }
        if b == b'\'' || ((b == b'E' || b == b'e') && bytes.get(i + 1) == Some(&b'\'') && !after_word(bytes, i)) {
            let backslashes = b != b'\'';
            i = string_end(bytes, if backslashes { i + 1 } else { i }, backslashes);
            tokens.push(Cow::Borrowed("?"));
            continue;
        }
        if b == b'$' {
            if bytes.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i += 1;
                while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                    i += 1;
                }
                tokens.push(Cow::Borrowed("?"));
                continue;
            }
            if let Some(end) = dollar_quote_end(bytes, i) {
                i = end;
                tokens.push(Cow::Borrowed("?"));
                continue;
            }
        }
        if b == b'"' {
            i = memchr::memchr(b'"', &bytes[i + 1..]).map_or(bytes.len(), |p| i + 1 + p + 1);
            tokens.push(Cow::Borrowed(&statement[start..i]));
            continue;
        }
        let signed = matches!(b, b'-' | b'+')
            && bytes.get(i + 1).is_some_and(|c| c.is_ascii_digit() || *c == b'.')
            && tokens.last().is_none_or(|t| is_operator_like(t));
        if b.is_ascii_digit() || (b == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) || signed {
            i += 1;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.' || bytes[i] == b'_') {
                // An exponent's sign belongs to the number.
                if matches!(bytes[i], b'e' | b'E') && matches!(bytes.get(i + 1), Some(b'+' | b'-')) {
                    i += 1;
                }
                i += 1;
            }
            tokens.push(Cow::Borrowed("?"));
            continue;
        }
        if b.is_ascii_alphabetic() || b == b'_' || b >= 0x80 {
            while i < bytes.len()
                && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b'$' || bytes[i] >= 0x80)
            {
                i += 1;
            }
            tokens.push(Cow::Borrowed(&lowered[start..i]));
            continue;
        }
        // Operators: runs of symbol bytes stay together (`::`, `<=`, `->>`); brackets alone.
        i += 1;
        if !matches!(b, b'(' | b')' | b',' | b';' | b'[' | b']' | b'.') {
            while i < bytes.len() && b"+-*/<>=~!@#%^&|`?:".contains(&bytes[i]) {
                i += 1;
            }
        }
        tokens.push(Cow::Borrowed(&statement[start..i]));
    }
    while tokens.last().is_some_and(|t| t == ";") {
        tokens.pop();
    }
    let tokens = collapse_lists(tokens);
    let mut out = String::with_capacity(statement.len());
    for (k, token) in tokens.iter().enumerate() {
        let no_space_before = matches!(token.as_ref(), "," | ")" | ";" | "]")
            || (token == "("
                && k > 0
                && tokens[k - 1].bytes().all(|c| c.is_ascii_alphanumeric() || c == b'_')
                && !is_keyword_before_paren(&tokens[k - 1]));
        let after_open = k > 0 && matches!(tokens[k - 1].as_ref(), "(" | "[");
        let glued = matches!(token.as_ref(), "::" | ".") || (k > 0 && matches!(tokens[k - 1].as_ref(), "::" | "."));
        if k > 0 && !no_space_before && !after_open && !glued {
            out.push(' ');
        }
        out.push_str(token);
    }
    out
}

/// Words after which `(` is a list, not a call: a space stays before it (`in (`, `values (`).
fn is_keyword_before_paren(word: &str) -> bool {
    matches!(
        word,
        "in" | "values"
            | "and"
            | "or"
            | "not"
            | "on"
            | "as"
            | "from"
            | "join"
            | "where"
            | "select"
            | "exists"
            | "using"
            | "over"
            | "filter"
            | "when"
            | "then"
            | "else"
            | "into"
            | "set"
            | "by"
            | "all"
            | "any"
            | "some"
    )
}

fn after_word(bytes: &[u8], at: usize) -> bool {
    at > 0 && (bytes[at - 1].is_ascii_alphanumeric() || bytes[at - 1] == b'_')
}

fn is_operator_like(token: &str) -> bool {
    matches!(token, "(" | "," | "[")
        || token.bytes().all(|c| b"+-*/<>=~!@#%^&|`?:".contains(&c))
        || matches!(
            token,
            "and"
                | "or"
                | "not"
                | "select"
                | "where"
                | "then"
                | "else"
                | "when"
                | "between"
                | "limit"
                | "offset"
                | "return"
                | "values"
                | "set"
                | "by"
                | "in"
                | "is"
        )
}

/// Where a string that opens at `open` (its quote) ends: after its closing quote, `''` being a
/// quote inside, and with `backslashes` (`E'…'`) `\x` too; the text's end when it never closes.
fn string_end(bytes: &[u8], open: usize, backslashes: bool) -> usize {
    let mut i = open + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' if backslashes => i += 2,
            b'\'' if bytes.get(i + 1) == Some(&b'\'') => i += 2,
            b'\'' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// `$tag$ … $tag$` (the tag may be empty) opening at `at`: where it ends.
fn dollar_quote_end(bytes: &[u8], at: usize) -> Option<usize> {
    let tag_len = bytes[at + 1..].iter().position(|b| *b == b'$')?;
    let tag = &bytes[at..at + 1 + tag_len + 1];
    if !tag[1..tag.len() - 1].iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_')
        || tag[1..].first().is_some_and(u8::is_ascii_digit)
    {
        return None;
    }
    let body = at + tag.len();
    memchr::memmem::find(&bytes[body..], tag).map(|p| body + p + tag.len()).or(Some(bytes.len()))
}

/// `in ( ? , ? )` → `in (...)`; `values (…), (…)` → `values (...)` when every tuple holds only
/// placeholders.
fn collapse_lists(tokens: Vec<Cow<'_, str>>) -> Vec<Cow<'_, str>> {
    let mut out: Vec<Cow<'_, str>> = Vec::with_capacity(tokens.len());
    let mut i = 0;
    while i < tokens.len() {
        let keyword = tokens[i].as_ref();
        if (keyword == "in" || keyword == "values") && tokens.get(i + 1).is_some_and(|t| t == "(") {
            let mut j = i + 1;
            let mut tuples = 0;
            loop {
                if tokens.get(j).is_none_or(|t| t != "(") {
                    break;
                }
                let mut k = j + 1;
                while tokens.get(k).is_some_and(|t| t == "?" || t == ",") {
                    k += 1;
                }
                if k == j + 1 || tokens.get(k).is_none_or(|t| t != ")") {
                    break;
                }
                tuples += 1;
                j = k + 1;
                if keyword == "values"
                    && tokens.get(j).is_some_and(|t| t == ",")
                    && tokens.get(j + 1).is_some_and(|t| t == "(")
                {
                    j += 1;
                    continue;
                }
                break;
            }
            if tuples > 0 {
                out.push(tokens[i].clone());
                out.push(Cow::Borrowed("(...)"));
                i = j;
                continue;
            }
        }
        out.push(tokens[i].clone());
        i += 1;
    }
    out
}

/// `text` with the literals of every record masked (`REDACT_QUERY_LITERALS`): each record's
/// prefix and its `duration: … ms  statement:` head are kept, the rest goes through
/// [`crate::redact::mask_literals`].
pub fn mask_records(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for record in records(text) {
        let (head, body) = match record.find('\n') {
            Some(at) => record.split_at(at),
            None => (record, ""),
        };
        let Some(p) = prefix(head.trim_end_matches('\r')) else {
            out.push_str(&crate::redact::mask_literals(record));
            continue;
        };
        let message_at = head.len() - p.message.len();
        let (kept, rest) = head.split_at(message_at);
        let head_len = message_head_len(rest);
        out.push_str(kept);
        out.push_str(&rest[..head_len]);
        out.push_str(&crate::redact::mask_literals(&format!("{}{body}", &rest[head_len..])));
    }
    out
}

/// How much of a message is the fixed head: `duration: 1.5 ms  statement: `, `parameters: `, ….
fn message_head_len(message: &str) -> usize {
    let mut at = 0;
    if let Some(after) = message.strip_prefix("duration: ") {
        if let Some(ms) = after.find(" ms") {
            at = "duration: ".len() + ms + " ms".len();
            at += message[at..].len() - message[at..].trim_start().len();
        }
    }
    let rest = &message[at..];
    for head in ["statement: ", "parameters: ", "plan:"] {
        if rest.starts_with(head) {
            return at + head.len();
        }
    }
    for kind in ["execute ", "parse ", "bind "] {
        if let Some(after) = rest.strip_prefix(kind) {
            if let Some(colon) = after.find(": ") {
                return at + kind.len() + colon + 2;
            }
        }
    }
    at
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn find_bytes_finds_the_first_whole_needle() {
        assert_eq!(find_bytes("a)b):c):", b"):"), Some(3));
        assert_eq!(find_bytes("::  x:  ", b":  "), Some(1));
        assert_eq!(find_bytes("ab)", b"):"), None);
        assert_eq!(find_bytes("", b"]:"), None);
        assert_eq!(find_bytes("é]:", b"]:"), Some(2));
    }
}
