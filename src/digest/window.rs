//! The scheduled digest's pure half: the `_search` bodies that ask OpenSearch for a window of
//! slow-query documents, reading their answers, and the Slack message and chart made from them.
//!
//! Three searches, each one `size: 0` request with aggregations:
//! 1. [`top_query`]: in the window, the top N `Fingerprint_id`s by total `Query_time`, each with
//!    its count, mean, 95th percentile, largest and an example (the slowest document's
//!    `Fingerprint`, `Engine`, `@log_group`), and a `date_histogram` of its `Query_time`; plus
//!    every id of the window (up to [`MAX_IDS`]) for the next two.
//! 2. [`previous_query`]: the same top ids in the window before, for the change.
//! 3. [`seen_before_query`]: which of the window's ids occur in the [`LOOKBACK_DAYS`] before it;
//!    the others are "new slow queries".

use super::chart::{Chart, Series};
use super::report::{seconds_text, time_text};
use crate::alert::slack::{discover_link, escaped_within};
use serde_json::{json, Value};

/// Ids of one window asked for (the "new" check looks at these).
pub const MAX_IDS: usize = 500;
/// How far back "never seen before" looks.
pub const LOOKBACK_DAYS: i64 = 30;
/// Buckets of the chart's histogram.
pub const BUCKETS: i64 = 30;
/// Fingerprints drawn in the chart.
pub const CHART_SERIES: usize = 5;

/// The window: `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub start_ms: i64,
    pub end_ms: i64,
}

impl Window {
    /// The window of `minutes` that ended at the last whole minute at or before `now_ms`.
    pub fn ending_at(now_ms: i64, minutes: i64) -> Window {
        let end_ms = now_ms - now_ms.rem_euclid(60_000);
        Window { start_ms: end_ms - minutes * 60_000, end_ms }
    }

    pub fn previous(self) -> Window {
        Window { start_ms: 2 * self.start_ms - self.end_ms, end_ms: self.start_ms }
    }

    /// The histogram's bucket, in whole seconds (at least one).
    pub fn interval_seconds(self) -> i64 {
        ((self.end_ms - self.start_ms) / 1000 / BUCKETS).max(1)
    }
}

fn range(window: Window) -> Value {
    json!({"range": {"@timestamp": {"gte": window.start_ms, "lt": window.end_ms, "format": "epoch_millis"}}})
}

/// Search 1: the top `top` classes of the window, with the histogram, and the window's ids.
pub fn top_query(window: Window, top: usize) -> Value {
    let interval = window.interval_seconds();
    // Buckets aligned on the window's start: `offset` moves them from the epoch's alignment.
    let offset = window.start_ms.rem_euclid(interval * 1000);
    json!({
        "size": 0,
        "query": {"bool": {"filter": [range(window), {"exists": {"field": "Fingerprint_id"}}]}},
        "aggs": {
            "top": {
                "terms": {"field": "Fingerprint_id", "size": top, "order": {"total": "desc"}},
                "aggs": {
                    "total": {"sum": {"field": "Query_time"}},
                    "avg": {"avg": {"field": "Query_time"}},
                    "max": {"max": {"field": "Query_time"}},
                    "p95": {"percentiles": {"field": "Query_time", "percents": [95]}},
                    "example": {"top_hits": {
                        "size": 1,
                        "sort": [{"Query_time": {"order": "desc"}}],
                        "_source": {"includes": ["Fingerprint", "Engine", "@log_group", "Query_time"]}
                    }},
                    "over_time": {
                        "date_histogram": {
                            "field": "@timestamp",
                            "fixed_interval": format!("{interval}s"),
                            "offset": format!("{offset}ms"),
                            "min_doc_count": 0,
                            "extended_bounds": {"min": window.start_ms, "max": window.end_ms - 1}
                        },
                        "aggs": {"total": {"sum": {"field": "Query_time"}}}
                    }
                }
            },
            "ids": {"terms": {"field": "Fingerprint_id", "size": MAX_IDS}}
        }
    })
}

