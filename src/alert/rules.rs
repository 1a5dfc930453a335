//! The alert rule language: the three rules (`SLOW_QUERY_ALERT_*`, `ALERT_MARKERS`,
//! `ALERT_WHEN`), parsing them ([`parse_when`], [`parse_markers`]) and checking a document against
//! them (which rule it matches first, with the fields a `when` rule compared). Pure.

use crate::document::{Body, Document};
use crate::slowlog::{FieldValue, SlowQuery};
use serde_json::Value;
use std::borrow::Cow;
use std::fmt;

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
pub(super) fn split_outside_quotes<'a>(text: &'a str, separator: &str) -> Vec<&'a str> {
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

pub(super) fn parse_condition(condition: &str) -> Result<Condition, RuleError> {
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
pub(super) enum Field<'a> {
    Number(f64),
    Text(Cow<'a, str>),
}

impl Field<'_> {
    pub(super) fn show(&self) -> String {
        match self {
            Field::Number(n) => n.to_string(),
            Field::Text(t) => t.to_string(),
        }
    }
}

/// The value of `name` in `doc`: meta fields, the typed slow-query fields, or the structured
/// fields (a dotted name reaches into nested objects).
pub(super) fn field<'a>(doc: &'a Document, name: &str) -> Option<Field<'a>> {
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

pub(super) fn slow_query_field<'a>(q: &'a SlowQuery, name: &str) -> Option<Field<'a>> {
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
        "Engine" => Some(Field::Text(Cow::Borrowed(q.engine.name()))),
        _ => q.extra.iter().find(|(key, _)| key == name).map(|(_, value)| match value {
            FieldValue::Int(n) => Field::Number(*n as f64),
            FieldValue::Float(n) => Field::Number(*n),
            FieldValue::Bool(b) => Field::Text(Cow::Borrowed(if *b { "true" } else { "false" })),
            FieldValue::Str(s) => Field::Text(Cow::Borrowed(s)),
            FieldValue::Json(v) => Field::Text(Cow::Owned(v.to_string())),
        }),
    }
}

impl WhenRule {
    /// Whether every condition holds for a slow-query entry on its own (no document around it:
    /// the `@` meta fields are absent). The digest's `--filter`.
    pub fn holds_for(&self, q: &SlowQuery) -> bool {
        self.conditions.iter().all(|c| slow_query_field(q, &c.field).and_then(|found| c.compare(found)).is_some())
    }
}

impl Condition {
    /// Whether the condition holds for `doc`; with the value it compared.
    fn check<'a>(&self, doc: &'a Document) -> Option<Field<'a>> {
        self.compare(field(doc, &self.field)?)
    }

    /// `found` when the condition holds for it.
    fn compare<'a>(&self, found: Field<'a>) -> Option<Field<'a>> {
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
    pub(super) fn rank(&self) -> u8 {
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
    pub(super) fn check<'d>(&self, doc: &'d Document) -> Option<(RuleKind, Vec<(String, Field<'d>)>)> {
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
    pub(super) fn matches(&self, q: &SlowQuery) -> bool {
        q.query_time.is_some_and(|t| t >= self.seconds)
            && self.min_rows_examined.is_none_or(|min| q.rows_examined.is_some_and(|rows| rows >= min))
            && !q.user.as_ref().is_some_and(|user| self.ignore_users.contains(user))
            && !q
                .fingerprint_id
                .as_ref()
                .is_some_and(|id| self.ignore_fingerprints.iter().any(|ignored| id.ends_with(ignored.as_str())))
    }
}
