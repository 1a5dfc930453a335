//! Log event + its stream → an OpenSearch document (the document contract of `../shared/DESIGN.md`).
//!
//! Every document carries the original function's meta fields: `@id` (the event id, also the
//! `_id`), `@timestamp` (RFC 3339 UTC with milliseconds), `@message` (the raw event), `@owner`,
//! `@log_group`, `@log_stream`. Then, in order of preference:
//! 1. a slow-log entry: the typed fields of [`SlowQuery`];
//! 2. `extractedFields` of the subscription filter: numbers as numbers, a JSON value in a field
//!    also as `$field` (the original function's rules);
//! 3. the JSON object found in the message (from its first `{` to its end);
//! 4. nothing else.
//!
//! What could not be read cleanly is listed in `@parse_warnings` instead of failing: a malformed log
//! event never fails the batch. Pure: no clock, no I/O.

use crate::event::LogEvent;
use crate::index_name::GroupIndex;
use crate::json::ObjectWriter;
use crate::redact;
use crate::slowlog::{self, FieldValue, SlowQuery};
use chrono::DateTime;
use md5::{Digest, Md5};
use serde_json::{Map, Value};
use std::sync::Arc;

/// Meta fields every document of one CloudWatch Logs batch shares.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamMeta {
    pub owner: String,
    pub log_group: String,
    pub log_stream: String,
}

/// What the document holds beyond the meta fields.
#[derive(Debug, Clone, PartialEq)]
pub enum Body {
    SlowQuery(Box<SlowQuery>),
    Fields(Map<String, Value>),
    Plain,
}

/// One document, ready to encode as a `_bulk` item.
#[derive(Debug, Clone, PartialEq)]
pub struct Document {
    /// `_id` and `@id`: the event id, so a retried batch overwrites rather than duplicates.
    pub id: String,
    /// `_index`.
    pub index: Arc<str>,
    /// `@timestamp`, already formatted.
    pub timestamp: String,
    /// `@message`.
    pub message: String,
    pub meta: Arc<StreamMeta>,
    pub body: Body,
    /// `@parse_warnings`.
    pub warnings: Vec<String>,
    /// `@original_bytes` (and `@truncated: true`): the size of `@message` before
    /// [`Document::truncate`] cut it to fit a request.
    pub original_bytes: Option<usize>,
}

impl Document {
    /// Cuts `@message` and every long string field to at most `max_field_bytes` (on a character
    /// boundary), so a document too large for one `_bulk` request still gets indexed: marked with
    /// `@truncated: true` and the message's `@original_bytes`, its numbers and short fields kept.
    /// Structured fields whose JSON is longer than the limit are dropped (named in a warning).
    pub fn truncate(&mut self, max_field_bytes: usize) {
        let original = *self.original_bytes.get_or_insert(self.message.len());
        cut(&mut self.message, max_field_bytes);
        let mut dropped = Vec::new();
        match &mut self.body {
            Body::SlowQuery(q) => {
                for text in [&mut q.query, &mut q.fingerprint, &mut q.user_host, &mut q.schema, &mut q.time]
                    .into_iter()
                    .flatten()
                {
                    cut(text, max_field_bytes);
                }
                for (_, value) in &mut q.extra {
                    if let FieldValue::Str(text) = value {
                        cut(text, max_field_bytes);
                    }
                }
            }
            Body::Fields(fields) => fields.retain(|key, value| {
                let keep = serde_json::to_vec(value).is_ok_and(|json| json.len() <= max_field_bytes);
                if !keep {
                    dropped.push(key.clone());
                }
                keep
            }),
            Body::Plain => {}
        }
        self.warnings.retain(|w| !w.starts_with(TRUNCATED_WARNING));
        let mut warning = format!(
            "{TRUNCATED_WARNING}: the document was larger than a _bulk request may be (BULK_MAX_BYTES); \
             @message ({original} bytes) and long fields were cut to {max_field_bytes} bytes"
        );
        if !dropped.is_empty() {
            warning.push_str(&format!("; fields dropped: {}", dropped.join(", ")));
        }
        for warning_text in &mut self.warnings {
            cut(warning_text, max_field_bytes.max(64));
        }
        self.warnings.push(warning);
    }