/// Search 2: `ids` in the window before.
pub fn previous_query(window: Window, ids: &[String]) -> Value {
    json!({
        "size": 0,
        "query": {"bool": {"filter": [range(window.previous()), {"terms": {"Fingerprint_id": ids}}]}},
        "aggs": {"ids": {"terms": {"field": "Fingerprint_id", "size": ids.len().max(1)},
                         "aggs": {"total": {"sum": {"field": "Query_time"}}}}}
    })
}

/// Search 3: which of `ids` occur in the [`LOOKBACK_DAYS`] before the window.
pub fn seen_before_query(window: Window, ids: &[String]) -> Value {
    let before = Window { start_ms: window.start_ms - LOOKBACK_DAYS * 86_400_000, end_ms: window.start_ms };
    json!({
        "size": 0,
        "query": {"bool": {"filter": [range(before), {"terms": {"Fingerprint_id": ids}}]}},
        "aggs": {"ids": {"terms": {"field": "Fingerprint_id", "size": ids.len().max(1)}}}
    })
}

/// One class of the window.
#[derive(Debug, Clone, PartialEq)]
pub struct TopClass {
    pub fingerprint_id: String,
    pub fingerprint: String,
    pub engine: String,
    pub log_group: String,
    pub count: u64,
    pub total: f64,
    pub avg: f64,
    pub p95: f64,
    pub max: f64,
    /// Total `Query_time` per histogram bucket, oldest first.
    pub over_time: Vec<f64>,
    /// (count, total) in the window before; `None` when it did not occur then.
    pub previous: Option<(u64, f64)>,
}

/// The scheduled digest of one window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowDigest {
    pub window: Window,
    pub top: Vec<TopClass>,
    /// Every id of the window (at most [`MAX_IDS`]).
    pub ids: Vec<String>,
    /// Statements in the window, all classes.
    pub statements: u64,
    /// Ids of the window never seen in the [`LOOKBACK_DAYS`] before it, with their example.
    pub new: Vec<String>,
}

