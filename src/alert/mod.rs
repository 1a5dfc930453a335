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
//! The rule language is in `rules` (re-exported here); grouping and collection are this module's.
//! This module and [`slack`] are pure (no I/O, no clock); [`notify`] sends.

pub mod notify;
mod rules;
pub mod slack;

pub use rules::*;

use crate::document::Document;
use std::collections::HashMap;

/// Bytes of a query or message kept for the example of a group (the message shows less).
const EXAMPLE_BYTES: usize = 4096;
/// Groups tracked per invocation; entries of further groups are only counted, which bounds memory
/// when a batch holds thousands of distinct statements.
const MAX_GROUPS: usize = 1000;

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
        assert_eq!(id.len(), 32);
        // An id of an earlier release (the last 16 digits) still matches.
        rules.slow_query.as_mut().unwrap().ignore_fingerprints.push(id[16..].to_owned());
        assert!(!matches(&rules, doc_1000));
        rules.slow_query.as_mut().unwrap().ignore_fingerprints = vec![id[..16].to_owned()];
        assert!(matches(&rules, doc_1000), "only the tail is an old id");
        rules.slow_query.as_mut().unwrap().ignore_fingerprints = vec![id];
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
            .map(|i| {
                // Distinct shapes: letters, since numbers inside identifiers fingerprint as `?`.
                let name: String = [b'a' + i / 26, b'a' + i % 26].map(char::from).iter().collect();
                entry(&format!("{}.5", 5 + i % 13), "app", 10, &format!("SELECT c{name} FROM t{name}"))
            })
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