    /// The slow query this document holds, if any.
    pub fn slow_query(&self) -> Option<&SlowQuery> {
        match &self.body {
            Body::SlowQuery(q) => Some(q),
            _ => None,
        }
    }
}

const TRUNCATED_WARNING: &str = "@truncated";

/// Shortens `text` to at most `max_bytes`, on a character boundary.
fn cut(text: &mut String, max_bytes: usize) {
    if text.len() > max_bytes {
        let mut end = max_bytes;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
    }
}

/// The longest `_id` OpenSearch accepts, in bytes.
const MAX_ID_BYTES: usize = 512;
/// The range of timestamps OpenSearch's default date format can hold: years 0001 to 9999.
const MIN_TIMESTAMP_MS: i64 = -62_135_596_800_000;
const MAX_TIMESTAMP_MS: i64 = 253_402_300_799_999;

/// Builds the documents of one batch; holds what is shared across its events.
pub struct DocumentBuilder {
    meta: Arc<StreamMeta>,
    index: GroupIndex,
    /// The day (since the epoch) and its `YYYY-MM-DDT` prefix.
    last_date: Option<(i64, String)>,
    /// Mask literals and comments in `Query`, `Fingerprint` and `@message` of slow queries
    /// (`REDACT_QUERY_LITERALS`).
    redact_literals: bool,
    /// The user's patterns (`REDACT_PATTERNS`), masked in every document's text.
    patterns: redact::Patterns,
    /// When the batch arrived: dates an event whose own time is implausible and that has no
    /// plausible entry time.
    received_ms: Option<i64>,
    /// pt-query-digest's fingerprint options (`FINGERPRINT_PRESERVE_EMBEDDED_NUMBERS`).
    fingerprint_rules: crate::fingerprint::Rules,
}

impl DocumentBuilder {
    pub fn new(index_prefix: &str, meta: StreamMeta) -> Self {
        let index = GroupIndex::new(index_prefix, &meta.log_group);
        DocumentBuilder {
            meta: Arc::new(meta),
            index,
            last_date: None,
            redact_literals: false,
            patterns: redact::Patterns::default(),
            received_ms: None,
            fingerprint_rules: crate::fingerprint::Rules::default(),
        }
    }

    /// The fingerprint options (pt-query-digest's `--preserve-embedded-numbers`).
    pub fn fingerprint_rules(mut self, rules: crate::fingerprint::Rules) -> Self {
        self.fingerprint_rules = rules;
        self
    }

    /// When the batch arrived (milliseconds since the epoch), for events whose time is not plausible.
    pub fn received_at(mut self, ms: i64) -> Self {
        self.received_ms = Some(ms);
        self
    }

    /// Masks literals and comment text in `Query`, `Fingerprint` and `@message` of slow-query
    /// documents (they may be personal data or secrets); the ids (`@id`, `Fingerprint_id`) are made
    /// from the original text, so they are the same with and without masking.
    pub fn redact_literals(mut self, on: bool) -> Self {
        self.redact_literals = on;
        self
    }

    /// Masks every match of the user's patterns in the document's text: `@message`, a slow
    /// query's text fields, every string of structured fields.
    pub fn redact_patterns(mut self, patterns: redact::Patterns) -> Self {
        self.patterns = patterns;
        self
    }