/// An answer that is not what the search asks for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the search answer has no {0} (not an aggregation answer from OpenSearch?)")]
pub struct AnswerError(pub &'static str);

fn number(value: &Value) -> f64 {
    value.as_f64().unwrap_or(0.0)
}

/// Reads search 1's answer.
pub fn read_top(window: Window, answer: &Value) -> Result<WindowDigest, AnswerError> {
    let aggs = answer.get("aggregations").ok_or(AnswerError("aggregations"))?;
    let buckets = aggs["top"]["buckets"].as_array().ok_or(AnswerError("aggregations.top.buckets"))?;
    let mut top = Vec::with_capacity(buckets.len());
    for b in buckets {
        let source = &b["example"]["hits"]["hits"][0]["_source"];
        let text = |v: &Value| match v {
            Value::String(s) => s.clone(),
            Value::Array(items) => items.first().and_then(Value::as_str).unwrap_or_default().to_owned(),
            _ => String::new(),
        };
        let p95 = b["p95"]["values"].as_object().and_then(|v| v.values().next()).map_or(0.0, number);
        top.push(TopClass {
            fingerprint_id: b["key"].as_str().ok_or(AnswerError("a bucket key"))?.to_owned(),
            fingerprint: text(&source["Fingerprint"]),
            engine: text(&source["Engine"]),
            log_group: text(&source["@log_group"]),
            count: b["doc_count"].as_u64().unwrap_or(0),
            total: number(&b["total"]["value"]),
            avg: number(&b["avg"]["value"]),
            p95,
            max: number(&b["max"]["value"]),
            over_time: b["over_time"]["buckets"]
                .as_array()
                .map(|h| h.iter().map(|x| number(&x["total"]["value"])).collect())
                .unwrap_or_default(),
            previous: None,
        });
    }
    let ids: Vec<String> = aggs["ids"]["buckets"]
        .as_array()
        .ok_or(AnswerError("aggregations.ids.buckets"))?
        .iter()
        .filter_map(|b| b["key"].as_str().map(str::to_owned))
        .collect();
    let statements = match &answer["hits"]["total"] {
        Value::Number(n) => n.as_u64().unwrap_or(0),
        total => total["value"].as_u64().unwrap_or(0),
    };
    Ok(WindowDigest { window, top, ids, statements, new: Vec::new() })
}

/// (id, count, total) of search 2's answer, or the ids of search 3's.
pub fn read_ids(answer: &Value) -> Result<Vec<(String, u64, f64)>, AnswerError> {
    let buckets = answer["aggregations"]["ids"]["buckets"].as_array().ok_or(AnswerError("aggregations.ids.buckets"))?;
    Ok(buckets
        .iter()
        .filter_map(|b| {
            Some((b["key"].as_str()?.to_owned(), b["doc_count"].as_u64().unwrap_or(0), number(&b["total"]["value"])))
        })
        .collect())
}

impl WindowDigest {
    /// Search 2's answer: each top class's (count, total) in the window before.
    pub fn set_previous(&mut self, previous: &[(String, u64, f64)]) {
        for class in &mut self.top {
            class.previous = previous
                .iter()
                .find(|(id, _, _)| *id == class.fingerprint_id)
                .map(|(_, count, total)| (*count, *total));
        }
    }

    /// Search 3's answer: the window's ids not among those seen before are new.
    pub fn set_seen_before(&mut self, seen: &[(String, u64, f64)]) {
        self.new = self.ids.iter().filter(|id| !seen.iter().any(|(s, _, _)| s == *id)).cloned().collect();
    }

    /// The chart of the top [`CHART_SERIES`] classes.
    pub fn chart(&self) -> Chart {
        let w = self.window;
        let minutes = w.interval_seconds() as f64 / 60.0;
        let shown = self.top.len().min(CHART_SERIES);
        let series = self.top[..shown]
            .iter()
            .enumerate()
            .map(|(i, c)| Series {
                label: format!(
                    "{} 0x{} {} total {}  {}",
                    i + 1,
                    c.fingerprint_id.get(..8).unwrap_or(&c.fingerprint_id),
                    c.engine,
                    seconds_text(c.total),
                    short(&c.fingerprint, 60)
                ),
                values: c.over_time.clone(),
            })
            .collect::<Vec<_>>();
        let buckets = series.iter().map(|s| s.values.len()).max().unwrap_or(0);
        let clock = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms).map_or(String::new(), |t| t.format("%H:%M").to_string())
        };
        let x_labels = if buckets > 1 {
            vec![
                (0, clock(w.start_ms)),
                (buckets / 2, clock((w.start_ms + w.end_ms) / 2)),
                (buckets - 1, clock(w.end_ms)),
            ]
        } else {
            vec![(0, clock(w.start_ms))]
        };
        Chart {
            title: format!(
                "Query_time per {} min, top {shown}, {} to {} UTC",
                if minutes.fract() == 0.0 { format!("{minutes:.0}") } else { format!("{minutes:.1}") },
                chrono::DateTime::from_timestamp_millis(w.start_ms)
                    .map_or(String::new(), |t| t.format("%Y-%m-%d %H:%M").to_string()),
                clock(w.end_ms)
            ),
            x_labels,
            series,
        }
    }

    /// The digest as plain text (what `digest --endpoint` prints without `--post`).
    pub fn text(&self) -> String {
        let w = self.window;
        let mut out = format!(
            "# Slow-query digest, {} to {}: {} statements in {} classes\n",
            time_text(w.start_ms),
            time_text(w.end_ms),
            self.statements,
            self.ids.len()
        );
        out.push_str("# Rank Query ID                           Calls     Total       Avg       p95       Max  Before  Fingerprint\n");
        for (i, c) in self.top.iter().enumerate() {
            let before = match c.previous {
                Some((_, before)) if before > 0.0 => format!("{:+.0}%", (c.total / before - 1.0) * 100.0),
                Some(_) => "0s".to_owned(),
                None if self.new.contains(&c.fingerprint_id) => "new".to_owned(),
                None => "-".to_owned(),
            };
            out.push_str(&format!(
                "# {:>4} 0x{:<32} {:>5} {:>9} {:>9} {:>9} {:>9} {:>7}  {}\n",
                i + 1,
                c.fingerprint_id,
                c.count,
                seconds_text(c.total),
                seconds_text(c.avg),
                seconds_text(c.p95),
                seconds_text(c.max),
                before,
                short(&c.fingerprint, 80)
            ));
        }
        if !self.new.is_empty() {
            out.push_str(&format!(
                "# New (not seen in the {LOOKBACK_DAYS} days before): {}\n",
                self.new.iter().map(|id| format!("0x{id}")).collect::<Vec<_>>().join(", ")
            ));
        }
        out
    }

    /// The Slack message (Block Kit), within Slack's limits: at most 50 blocks, section texts
    /// under 3,000 characters, everything from the cluster escaped.
    pub fn slack_payload(&self, dashboards: Option<&reqwest::Url>) -> Value {
        let w = self.window;
        let (from, to) = (time_text(w.start_ms), time_text(w.end_ms));
        let title = format!(
            "Slow-query digest: {} to {} UTC",
            from.replace('T', " ").trim_end_matches('Z'),
            to.get(11..16).unwrap_or(&to)
        );
        let mut blocks = vec![
            json!({"type": "header", "text": {"type": "plain_text", "text": escaped_within(&title, 150)}}),
            json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!(
                "{} slow statements in {} classes; the top {} by total Query_time, with the change against the {} before",
                self.statements, self.ids.len(), self.top.len(), duration_text(w.end_ms - w.start_ms))}]}),
        ];
        if self.top.is_empty() {
            blocks
                .push(json!({"type": "section", "text": {"type": "mrkdwn", "text": "No slow query in this window."}}));
        }
        for (i, c) in self.top.iter().enumerate().take(20) {
            let change = match c.previous {
                Some((_, before)) if before > 0.0 => format!("{:+.0}% total time", (c.total / before - 1.0) * 100.0),
                Some(_) => "no time before".to_owned(),
                None if self.new.contains(&c.fingerprint_id) => "*new*".to_owned(),
                None => "not in the window before".to_owned(),
            };
            let mut text = format!(
                "*{}.* `0x{}` {} · {} calls · total {} · avg {} · p95 {} · max {} · {}\n",
                i + 1,
                c.fingerprint_id,
                escaped_within(&c.engine, 20),
                c.count,
                seconds_text(c.total),
                seconds_text(c.avg),
                seconds_text(c.p95),
                seconds_text(c.max),
                change
            );
            text.push_str(&format!("```{}```", escaped_within(&c.fingerprint, 2400).replace("```", "`\u{200b}``")));
            let mut block = json!({"type": "section", "text": {"type": "mrkdwn", "text": text}});
            if let Some(base) = dashboards {
                let query = format!("Fingerprint_id:\"{}\"", c.fingerprint_id.replace('"', ""));
                block["accessory"] = json!({
                    "type": "button",
                    "text": {"type": "plain_text", "text": "Discover"},
                    "url": discover_link(base, &query, &from, &to),
                });
            }
            blocks.push(block);
        }
        if !self.new.is_empty() {
            let listed: Vec<String> = self
                .new
                .iter()
                .take(20)
                .map(|id| match self.top.iter().find(|c| c.fingerprint_id == *id) {
                    Some(c) => format!("• `0x{id}` {}", escaped_within(&short(&c.fingerprint, 100), 120)),
                    None => format!("• `0x{id}`"),
                })
                .collect();
            let more =
                if self.new.len() > 20 { format!("\n…and {} more", self.new.len() - 20) } else { String::new() };
            blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!(
                "*New slow queries* (not seen in the {LOOKBACK_DAYS} days before): {}\n{}{more}",
                self.new.len(), listed.join("\n"))}}));
        }
        json!({"text": title, "blocks": blocks})
    }
}

