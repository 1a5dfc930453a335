//! Alerts: which documents alert, how they are grouped, and (in [`slack`] and [`notify`]) the
//! message and its sending.
//!
//! Three rules, checked in this order on every document after it is built (the first that
//! matches wins, so one entry makes at most one alert):
//! 1. **slow query** (`SLOW_QUERY_ALERT_SECONDS`): a slow-log entry whose `Query_time` is at or
//!    above the threshold, optionally with `Rows_examined` at or above
//!    `SLOW_QUERY_ALERT_MIN_ROWS_EXAMINED`, unless its `User` or `Fingerprint_id` is ignored;
//! 2. **marker** (`ALERT_MARKERS=[CRITICAL],[ALERT]`): `@message` contains one of the markers;
//! 3. **when** (`ALERT_WHEN=status>=500`): conditions on the document's fields (the language is
//!    [`parse_when`]'s).
//!
//! Within one invocation, matching entries are grouped: slow queries by log group and
//! fingerprint, others by rule and log group. A group keeps its count, first and last time, and
//! one example (the slowest query). [`Collector::finish`] orders the groups worst first and keeps
//! at most `ALERT_MAX_MESSAGES` of them; the rest are counted for an "and N more" line, so a
//! flood of slow queries is never a flood of messages.
//!
//! This module and [`slack`] are pure (no I/O, no clock); [`notify`] sends.

pub mod notify;
pub mod slack;

use crate::document::{Body, Document};
use crate::slowlog::{FieldValue, SlowQuery};
use serde_json::Value;
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Bytes of a query or message kept for the example of a group (the message shows less).
const EXAMPLE_BYTES: usize = 4096;
/// Groups tracked per invocation; entries of further groups are only counted, which bounds memory
/// when a batch holds thousands of distinct statements.
const MAX_GROUPS: usize = 1000;

/// The alert rules, validated at start by `config`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Rules {
    pub slow_query: Option<SlowQueryRule>,
    /// Substrings of `@message` that make an entry alert (case-sensitive).
    pub markers: Vec<String>,
    /// Any of these alerts (each one a conjunction of conditions).
    pub when: Vec<WhenRule>,
}

/// No rule at all: what a collector uses when alerts are off.
pub static NO_RULES: Rules = Rules { slow_query: None, markers: Vec::new(), when: Vec::new() };

/// `SLOW_QUERY_ALERT_*`.
#[derive(Debug, Clone, PartialEq)]
pub struct SlowQueryRule {
    /// `Query_time` at or above this alerts.
    pub seconds: f64,
    /// And `Rows_examined` at or above this (an entry without `Rows_examined` does not alert).
    pub min_rows_examined: Option<i64>,
    /// `User`s whose queries never alert (`rdsadmin` by default: RDS's own maintenance).
    pub ignore_users: Vec<String>,
    /// `Fingerprint_id`s that never alert (upper-case hex, as in the documents).
    pub ignore_fingerprints: Vec<String>,
}

/// One rule of `ALERT_WHEN`: all its conditions hold.
#[derive(Debug, Clone, PartialEq)]
pub struct WhenRule {
    /// The rule as written (trimmed), shown in the message.
    pub text: String,
    pub conditions: Vec<Condition>,
}

/// `field op value`.
#[derive(Debug, Clone, PartialEq)]
pub struct Condition {
    pub field: String,
    pub op: Op,
    pub value: Operand,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Ge,
    Gt,
    Le,
    Lt,
    Eq,
    Ne,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Operand {
    Number(f64),
    Text(String),
}

/// Why a rule was refused (the caller names the variable).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RuleError {
    #[error("{rule:?} is not `field op value` with op one of >= <= > < == != (e.g. status>=500)")]
    NoOperator { rule: String },
    #[error("{rule:?} has no field name before the operator")]
    NoField { rule: String },
    #[error("{rule:?}: field names are letters, digits and _ @ $ . - (a dot reaches into a nested object)")]
    BadField { rule: String },
    #[error("{rule:?} has no value after the operator")]
    NoValue { rule: String },
    #[error("{rule:?}: {op} compares numbers, and {value:?} is not a number")]
    NotANumber { rule: String, op: &'static str, value: String },
    #[error("an empty rule between separators")]
    Empty,
}

impl Op {
    fn symbol(self) -> &'static str {
        match self {
            Op::Ge => ">=",
            Op::Gt => ">",
            Op::Le => "<=",
            Op::Lt => "<",
            Op::Eq => "==",
            Op::Ne => "!=",
        }
    }
}