    /// One event → one document. Never fails.
    pub fn build(&mut self, event: LogEvent) -> Document {
        let mut warnings = Vec::new();
        let LogEvent { id, timestamp, message, extracted_fields } = event;

        let id = if id.is_empty() || id.len() > MAX_ID_BYTES {
            warnings
                .push(format!("@id: event id of {} bytes is not usable as _id; derived one from the event", id.len()));
            self.derived_id(timestamp, &message)
        } else {
            id
        };

        let mut message = message;
        // PostgreSQL by the record's own shape (RDS's fixed prefix), whatever the log group is named.
        let postgres = crate::postgres::looks_like(&message);
        let parsed = if postgres {
            crate::postgres::parse(&message)
        } else {
            slowlog::parse_with(&message, self.fingerprint_rules)
        };
        let body = if let Some(mut query) = parsed {
            warnings.append(&mut query.warnings);
            if self.redact_literals && postgres {
                query.query = query.query.as_deref().map(redact::mask_literals);
                if let Some(masked) = &query.query {
                    query.fingerprint =
                        Some(masked_fingerprint(slowlog::Engine::Postgresql, masked, self.fingerprint_rules));
                }
                for (key, value) in &mut query.extra {
                    match value {
                        FieldValue::Str(text)
                            if matches!(
                                key.as_ref(),
                                "Parameters" | "Plan_text" | "Error" | "Hint" | "Detail" | "Message" | "Context"
                            ) =>
                        {
                            *text = redact::mask_literals(text);
                        }
                        FieldValue::Json(plan) => redact_json(plan),
                        _ => {}
                    }
                }
                message = crate::postgres::mask_records(&message);
            } else if self.redact_literals {
                // After the ids are made from the original text.
                query.query = query.query.as_deref().map(redact::mask_literals);
                if let Some(masked) = &query.query {
                    query.fingerprint =
                        Some(masked_fingerprint(slowlog::Engine::Mysql, masked, self.fingerprint_rules));
                }
                message = redact::mask_entry(&message);
            }
            if !self.patterns.is_empty() {
                for text in [&mut query.query, &mut query.fingerprint, &mut query.user_host, &mut query.schema]
                    .into_iter()
                    .flatten()
                {
                    self.patterns.apply(text);
                }
                for (_, value) in &mut query.extra {
                    if let FieldValue::Str(text) = value {
                        self.patterns.apply(text);
                    }
                }
            }
            Body::SlowQuery(Box::new(query))
        } else if let Some(fields) = extracted_fields.filter(|f| !f.is_empty()) {
            Body::Fields(crate::field_names::safe_field_names(from_extracted_fields(fields), &mut warnings))
        } else if let Some(object) = json_in_message(&message) {
            Body::Fields(crate::field_names::safe_field_names(object, &mut warnings))
        } else {
            Body::Plain
        };

        // The event's time, unless it is implausible (negative, year 9999): then the entry's own
        // time, else the time the batch was received.
        let timestamp_ms = if slowlog::plausible_time(timestamp) {
            timestamp
        } else {
            let entry_time = match &body {
                Body::SlowQuery(query) => query.time_ms,
                _ => None,
            };
            let (used, what) = match (entry_time, self.received_ms) {
                (Some(ms), _) => (ms, "the entry's Time"),
                (None, Some(ms)) if (MIN_TIMESTAMP_MS..=MAX_TIMESTAMP_MS).contains(&ms) => {
                    (ms, "the time it was received")
                }
                _ => (0, "1970-01-01"),
            };
            warnings.push(format!(
                "@timestamp: event timestamp {timestamp} is not a plausible time (1995 to 2099); used {what}"
            ));
            used
        };
        let formatted = self.format_timestamp(timestamp_ms);

        let mut body = body;
        if !self.patterns.is_empty() {
            self.patterns.apply(&mut message);
            if let Body::Fields(fields) = &mut body {
                fields.values_mut().for_each(|value| self.patterns.apply_value(value));
            }
        }
        Document {
            id,
            index: self.index.for_timestamp(timestamp_ms),
            timestamp: formatted,
            message,
            meta: Arc::clone(&self.meta),
            body,
            warnings,
            original_bytes: None,
        }
    }