fn short(text: &str, max: usize) -> String {
    let one_line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() <= max {
        return one_line;
    }
    let mut cut: String = one_line.chars().take(max).collect();
    cut.push('…');
    cut
}

fn duration_text(ms: i64) -> String {
    match ms / 60_000 {
        m if m % 1440 == 0 => format!("{} day(s)", m / 1440),
        m if m % 60 == 0 => format!("{} hour(s)", m / 60),
        m => format!("{m} minutes"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer() -> Value {
        json!({
            "hits": {"total": {"value": 7, "relation": "eq"}},
            "aggregations": {
                "top": {"buckets": [
                    {"key": "AAA", "doc_count": 4, "total": {"value": 12.0}, "avg": {"value": 3.0}, "max": {"value": 6.0},
                     "p95": {"values": {"95.0": 6.0}},
                     "example": {"hits": {"hits": [{"_source": {"Fingerprint": "select <b> & ?", "Engine": "mysql", "@log_group": "/aws/rds/instance/db/slowquery"}}]}},
                     "over_time": {"buckets": [{"total": {"value": 6.0}}, {"total": {"value": 0.0}}, {"total": {"value": 6.0}}]}},
                    {"key": "BBB", "doc_count": 3, "total": {"value": 3.0}, "avg": {"value": 1.0}, "max": {"value": 1.5},
                     "p95": {"values": {"95.0": 1.5}},
                     "example": {"hits": {"hits": [{"_source": {"Fingerprint": "update t set a = ?", "Engine": "postgresql"}}]}},
                     "over_time": {"buckets": [{"total": {"value": 1.0}}, {"total": {"value": 1.0}}, {"total": {"value": 1.0}}]}}
                ]},
                "ids": {"buckets": [{"key": "AAA", "doc_count": 4}, {"key": "BBB", "doc_count": 3}]}
            }
        })
    }

    #[test]
    fn answers_become_the_digest_with_change_and_new_queries() {
        let window = Window::ending_at(1_795_258_830_123, 60);
        assert_eq!(window, Window { start_ms: 1_795_255_200_000, end_ms: 1_795_258_800_000 });
        assert_eq!(window.previous().end_ms, window.start_ms);
        let mut digest = read_top(window, &answer()).unwrap();
        assert_eq!(digest.statements, 7);
        assert_eq!(digest.top.len(), 2);
        assert_eq!((digest.top[0].count, digest.top[0].total, digest.top[0].p95), (4, 12.0, 6.0));
        assert_eq!(digest.top[0].over_time, vec![6.0, 0.0, 6.0]);
        digest.set_previous(&[("AAA".to_owned(), 2, 6.0)]);
        digest.set_seen_before(&[("AAA".to_owned(), 9, 0.0)]);
        assert_eq!(digest.top[0].previous, Some((2, 6.0)));
        assert_eq!(digest.new, vec!["BBB".to_owned()]);

        let base = reqwest::Url::parse("https://dash.example.com/_dashboards").unwrap();
        let payload = digest.slack_payload(Some(&base));
        let blocks = payload["blocks"].as_array().unwrap();
        let first = blocks[2]["text"]["text"].as_str().unwrap();
        assert!(first.contains("+100% total time"), "{first}");
        assert!(first.contains("select &lt;b&gt; &amp; ?"), "escaped: {first}");
        let url = blocks[2]["accessory"]["url"].as_str().unwrap();
        assert!(url.starts_with("https://dash.example.com/_dashboards/app/discover#/?"), "{url}");
        assert!(url.contains("Fingerprint_id"), "{url}");
        assert!(blocks[3]["text"]["text"].as_str().unwrap().contains("*new*"));
        assert!(blocks.last().unwrap()["text"]["text"].as_str().unwrap().contains("New slow queries"));
        assert!(blocks.len() <= 50);

        let chart = digest.chart();
        assert_eq!(chart.series.len(), 2);
        assert_eq!(chart.series[1].values, vec![1.0, 1.0, 1.0]);
    }

    #[test]
    fn the_queries_ask_for_the_window_and_the_ids() {
        let window = Window { start_ms: 1_000_000_000_000, end_ms: 1_000_003_600_000 };
        let q = top_query(window, 10);
        assert_eq!(q["aggs"]["top"]["terms"]["size"], 10);
        assert_eq!(q["query"]["bool"]["filter"][0]["range"]["@timestamp"]["lt"], 1_000_003_600_000i64);
        assert_eq!(q["aggs"]["top"]["aggs"]["over_time"]["date_histogram"]["fixed_interval"], "120s");
        let ids = vec!["AAA".to_owned()];
        assert_eq!(
            previous_query(window, &ids)["query"]["bool"]["filter"][0]["range"]["@timestamp"]["gte"],
            999_996_400_000i64
        );
        assert_eq!(
            seen_before_query(window, &ids)["query"]["bool"]["filter"][1]["terms"]["Fingerprint_id"],
            json!(["AAA"])
        );
        assert!(read_top(window, &json!({"error": "x"})).is_err());
    }
}