/// Parses `ALERT_WHEN`: rules separated by `,` (any of them alerts), each one conditions joined
/// by `&&` (all must hold), each condition `field op value`:
/// - `op` is `>=`, `<=`, `>`, `<`, `==` (or `=`), `!=`;
/// - a numeric value compares numerically with a number field (or a string holding a number);
///   `<`, `>`, `<=`, `>=` need a numeric value;
/// - any other value compares as text with `==` / `!=` (surrounding spaces trimmed; put it in
///   double quotes to keep spaces, commas or `&&`);
/// - `field` is a document field (`status`, `Query_time`, `@log_stream`); `a.b` reaches into a
///   nested object when there is no field named `a.b`;
/// - a document without the field never matches the condition, whatever the operator.
///
/// ```
/// use logs_to_opensearch::alert::parse_when;
/// let rules = parse_when("status>=500 && path!=/health, level==FATAL").unwrap();
/// assert_eq!(rules.len(), 2);
/// assert_eq!(rules[0].conditions.len(), 2);
/// ```
pub fn parse_when(text: &str) -> Result<Vec<WhenRule>, RuleError> {
    split_outside_quotes(text, ",")
        .into_iter()
        .map(|rule| {
            let rule = rule.trim();
            if rule.is_empty() {
                return Err(RuleError::Empty);
            }
            let conditions = split_outside_quotes(rule, "&&")
                .into_iter()
                .map(|c| parse_condition(c.trim()))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(WhenRule { text: rule.to_owned(), conditions })
        })
        .collect()
}

/// Parses `ALERT_MARKERS`: markers separated by `,`, each trimmed, none empty.
pub fn parse_markers(text: &str) -> Result<Vec<String>, RuleError> {
    text.split(',')
        .map(|m| match m.trim() {
            "" => Err(RuleError::Empty),
            marker => Ok(marker.to_owned()),
        })
        .collect()
}

/// Splits at `separator`, except inside double quotes.
fn split_outside_quotes<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    let mut i = 0;
    while i < text.len() {
        if text.as_bytes()[i] == b'"' {
            quoted = !quoted;
        } else if !quoted && text.as_bytes()[i..].starts_with(separator.as_bytes()) {
            // The separator is ASCII, so `i` is on a character boundary.
            parts.push(&text[start..i]);
            i += separator.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&text[start..]);
    parts
}

fn parse_condition(condition: &str) -> Result<Condition, RuleError> {
    let rule = || condition.to_owned();
    // Longest operators first, so `>=` is not read as `>` followed by `=…`.
    const OPS: [(&str, Op); 7] =
        [(">=", Op::Ge), ("<=", Op::Le), ("==", Op::Eq), ("!=", Op::Ne), (">", Op::Gt), ("<", Op::Lt), ("=", Op::Eq)];
    let (at, symbol, op) = condition
        .char_indices()
        .find_map(|(at, _)| OPS.iter().find(|(s, _)| condition[at..].starts_with(s)).map(|(s, op)| (at, *s, *op)))
        .ok_or_else(|| RuleError::NoOperator { rule: rule() })?;
    let field = condition[..at].trim();
    let value = condition[at + symbol.len()..].trim();
    if field.is_empty() {
        return Err(RuleError::NoField { rule: rule() });
    }
    if !field.chars().all(|c| c.is_alphanumeric() || matches!(c, '_' | '@' | '$' | '.' | '-')) {
        return Err(RuleError::BadField { rule: rule() });
    }
    if value.is_empty() {
        return Err(RuleError::NoValue { rule: rule() });
    }
    let value = match value.parse::<f64>() {
        Ok(number) if number.is_finite() && !value.starts_with('"') => Operand::Number(number),
        _ if matches!(op, Op::Eq | Op::Ne) => {
            let unquoted = value.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(value);
            Operand::Text(unquoted.to_owned())
        }
        _ => return Err(RuleError::NotANumber { rule: rule(), op: op.symbol(), value: value.to_owned() }),
    };
    Ok(Condition { field: field.to_owned(), op, value })
}