    /// RFC 3339 UTC with milliseconds (`2026-11-21T10:15:31.402Z`); the date part is formatted
    /// once per day, as a batch's events are mostly of one day.
    fn format_timestamp(&mut self, timestamp_ms: i64) -> String {
        let day = timestamp_ms.div_euclid(86_400_000);
        if self.last_date.as_ref().is_none_or(|(d, _)| *d != day) {
            let date = DateTime::from_timestamp_millis(timestamp_ms).unwrap_or_default();
            self.last_date = Some((day, date.format("%Y-%m-%dT").to_string()));
        }
        let in_day = timestamp_ms.rem_euclid(86_400_000);
        let (seconds, millis) = (in_day / 1000, in_day % 1000);
        let mut out = String::with_capacity(24);
        out.push_str(self.last_date.as_ref().map_or("", |(_, prefix)| prefix));
        for (value, separator) in [(seconds / 3600, ':'), (seconds / 60 % 60, ':'), (seconds % 60, '.')] {
            out.push(char::from(b'0' + (value / 10) as u8));
            out.push(char::from(b'0' + (value % 10) as u8));
            out.push(separator);
        }
        out.push(char::from(b'0' + (millis / 100) as u8));
        out.push(char::from(b'0' + (millis / 10 % 10) as u8));
        out.push(char::from(b'0' + (millis % 10) as u8));
        out.push('Z');
        out
    }