/// A field's value, as a condition sees it.
#[derive(Debug, Clone, PartialEq)]
enum Field<'a> {
    Number(f64),
    Text(Cow<'a, str>),
}

impl Field<'_> {
    fn show(&self) -> String {
        match self {
            Field::Number(n) => n.to_string(),
            Field::Text(t) => t.to_string(),
        }
    }
}

/// The value of `name` in `doc`: meta fields, the typed slow-query fields, or the structured
/// fields (a dotted name reaches into nested objects).
fn field<'a>(doc: &'a Document, name: &str) -> Option<Field<'a>> {
    let text = |s: &'a str| Some(Field::Text(Cow::Borrowed(s)));
    match name {
        "@message" => return text(&doc.message),
        "@log_group" => return text(&doc.meta.log_group),
        "@log_stream" => return text(&doc.meta.log_stream),
        "@owner" => return text(&doc.meta.owner),
        "@id" => return text(&doc.id),
        _ => {}
    }
    match &doc.body {
        Body::SlowQuery(q) => slow_query_field(q, name),
        Body::Fields(fields) => {
            let value = fields.get(name).or_else(|| {
                let mut parts = name.split('.');
                let first = fields.get(parts.next()?)?;
                parts.try_fold(first, |value, key| value.get(key))
            })?;
            match value {
                Value::Number(n) => n.as_f64().map(Field::Number),
                Value::String(s) => text(s),
                Value::Bool(b) => Some(Field::Text(Cow::Borrowed(if *b { "true" } else { "false" }))),
                _ => None,
            }
        }
        Body::Plain => None,
    }
}

fn slow_query_field<'a>(q: &'a SlowQuery, name: &str) -> Option<Field<'a>> {
    let text = |s: &'a Option<String>| s.as_deref().map(|s| Field::Text(Cow::Borrowed(s)));
    let number = |n: Option<f64>| n.map(Field::Number);
    let int = |n: Option<i64>| n.map(|n| Field::Number(n as f64));
    match name {
        "Query_time" => number(q.query_time),
        "Lock_time" => number(q.lock_time),
        "Rows_sent" => int(q.rows_sent),
        "Rows_examined" => int(q.rows_examined),
        "Id" => int(q.id),
        "User" => text(&q.user),
        "Host" => text(&q.host),
        "IP" => q.ip.map(|ip| Field::Text(Cow::Owned(ip.to_string()))),
        "User@Host" => text(&q.user_host),
        "Schema" => text(&q.schema),
        "Query" => text(&q.query),
        "Query_type" => text(&q.query_type),
        "Fingerprint" => text(&q.fingerprint),
        "Fingerprint_id" => text(&q.fingerprint_id),
        "Time" => text(&q.time),
        _ => q.extra.iter().find(|(key, _)| key == name).map(|(_, value)| match value {
            FieldValue::Int(n) => Field::Number(*n as f64),
            FieldValue::Float(n) => Field::Number(*n),
            FieldValue::Bool(b) => Field::Text(Cow::Borrowed(if *b { "true" } else { "false" })),
            FieldValue::Str(s) => Field::Text(Cow::Borrowed(s)),
        }),
    }
}

impl Condition {
    /// Whether the condition holds for `doc`; with the value it compared.
    fn check<'a>(&self, doc: &'a Document) -> Option<Field<'a>> {
        let found = field(doc, &self.field)?;
        let holds = match (&self.value, &found) {
            (Operand::Number(want), Field::Number(got)) => compare(*got, self.op, *want),
            (Operand::Number(want), Field::Text(got)) => {
                got.trim().parse::<f64>().ok().is_some_and(|got| compare(got, self.op, *want))
            }
            (Operand::Text(want), got) => {
                let equal = got.show() == *want;
                if self.op == Op::Eq {
                    equal
                } else {
                    !equal
                }
            }
        };
        holds.then_some(found)
    }
}

fn compare(got: f64, op: Op, want: f64) -> bool {
    match op {
        Op::Ge => got >= want,
        Op::Gt => got > want,
        Op::Le => got <= want,
        Op::Lt => got < want,
        Op::Eq => got == want,
        Op::Ne => got != want,
    }
}

/// Which rule an entry matched.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum RuleKind {
    SlowQuery,
    Marker(String),
    When(String),
}

impl RuleKind {
    /// Order of the rules in [`Collector::finish`].
    fn rank(&self) -> u8 {
        match self {
            RuleKind::SlowQuery => 0,
            RuleKind::Marker(_) => 1,
            RuleKind::When(_) => 2,
        }
    }
}

impl fmt::Display for RuleKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RuleKind::SlowQuery => f.write_str("slow query"),
            RuleKind::Marker(marker) => write!(f, "marker {marker}"),
            RuleKind::When(rule) => write!(f, "when {rule}"),
        }
    }
}

impl Rules {
    /// No rule is set: nothing can alert.
    pub fn is_empty(&self) -> bool {
        self.slow_query.is_none() && self.markers.is_empty() && self.when.is_empty()
    }

    /// The first rule `doc` matches, with the fields a `when` rule compared.
    fn check<'d>(&self, doc: &'d Document) -> Option<(RuleKind, Vec<(String, Field<'d>)>)> {
        if let (Some(rule), Some(q)) = (&self.slow_query, doc.slow_query()) {
            if rule.matches(q) {
                return Some((RuleKind::SlowQuery, Vec::new()));
            }
        }
        if let Some(marker) = self.markers.iter().find(|m| doc.message.contains(m.as_str())) {
            return Some((RuleKind::Marker(marker.clone()), Vec::new()));
        }
        for rule in &self.when {
            let mut compared = Vec::with_capacity(rule.conditions.len());
            for condition in &rule.conditions {
                match condition.check(doc) {
                    Some(value) => compared.push((condition.field.clone(), value)),
                    None => break,
                }
            }
            if compared.len() == rule.conditions.len() {
                return Some((RuleKind::When(rule.text.clone()), compared));
            }
        }
        None
    }
}

impl SlowQueryRule {
    fn matches(&self, q: &SlowQuery) -> bool {
        q.query_time.is_some_and(|t| t >= self.seconds)
            && self.min_rows_examined.is_none_or(|min| q.rows_examined.is_some_and(|rows| rows >= min))
            && !q.user.as_ref().is_some_and(|user| self.ignore_users.contains(user))
            && !q.fingerprint_id.as_ref().is_some_and(|id| self.ignore_fingerprints.contains(id))
    }
}

/// A group of entries that make one message.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub rule: RuleKind,
    pub log_group: String,
    /// The fingerprint id for slow queries (empty for other rules): with the rule and the log
    /// group, what makes two entries one group (and one cooldown).
    pub key: String,
    /// Entries of this group held back by the cooldown since its last message.
    pub held_before: usize,
    /// Entries in the group.
    pub count: usize,
    /// `@timestamp` of the earliest and latest entry.
    pub first: String,
    pub last: String,
    /// Sum of `Query_time` over the group (slow queries).
    pub total_query_time: f64,
    /// The entry shown: the slowest query of the group, else the first entry.
    pub example: Example,
}

/// What a message shows of one entry.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Example {
    pub id: String,
    pub timestamp: String,
    pub log_stream: String,
    pub user: Option<String>,
    pub host: Option<String>,
    pub ip: Option<String>,
    pub query_time: Option<f64>,
    pub lock_time: Option<f64>,
    pub rows_examined: Option<i64>,
    pub rows_sent: Option<i64>,
    pub schema: Option<String>,
    pub fingerprint: Option<String>,
    pub fingerprint_id: Option<String>,
    /// `Query`, cut to a few KiB (already masked when `REDACT_QUERY_LITERALS` is on).
    pub query: Option<String>,
    /// `@message`, cut to a few KiB.
    pub message: String,
    /// The fields an `ALERT_WHEN` rule compared, with their values.
    pub matched: Vec<(String, String)>,
}