    /// A stable id for an event whose own id is unusable: the same event always gets the same one.
    fn derived_id(&self, timestamp: i64, message: &str) -> String {
        let mut hash = Md5::new();
        for part in [
            self.meta.log_group.as_bytes(),
            self.meta.log_stream.as_bytes(),
            &timestamp.to_be_bytes(),
            message.as_bytes(),
        ] {
            hash.update((part.len() as u64).to_be_bytes());
            hash.update(part);
        }
        hash.finalize().iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The original function's `buildSource` for `extractedFields`: empty values skipped, numeric
/// strings as numbers, a string holding JSON from its first `{` also parsed into `$field`.
/// The `Fingerprint` of a statement whose literals were masked (`REDACT_QUERY_LITERALS=true`):
/// made again from the masked text, then masked once more (pt's rules can leave a literal where
/// the masker does not, as in an unterminated string). The digest shows the same.
pub fn masked_fingerprint(engine: slowlog::Engine, masked_query: &str, rules: crate::fingerprint::Rules) -> String {
    let fingerprint = match engine {
        slowlog::Engine::Postgresql => crate::postgres::normalize(masked_query),
        slowlog::Engine::Mysql => crate::fingerprint::fingerprint_with(masked_query, rules),
    };
    redact::mask_literals(&fingerprint)
}

pub fn from_extracted_fields(fields: Map<String, Value>) -> Map<String, Value> {
    let mut source = Map::with_capacity(fields.len());
    for (key, value) in fields {
        let Value::String(text) = value else {
            if !value.is_null() {
                source.insert(key, value);
            }
            continue;
        };
        if text.is_empty() {
            continue;
        }
        if let Some(number) = as_number(&text) {
            source.insert(key, number);
            continue;
        }
        if let Some(json) = json_in_message(&text) {
            source.insert(format!("${key}"), Value::Object(json));
        }
        source.insert(key, Value::String(text));
    }
    source
}

/// JavaScript's `!isNaN(parseFloat(n)) && isFinite(n)` for the strings CloudWatch extracts,
/// as an integer when it is one (so `"200"` indexes as `200`, not `200.0`).
fn as_number(text: &str) -> Option<Value> {
    let trimmed = text.trim();
    let looks_numeric = trimmed.bytes().all(|b| b.is_ascii_digit() || matches!(b, b'.' | b'-' | b'+' | b'e' | b'E'))
        && trimmed.bytes().any(|b| b.is_ascii_digit());
    if !looks_numeric {
        return None;
    }
    if let Ok(int) = trimmed.parse::<i64>() {
        return Some(Value::from(int));
    }
    let float = trimmed.parse::<f64>().ok().filter(|f| f.is_finite())?;
    serde_json::Number::from_f64(float).map(Value::Number)
}

/// The original's `extractJson`: the text from the first `{` to the end, when it is a JSON object.
fn json_in_message(message: &str) -> Option<Map<String, Value>> {
    let start = message.find('{')?;
    match serde_json::from_str::<Value>(&message[start..]) {
        Ok(Value::Object(object)) => Some(object),
        _ => None,
    }
}

/// Names of the meta fields; fields of the body with these names are left out (the meta wins,
/// as in the original function, and a duplicate key would make OpenSearch refuse the document).
const META_FIELDS: &[&str] = &[
    "@id",
    "@timestamp",
    "@message",
    "@owner",
    "@log_group",
    "@log_stream",
    "@parse_warnings",
    "@truncated",
    "@original_bytes",
];

impl Document {
    /// Appends the document's `_source` JSON (the contract) to `out`.
    pub fn write_source(&self, out: &mut Vec<u8>) {
        let mut object = ObjectWriter::start(out);
        match &self.body {
            Body::SlowQuery(q) => write_slow_query(q, &mut object),
            Body::Fields(fields) => {
                for (key, value) in fields.iter().filter(|(k, _)| !META_FIELDS.contains(&k.as_str())) {
                    object.value(key, value);
                }
            }
            Body::Plain => {}
        }
        object.str("@id", &self.id);
        object.str("@timestamp", &self.timestamp);
        object.str("@message", &self.message);
        object.str("@owner", &self.meta.owner);
        object.str("@log_group", &self.meta.log_group);
        object.str("@log_stream", &self.meta.log_stream);
        if !self.warnings.is_empty() {
            object.str_array("@parse_warnings", &self.warnings);
        }
        if let Some(original) = self.original_bytes {
            object.bool("@truncated", true);
            object.i64("@original_bytes", i64::try_from(original).unwrap_or(i64::MAX));
        }
        object.end();
    }

    /// The `_source` JSON on its own.
    pub fn source_json(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.message.len() * 2 + 256);
        self.write_source(&mut out);
        out
    }
}

/// Every string in a JSON value (a PostgreSQL plan) masked as a statement.
fn redact_json(value: &mut Value) {
    match value {
        Value::String(text) => *text = redact::mask_literals(text),
        Value::Array(items) => items.iter_mut().for_each(redact_json),
        Value::Object(map) => map.values_mut().for_each(redact_json),
        _ => {}
    }
}

fn write_slow_query(q: &SlowQuery, object: &mut ObjectWriter<'_>) {
    object.str("Engine", q.engine.name());
    let strings = [("Time", &q.time), ("User@Host", &q.user_host), ("User", &q.user), ("Host", &q.host)];
    for (key, value) in strings {
        if let Some(value) = value {
            object.str(key, value);
        }
    }
    if let Some(ip) = q.ip {
        object.ip("IP", ip);
    }
    if let Some(id) = q.id {
        object.i64("Id", id);
    }
    for (key, value) in [("Query_time", q.query_time), ("Lock_time", q.lock_time)] {
        if let Some(value) = value {
            object.f64(key, value);
        }
    }
    for (key, value) in [("Rows_sent", q.rows_sent), ("Rows_examined", q.rows_examined)] {
        if let Some(value) = value {
            object.i64(key, value);
        }
    }
    let strings = [
        ("Schema", &q.schema),
        ("Query", &q.query),
        ("Query_type", &q.query_type),
        ("Fingerprint", &q.fingerprint),
        ("Fingerprint_id", &q.fingerprint_id),
    ];
    for (key, value) in strings {
        if let Some(value) = value {
            object.str(key, value);
        }
    }
    for (key, value) in &q.extra {
        match value {
            FieldValue::Int(v) => object.i64(key, *v),
            FieldValue::Float(v) => object.f64(key, *v),
            FieldValue::Bool(v) => object.bool(key, *v),
            FieldValue::Str(v) => object.str(key, v),
            FieldValue::Json(v) => object.value(key, v),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn builder() -> DocumentBuilder {
        DocumentBuilder::new(
            "cwl",
            StreamMeta { owner: "123456789012".into(), log_group: "/aws/app".into(), log_stream: "stream-1".into() },
        )
    }

    fn event(message: &str, extracted: Option<Value>) -> LogEvent {
        LogEvent {
            id: "37000000000000000000000000000000000000000000000000000001".into(),
            timestamp: 1_795_255_200_123,
            message: message.into(),
            extracted_fields: extracted.map(|v| v.as_object().cloned().unwrap_or_default()),
        }
    }

    fn source(doc: &Document) -> Value {
        serde_json::from_slice(&doc.source_json()).unwrap()
    }

    #[test]
    fn plain_message_gets_meta_fields_only() {
        let doc = builder().build(event("2026-11-21T10:00:00Z 0 [Note] Server started", None));
        assert_eq!(
            source(&doc),
            json!({
                "@id": "37000000000000000000000000000000000000000000000000000001",
                "@timestamp": "2026-11-21T10:00:00.123Z",
                "@message": "2026-11-21T10:00:00Z 0 [Note] Server started",
                "@owner": "123456789012",
                "@log_group": "/aws/app",
                "@log_stream": "stream-1",
            })
        );
        assert_eq!(&*doc.index, "cwl-aws-app-2026.11.21");
    }

    #[test]
    fn extracted_fields_follow_the_original_rules() {
        let doc = builder().build(event(
            "ignored",
            Some(json!({
                "status": "200", "latency": "0.25", "path": "/x", "empty": "",
                "payload": "user={\"id\": 7}", "big": "12345678901234567890"
            })),
        ));
        let s = source(&doc);
        assert_eq!(s["status"], json!(200));
        assert_eq!(s["latency"], json!(0.25));
        assert_eq!(s["path"], json!("/x"));
        assert!(s.get("empty").is_none());
        assert_eq!(s["payload"], json!("user={\"id\": 7}"));
        assert_eq!(s["$payload"], json!({"id": 7}));
        assert_eq!(s["big"], json!(12345678901234567890.0));
    }

    #[test]
    fn json_object_in_message_becomes_fields_and_meta_wins() {
        let doc =
            builder().build(event("INFO request {\"status\": 500, \"@id\": \"spoofed\", \"n\": {\"a\": 1}}", None));
        let s = source(&doc);
        assert_eq!(s["status"], json!(500));
        assert_eq!(s["n"], json!({"a": 1}));
        assert_eq!(s["@id"], json!("37000000000000000000000000000000000000000000000000000001"));
        let text = String::from_utf8(doc.source_json()).unwrap();
        assert_eq!(text.matches("\"@id\"").count(), 1, "no duplicate keys: {text}");
    }

    #[test]
    fn refused_field_names_are_renamed_in_json_messages_and_extracted_fields() {
        let doc = builder().build(event(r#"app {"_id": "x", "a..b": 1}"#, None));
        let s = source(&doc);
        assert_eq!((s["@_id"].clone(), s["a__b"].clone()), (json!("x"), json!(1)));
        assert!(doc.warnings.iter().any(|w| w.contains("renamed")), "{:?}", doc.warnings);
        let s = source(&builder().build(event("x", Some(json!({"_index": "i", "a..b": "2"})))));
        assert_eq!((s["@_index"].clone(), s["a__b"].clone()), (json!("i"), json!(2)));
    }

    #[test]
    fn broken_json_in_message_stays_plain() {
        let s = source(&builder().build(event("oops {\"a\": ", None)));
        assert!(s.get("a").is_none());
        assert_eq!(s.as_object().unwrap().len(), 6);
    }

    #[test]
    fn formats_timestamps_like_rfc3339_with_milliseconds() {
        let mut b = builder();
        for ms in [0, 1, 999, 1_795_255_200_123, 1_795_305_599_999, -1, -62_135_596_800_000, 253_402_300_799_999] {
            let expected =
                DateTime::from_timestamp_millis(ms).unwrap().to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
            assert_eq!(b.format_timestamp(ms), expected, "{ms}");
        }
    }

    #[test]
    fn out_of_range_timestamp_falls_back_with_a_warning() {
        let mut e = event("x", None);
        e.timestamp = i64::MAX;
        let doc = builder().build(e);
        assert_eq!(doc.timestamp, "1970-01-01T00:00:00.000Z");
        assert!(doc.warnings[0].contains("not a plausible time"), "{:?}", doc.warnings);
        assert_eq!(source(&doc)["@parse_warnings"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn unusable_event_id_is_replaced_by_a_stable_derived_one() {
        let mut e = event("x", None);
        e.id = String::new();
        let a = builder().build(e.clone());
        let b = builder().build(e);
        assert_eq!(a.id.len(), 32);
        assert_eq!(a.id, b.id);
    }
}