impl Example {
    fn of(doc: &Document, matched: Vec<(String, Field<'_>)>) -> Example {
        let mut example = Example {
            id: doc.id.clone(),
            timestamp: doc.timestamp.clone(),
            log_stream: doc.meta.log_stream.clone(),
            message: cut(&doc.message, EXAMPLE_BYTES),
            matched: matched.into_iter().map(|(name, value)| (name, cut(&value.show(), 200))).collect(),
            ..Example::default()
        };
        if let Some(q) = doc.slow_query() {
            example.user = q.user.clone();
            example.host = q.host.clone();
            example.ip = q.ip.map(|ip| ip.to_string());
            example.query_time = q.query_time;
            example.lock_time = q.lock_time;
            example.rows_examined = q.rows_examined;
            example.rows_sent = q.rows_sent;
            example.schema = q.schema.clone();
            example.fingerprint = q.fingerprint.as_deref().map(|f| cut(f, EXAMPLE_BYTES));
            example.fingerprint_id = q.fingerprint_id.clone();
            example.query = q.query.as_deref().map(|f| cut(f, EXAMPLE_BYTES));
        }
        example
    }
}

/// `text` cut to at most `max` bytes on a character boundary.
fn cut(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    text[..end].to_owned()
}

/// Collects an invocation's candidates (or a CLI run's) into groups.
pub struct Collector<'r> {
    rules: &'r Rules,
    groups: Vec<Group>,
    index: HashMap<(RuleKind, String, String), usize>,
    entries: usize,
    /// Entries of groups beyond [`MAX_GROUPS`].
    untracked_entries: usize,
}

/// What [`Collector::finish`] keeps: the messages to send, worst first, and what was left out.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Alerts {
    pub messages: Vec<Group>,
    /// Entries that matched a rule.
    pub entries: usize,
    /// Groups (and their entries) not given a message of their own: the "and N more" line.
    pub more_groups: usize,
    pub more_entries: usize,
    /// Groups held back because the same alert was sent a moment ago (`ALERT_COOLDOWN_SECONDS`).
    pub held_groups: usize,
}

impl<'r> Collector<'r> {
    pub fn new(rules: &'r Rules) -> Self {
        Collector { rules, groups: Vec::new(), index: HashMap::new(), entries: 0, untracked_entries: 0 }
    }

    /// Checks one document against the rules; a match joins (or starts) its group.
    pub fn observe(&mut self, doc: &Document) {
        if self.rules.is_empty() {
            return;
        }
        let Some((rule, matched)) = self.rules.check(doc) else { return };
        self.entries += 1;
        let key_part = match (&rule, doc.slow_query()) {
            (RuleKind::SlowQuery, Some(q)) => {
                q.fingerprint_id.clone().or_else(|| q.fingerprint.clone()).unwrap_or_default()
            }
            _ => String::new(),
        };
        let key = (rule, doc.meta.log_group.clone(), key_part);
        let query_time = doc.slow_query().and_then(|q| q.query_time);
        match self.index.get(&key) {
            Some(&at) => {
                let group = &mut self.groups[at];
                group.count += 1;
                group.total_query_time += query_time.unwrap_or(0.0);
                if doc.timestamp < group.first {
                    group.first.clone_from(&doc.timestamp);
                }
                if doc.timestamp > group.last {
                    group.last.clone_from(&doc.timestamp);
                }
                if query_time.is_some_and(|t| group.example.query_time.is_none_or(|worst| t > worst)) {
                    group.example = Example::of(doc, matched);
                }
            }
            None if self.groups.len() >= MAX_GROUPS => self.untracked_entries += 1,
            None => {
                self.index.insert(key.clone(), self.groups.len());
                self.groups.push(Group {
                    rule: key.0,
                    log_group: key.1,
                    key: key.2,
                    held_before: 0,
                    count: 1,
                    first: doc.timestamp.clone(),
                    last: doc.timestamp.clone(),
                    total_query_time: query_time.unwrap_or(0.0),
                    example: Example::of(doc, matched),
                });
            }
        }
    }

    /// Entries that matched so far.
    pub fn entries(&self) -> usize {
        self.entries
    }

    /// The groups worst first (slow queries by their slowest `Query_time`, then markers, then
    /// `when` rules, each by count), at most `max_messages` of them.
    pub fn finish(self, max_messages: usize) -> Alerts {
        self.finish_admitting(max_messages, |_| true)
    }

    /// [`Collector::finish`], keeping only the groups `admit` lets through (it may note things on
    /// them); the others are counted in [`Alerts::held_groups`], not in the "and N more" line.
    pub fn finish_admitting(self, max_messages: usize, mut admit: impl FnMut(&mut Group) -> bool) -> Alerts {
        let mut groups = self.groups;
        let before = groups.len();
        groups.retain_mut(|g| admit(g));
        let held_groups = before - groups.len();
        groups.sort_by(|a, b| {
            a.rule
                .rank()
                .cmp(&b.rule.rank())
                .then_with(|| {
                    let worst = |g: &Group| g.example.query_time.unwrap_or(0.0);
                    worst(b).total_cmp(&worst(a))
                })
                .then_with(|| b.count.cmp(&a.count))
        });
        let kept = groups.len().min(max_messages);
        let rest = groups.split_off(kept);
        Alerts {
            messages: groups,
            entries: self.entries,
            held_groups,
            more_groups: rest.len() + usize::from(self.untracked_entries > 0),
            more_entries: rest.iter().map(|g| g.count).sum::<usize>() + self.untracked_entries,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{DocumentBuilder, StreamMeta};
    use crate::event::LogEvent;

    const GROUP: &str = "/aws/rds/instance/prod-db-1/slowquery";

    fn entry(query_time: &str, user: &str, rows: u64, query: &str) -> String {
        format!(
            "# Time: 2026-11-21T10:15:31.402561Z\n# User@Host: {user}[{user}] @  [10.0.1.23]  Id: 8812\n\
             # Query_time: {query_time}  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: {rows}\n\
             use shop;\nSET timestamp=1795256131;\n{query};"
        )
    }

    fn docs(log_group: &str, messages: &[String]) -> Vec<Document> {
        let meta =
            StreamMeta { owner: "123456789012".into(), log_group: log_group.into(), log_stream: "prod-db-1".into() };
        let mut builder = DocumentBuilder::new("cwl", meta);
        messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                builder.build(LogEvent {
                    id: format!("{i}"),
                    timestamp: 1_795_256_131_000 + i as i64 * 1000,
                    message: m.clone(),
                    extracted_fields: None,
                })
            })
            .collect()
    }

    fn slow_rule(seconds: f64) -> Rules {
        Rules {
            slow_query: Some(SlowQueryRule {
                seconds,
                min_rows_examined: None,
                ignore_users: vec!["rdsadmin".into()],
                ignore_fingerprints: Vec::new(),
            }),
            ..Rules::default()
        }
    }

    fn matches(rules: &Rules, doc: &Document) -> bool {
        let mut collector = Collector::new(rules);
        collector.observe(doc);
        collector.entries() == 1
    }

    #[test]
    fn the_threshold_is_inclusive() {
        let rules = slow_rule(5.0);
        let cases = [("4.999999", false), ("5.000000", true), ("5", true), ("5.000001", true), ("120.5", true)];
        for (query_time, alerts) in cases {
            let doc = &docs(GROUP, &[entry(query_time, "app", 10, "SELECT 1")])[0];
            assert_eq!(matches(&rules, doc), alerts, "Query_time {query_time}");
        }
    }

    #[test]
    fn ignored_users_fingerprints_and_few_rows_do_not_alert() {
        let mut rules = slow_rule(1.0);
        let doc = &docs(GROUP, &[entry("9.5", "rdsadmin", 10, "SELECT 1")])[0];
        assert!(!matches(&rules, doc), "rdsadmin is ignored by default");
        let doc = &docs(GROUP, &[entry("9.5", "app", 999, "SELECT * FROM t WHERE id = 5")])[0];
        assert!(matches(&rules, doc));
        let rule = rules.slow_query.as_mut().unwrap();
        rule.min_rows_examined = Some(1000);
        assert!(!matches(&rules, doc), "999 rows examined is under the minimum");
        let doc_1000 = &docs(GROUP, &[entry("9.5", "app", 1000, "SELECT * FROM t WHERE id = 6")])[0];
        assert!(matches(&rules, doc_1000), "the minimum is inclusive");
        let id = doc_1000.slow_query().unwrap().fingerprint_id.clone().unwrap();
        rules.slow_query.as_mut().unwrap().ignore_fingerprints.push(id);
        assert!(!matches(&rules, doc_1000));
    }

    #[test]
    fn markers_and_when_rules_match_application_logs() {
        let meta = StreamMeta { owner: String::new(), log_group: "/aws/lambda/api".into(), log_stream: "s".into() };
        let mut builder = DocumentBuilder::new("cwl", meta);
        let mut build = |message: &str| {
            builder.build(LogEvent { id: "1".into(), timestamp: 0, message: message.into(), extracted_fields: None })
        };
        let rules = Rules {
            markers: parse_markers("[CRITICAL], [ALERT]").unwrap(),
            when: parse_when("status>=500 && path!=/health, level==\"FATAL ERROR\", http.code>=400").unwrap(),
            ..Rules::default()
        };
        let cases = [
            ("2026 [CRITICAL] disk full", Some(RuleKind::Marker("[CRITICAL]".into()))),
            ("[critical] lower case", None),
            (r#"{"status": 503, "path": "/orders"}"#, Some(RuleKind::When("status>=500 && path!=/health".into()))),
            (r#"{"status": "502", "path": "/orders"}"#, Some(RuleKind::When("status>=500 && path!=/health".into()))),
            (r#"{"status": 499, "path": "/orders"}"#, None),
            (r#"{"status": 503, "path": "/health"}"#, None),
            (r#"{"path": "/orders"}"#, None),
            (r#"{"level": "FATAL ERROR"}"#, Some(RuleKind::When("level==\"FATAL ERROR\"".into()))),
            (r#"{"http": {"code": 404}}"#, Some(RuleKind::When("http.code>=400".into()))),
            ("plain text status>=500", None),
        ];
        for (message, expected) in cases {
            let doc = build(message);
            assert_eq!(rules.check(&doc).map(|(rule, _)| rule), expected, "{message}");
        }
    }

    #[test]
    fn when_rules_see_slow_query_fields() {
        let rules = Rules { when: parse_when("Rows_examined>=1000000 && Schema==shop").unwrap(), ..Rules::default() };
        let doc = &docs(GROUP, &[entry("0.5", "app", 2_000_000, "SELECT 1")])[0];
        let (rule, compared) = rules.check(doc).unwrap();
        assert_eq!(rule, RuleKind::When("Rows_examined>=1000000 && Schema==shop".into()));
        let shown: Vec<(String, String)> = compared.into_iter().map(|(k, v)| (k, v.show())).collect();
        assert_eq!(shown, [("Rows_examined".to_owned(), "2000000".to_owned()), ("Schema".into(), "shop".into())]);
    }

    #[test]
    fn malformed_rules_are_refused_with_the_reason() {
        let cases = [
            ("status", "\"status\" is not `field op value`"),
            (">=500", "\">=500\" has no field name"),
            ("status>=", "\"status>=\" has no value"),
            ("level>error", "\"level>error\": > compares numbers, and \"error\" is not a number"),
            ("a b>=1", "field names are letters"),
            ("status>=500,", "an empty rule"),
        ];
        for (text, expected) in cases {
            let message = parse_when(text).unwrap_err().to_string();
            assert!(message.contains(expected), "{text}: {message}");
        }
        assert_eq!(parse_markers("[A],,[B]"), Err(RuleError::Empty));
    }

    #[test]
    fn groups_by_fingerprint_with_count_worst_and_time_range() {
        let messages = [
            entry("6.0", "app", 10, "SELECT * FROM orders WHERE id = 1"),
            entry("9.25", "app", 10, "SELECT * FROM orders WHERE id = 2"),
            entry("7.0", "app", 10, "select *  from orders where id = 3"),
            entry("5.5", "app", 10, "DELETE FROM carts WHERE id = 4"),
            entry("0.2", "app", 10, "SELECT * FROM orders WHERE id = 5"),
        ];
        let docs = docs(GROUP, &messages);
        let rules = slow_rule(5.0);
        let mut collector = Collector::new(&rules);
        docs.iter().for_each(|d| collector.observe(d));
        let alerts = collector.finish(5);
        assert_eq!(alerts.entries, 4);
        assert_eq!(alerts.messages.len(), 2);
        let orders = &alerts.messages[0];
        assert_eq!(orders.count, 3);
        assert_eq!(orders.example.query_time, Some(9.25), "the slowest is the example");
        assert_eq!(orders.example.query.as_deref(), Some("SELECT * FROM orders WHERE id = 2"));
        assert_eq!(
            (orders.first.as_str(), orders.last.as_str()),
            ("2026-11-21T10:15:31.000Z", "2026-11-21T10:15:33.000Z")
        );
        assert!((orders.total_query_time - 22.25).abs() < 1e-9);
        assert_eq!(alerts.messages[1].count, 1);
        assert_eq!((alerts.more_groups, alerts.more_entries), (0, 0));
    }

    #[test]
    fn the_cap_keeps_the_worst_and_counts_the_rest() {
        let messages: Vec<String> = (0..40)
            .map(|i| entry(&format!("{}.5", 5 + i % 13), "app", 10, &format!("SELECT c{i} FROM t{i}")))
            .collect();
        let docs = docs(GROUP, &messages);
        let rules = slow_rule(5.0);
        let mut collector = Collector::new(&rules);
        docs.iter().for_each(|d| collector.observe(d));
        let alerts = collector.finish(5);
        assert_eq!(alerts.messages.len(), 5);
        let worst: Vec<f64> = alerts.messages.iter().map(|g| g.example.query_time.unwrap()).collect();
        assert_eq!(worst, [17.5, 17.5, 17.5, 16.5, 16.5]);
        assert_eq!((alerts.entries, alerts.more_groups, alerts.more_entries), (40, 35, 35));
    }

    proptest::proptest! {
        #[test]
        fn any_rule_text_parses_or_is_refused_without_panicking(text in "[a-zé\"<>=!&,. 0-9]{0,40}") {
            if let Ok(rules) = parse_when(&text) {
                proptest::prop_assert!(rules.iter().all(|r| !r.conditions.is_empty()));
            }
            let _ = parse_markers(&text);
        }
    }

    #[test]
    fn groups_held_back_are_counted_apart_and_free_their_place_under_the_cap() {
        let messages = [
            entry("9", "app", 10, "SELECT * FROM held WHERE id = 1"),
            entry("8", "app", 10, "SELECT * FROM held WHERE id = 2"),
            entry("7", "app", 10, "SELECT * FROM a"),
            entry("6", "app", 10, "SELECT * FROM b"),
        ];
        let docs = docs(GROUP, &messages);
        let rules = slow_rule(5.0);
        let mut collector = Collector::new(&rules);
        docs.iter().for_each(|d| collector.observe(d));
        let alerts = collector.finish_admitting(2, |g| {
            g.held_before = 7;
            !g.example.query.as_deref().unwrap_or("").contains("held")
        });
        let queries: Vec<&str> = alerts.messages.iter().map(|g| g.example.query.as_deref().unwrap()).collect();
        assert_eq!(queries, ["SELECT * FROM a", "SELECT * FROM b"]);
        assert_eq!((alerts.held_groups, alerts.more_groups, alerts.entries), (1, 0, 4));
        assert_eq!(alerts.messages[0].held_before, 7);
    }

    #[test]
    fn no_rules_collect_nothing() {
        let docs = docs(GROUP, &[entry("100", "app", 10, "SELECT 1")]);
        let mut collector = Collector::new(&NO_RULES);
        collector.observe(&docs[0]);
        assert_eq!(collector.finish(5), Alerts::default());
    }
}
