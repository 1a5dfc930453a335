//! A [`Digest`] as a report: text that reads like pt-query-digest's (an overall header, the
//! profile table, then one block per class), JSON (stable, documented in the README: `format` is
//! `logs-to-opensearch-digest/1`, and a field is only ever added), or Markdown (a table to paste
//! into a ticket or a wiki). Pure.

use super::{Class, Digest, OrderBy, Stat, Tally};
use crate::fingerprint::Rules;
use crate::redact::{self, Patterns};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// The JSON report's `format`.
pub const JSON_FORMAT: &str = "logs-to-opensearch-digest/1";

/// What the report masks: `REDACT_QUERY_LITERALS` and `REDACT_PATTERNS`, as in the documents.
#[derive(Debug, Clone, Default)]
pub struct Redaction {
    pub literals: bool,
    pub patterns: Patterns,
    pub rules: Rules,
}

impl Redaction {
    fn text(&self, text: &str) -> String {
        let mut text = text.to_owned();
        if !self.patterns.is_empty() {
            self.patterns.apply(&mut text);
        }
        text
    }

    /// The example as shown: masked like a document's `Query`.
    fn example(&self, class: &Class) -> String {
        match self.literals {
            true => self.text(&redact::mask_literals(&class.example.query)),
            false => self.text(&class.example.query),
        }
    }

    /// The fingerprint as shown: a document's `Fingerprint` under the same settings.
    fn fingerprint(&self, class: &Class) -> String {
        if !self.literals {
            return self.text(&class.fingerprint);
        }
        let masked = if class.example.truncated || class.example.query.is_empty() {
            redact::mask_literals(&class.fingerprint)
        } else {
            crate::document::masked_fingerprint(class.engine, &redact::mask_literals(&class.example.query), self.rules)
        };
        self.text(&masked)
    }
}

/// A file read into the digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub name: String,
    /// Bytes read (after decompression).
    pub bytes: u64,
}

/// Everything a report needs besides the digest.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub order_by: OrderBy,
    /// Classes shown; the rest are summed in one line.
    pub limit: usize,
    pub redaction: Redaction,
    pub sources: Vec<Source>,
}

impl OrderBy {
    pub fn name(self) -> &'static str {
        match self {
            OrderBy::Total => "total",
            OrderBy::Count => "count",
            OrderBy::Max => "max",
            OrderBy::Avg => "avg",
            OrderBy::RowsExamined => "rows_examined",
        }
    }

    fn describe(self) -> &'static str {
        match self {
            OrderBy::Total => "total Query_time",
            OrderBy::Count => "count",
            OrderBy::Max => "largest Query_time",
            OrderBy::Avg => "mean Query_time",
            OrderBy::RowsExamined => "total Rows_examined",
        }
    }
}

/// An RFC 3339 UTC time (milliseconds kept when not zero).
pub fn time_text(ms: i64) -> String {
    match chrono::DateTime::from_timestamp_millis(ms) {
        Some(t) if ms % 1000 == 0 => t.format("%Y-%m-%dT%H:%M:%SZ").to_string(),
        Some(t) => t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(),
        None => ms.to_string(),
    }
}

/// Seconds for people: `0`, `12us`, `762ms`, `3.25s`, `1.2ks`.
pub fn seconds_text(s: f64) -> String {
    if s == 0.0 {
        "0".to_owned()
    } else if s < 1e-3 {
        format!("{:.0}us", s * 1e6)
    } else if s < 1.0 {
        format!("{:.0}ms", s * 1e3)
    } else if s < 1000.0 {
        format!("{s:.2}s")
    } else {
        format!("{:.1}ks", s / 1000.0)
    }
}

/// A count for people: `950`, `61.48k`, `2.10M`.
pub fn count_text(n: f64) -> String {
    if n < 1000.0 {
        if n.fract() == 0.0 {
            format!("{n:.0}")
        } else {
            format!("{n:.1}")
        }
    } else if n < 1e6 {
        format!("{:.2}k", n / 1e3)
    } else if n < 1e9 {
        format!("{:.2}M", n / 1e6)
    } else {
        format!("{:.2}G", n / 1e9)
    }
}

fn share(class: &Class, digest: &Digest) -> f64 {
    match digest.overall.query_time.sum {
        total if total > 0.0 => class.query_time.sum / total,
        _ => 0.0,
    }
}

/// The classes past the limit, summed.
struct Rest {
    classes: usize,
    count: u64,
    total: f64,
}

fn split<'d>(digest: &'d Digest, options: &Options) -> (Vec<&'d Class>, Rest) {
    let ranked = digest.ranked(options.order_by);
    let shown = ranked.len().min(options.limit);
    let rest = Rest {
        classes: ranked.len() - shown,
        count: ranked[shown..].iter().map(|c| c.count).sum(),
        total: ranked[shown..].iter().map(|c| c.query_time.sum).sum(),
    };
    (ranked[..shown].to_vec(), rest)
}

/// The text report.
pub fn text(digest: &Digest, options: &Options) -> String {
    let o = &digest.overall;
    let mut out = String::new();
    let files: Vec<String> = options.sources.iter().map(|s| format!("{} ({})", s.name, bytes_text(s.bytes))).collect();
    let _ = writeln!(out, "# logs-to-opensearch digest");
    let _ = writeln!(out, "# Files: {}", if files.is_empty() { "none".to_owned() } else { files.join(", ") });
    let _ = writeln!(
        out,
        "# Overall: {} statements, {} unique, in {} entries read",
        o.queries,
        digest.class_count(),
        o.entries
    );
    let mut left_out = Vec::new();
    for (n, what) in [
        (o.not_statements, "not statements"),
        (o.outside_window, "outside --since/--until"),
        (o.undated, "undated"),
        (o.filtered_out, "not matching --filter"),
    ] {
        if n > 0 {
            left_out.push(format!("{n} {what}"));
        }
    }
    if !left_out.is_empty() {
        let _ = writeln!(out, "# Left out: {}", left_out.join(", "));
    }
    if o.implausible_times > 0 {
        let _ = writeln!(
            out,
            "# {} statements counted without their time: Query_time or Lock_time over a year (the server's error)",
            o.implausible_times
        );
    }
    if let (Some(first), Some(last)) = (o.first_ms, o.last_ms) {
        let _ = writeln!(out, "# Time range: {} to {}", time_text(first), time_text(last));
    }
    attribute_table(&mut out, &[o.query_time.clone(), o.lock_time.clone()], &[&o.rows_sent, &o.rows_examined], true);

    let (shown, rest) = split(digest, options);
    let _ = writeln!(out, "\n# Profile, by {}", options.order_by.describe());
    let _ = writeln!(
        out,
        "# Rank Query ID                           Response time     Calls   R/Call   Engine      Fingerprint"
    );
    let _ = writeln!(
        out,
        "# ==== ================================== ================ ======= ======== ========== ==========="
    );
    for (rank, class) in shown.iter().enumerate() {
        let _ = writeln!(
            out,
            "# {:>4} 0x{:<32} {:>9.4} {:>5.1}% {:>7} {:>8.4} {:<10} {}",
            rank + 1,
            class.fingerprint_id,
            class.query_time.sum,
            share(class, digest) * 100.0,
            class.count,
            class.query_time.avg(),
            class.engine.name(),
            one_line(&options.redaction.fingerprint(class), 60)
        );
    }
    if rest.classes > 0 {
        let total = digest.overall.query_time.sum;
        let _ = writeln!(
            out,
            "# MISC 0x{:<32} {:>9.4} {:>5.1}% {:>7} {:>8.4} {:<10} <{} more classes>",
            "MISC",
            rest.total,
            if total > 0.0 { rest.total / total * 100.0 } else { 0.0 },
            rest.count,
            if rest.count > 0 { rest.total / rest.count as f64 } else { 0.0 },
            "",
            rest.classes
        );
    }
    for (rank, class) in shown.iter().enumerate() {
        let _ = writeln!(
            out,
            "\n# Query {}: 0x{} ({:.1}% of total Query_time, {} calls, {})",
            rank + 1,
            class.fingerprint_id,
            share(class, digest) * 100.0,
            class.count,
            class.engine.name()
        );
        if let (Some(first), Some(last)) = (class.first_ms, class.last_ms) {
            let _ = writeln!(out, "# First seen {}, last seen {}", time_text(first), time_text(last));
        }
        attribute_table(
            &mut out,
            &[class.query_time.clone(), class.lock_time.clone()],
            &[&class.rows_sent, &class.rows_examined],
            false,
        );
        for (label, tally, redact) in
            [("Users", &class.users, true), ("Hosts", &class.hosts, false), ("Databases", &class.databases, true)]
        {
            if let Some(line) = tally_text(tally, redact.then_some(&options.redaction)) {
                let _ = writeln!(out, "# {label:<9} {line}");
            }
        }
        let _ = writeln!(out, "# Fingerprint: {}", one_line(&options.redaction.fingerprint(class), 2000));
        let example = options.redaction.example(class);
        let mut about = Vec::new();
        if let Some(t) = class.example.query_time {
            about.push(seconds_text(t));
        }
        if let Some(ms) = class.example.time_ms {
            about.push(format!("at {}", time_text(ms)));
        }
        if let Some(db) = &class.example.database {
            about.push(format!("in {}", options.redaction.text(db)));
        }
        let _ = writeln!(out, "# Example (the slowest: {}):", about.join(" "));
        let _ = writeln!(out, "{}{}", example.trim_end(), if class.example.truncated { " /* … cut */" } else { "" });
    }
    out
}

fn bytes_text(bytes: u64) -> String {
    match bytes {
        b if b < 1 << 10 => format!("{b} B"),
        b if b < 1 << 20 => format!("{:.1} KiB", b as f64 / 1024.0),
        b if b < 1 << 30 => format!("{:.1} MiB", b as f64 / (1 << 20) as f64),
        b => format!("{:.2} GiB", b as f64 / (1 << 30) as f64),
    }
}

/// Up to `max` characters of `text` on one line (runs of whitespace as one space).
fn one_line(text: &str, max: usize) -> String {
    let joined = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if joined.chars().count() <= max {
        return joined;
    }
    let mut cut: String = joined.chars().take(max).collect();
    cut.push('…');
    cut
}

fn tally_text(tally: &Tally, redaction: Option<&Redaction>) -> Option<String> {
    let values = tally.values();
    if values.is_empty() {
        return None;
    }
    let mut parts: Vec<String> = values
        .iter()
        .map(|(v, n)| format!("{} ({n})", redaction.map_or_else(|| (*v).to_owned(), |r| r.text(v))))
        .collect();
    if tally.others > 0 {
        parts.push(format!("{} more", tally.others));
    }
    Some(parts.join(", "))
}

fn attribute_table(out: &mut String, times: &[Stat; 2], counts: &[&Stat; 2], with_stddev: bool) {
    let head = if with_stddev { "   stddev" } else { "" };
    let _ = writeln!(out, "# Attribute          total      min      max      avg      95%   median{head}");
    for (label, stat, is_time) in [
        ("Query_time", &times[0], true),
        ("Lock_time", &times[1], true),
        ("Rows_sent", counts[0], false),
        ("Rows_examined", counts[1], false),
    ] {
        if stat.count == 0 {
            continue;
        }
        let show = |v: f64| if is_time { seconds_text(v) } else { count_text(v) };
        let _ = write!(
            out,
            "# {label:<14} {:>8} {:>8} {:>8} {:>8} {:>8} {:>8}",
            show(stat.sum),
            show(stat.min),
            show(stat.max),
            show(stat.avg()),
            show(stat.percentile(0.95)),
            show(stat.percentile(0.5))
        );
        if with_stddev {
            let _ = write!(out, " {:>8}", show(stat.stddev()));
        }
        out.push('\n');
    }
}

fn stat_json(stat: &Stat) -> Value {
    json!({
        "count": stat.count,
        "total": stat.sum,
        "min": stat.min,
        "max": stat.max,
        "avg": stat.avg(),
        "median": stat.percentile(0.5),
        "p95": stat.percentile(0.95),
        "stddev": stat.stddev(),
        "exact": stat.is_exact(),
    })
}

fn tally_json(tally: &Tally, redaction: Option<&Redaction>) -> Value {
    Value::Array(
        tally
            .values()
            .into_iter()
            .map(|(v, n)| json!({"value": redaction.map_or_else(|| v.to_owned(), |r| r.text(v)), "count": n}))
            .collect(),
    )
}

fn time_json(ms: Option<i64>) -> Value {
    ms.map_or(Value::Null, |ms| Value::String(time_text(ms)))
}

/// The JSON report (one object; the README documents every field).
pub fn json(digest: &Digest, options: &Options) -> Value {
    let o = &digest.overall;
    let r = &options.redaction;
    let (shown, rest) = split(digest, options);
    let classes: Vec<Value> = shown
        .iter()
        .enumerate()
        .map(|(rank, c)| {
            json!({
                "rank": rank + 1,
                "fingerprint_id": c.fingerprint_id,
                "fingerprint": r.fingerprint(c),
                "engine": c.engine.name(),
                "count": c.count,
                "share_of_time": share(c, digest),
                "first_seen": time_json(c.first_ms),
                "last_seen": time_json(c.last_ms),
                "query_time": stat_json(&c.query_time),
                "lock_time": stat_json(&c.lock_time),
                "rows_sent": stat_json(&c.rows_sent),
                "rows_examined": stat_json(&c.rows_examined),
                "users": tally_json(&c.users, Some(r)),
                "users_others": c.users.others,
                "hosts": tally_json(&c.hosts, None),
                "hosts_others": c.hosts.others,
                "databases": tally_json(&c.databases, Some(r)),
                "databases_others": c.databases.others,
                "example": {
                    "query": r.example(c),
                    "truncated": c.example.truncated,
                    "query_time": c.example.query_time,
                    "time": time_json(c.example.time_ms),
                    "database": c.example.database.as_deref().map(|d| r.text(d)),
                },
            })
        })
        .collect();
    json!({
        "format": JSON_FORMAT,
        "files": options.sources.iter().map(|s| json!({"name": s.name, "bytes": s.bytes})).collect::<Vec<_>>(),
        "order_by": options.order_by.name(),
        "overall": {
            "entries": o.entries,
            "statements": o.queries,
            "classes": digest.class_count(),
            "not_statements": o.not_statements,
            "outside_window": o.outside_window,
            "undated": o.undated,
            "filtered_out": o.filtered_out,
            "implausible_times": o.implausible_times,
            "first_seen": time_json(o.first_ms),
            "last_seen": time_json(o.last_ms),
            "query_time": stat_json(&o.query_time),
            "lock_time": stat_json(&o.lock_time),
            "rows_sent": stat_json(&o.rows_sent),
            "rows_examined": stat_json(&o.rows_examined),
        },
        "classes": classes,
        "rest": {"classes": rest.classes, "count": rest.count, "query_time_total": rest.total},
    })
}

/// `|` and line breaks would end a Markdown table cell; backticks would end a code span.
fn cell(text: &str) -> String {
    one_line(text, 200).replace('\\', "\\\\").replace('|', "\\|").replace('`', "'")
}

/// The Markdown report: a summary line and the profile table.
pub fn markdown(digest: &Digest, options: &Options) -> String {
    let o = &digest.overall;
    let mut out = String::new();
    let _ = writeln!(out, "## Slow-query digest\n");
    let mut summary = format!(
        "{} statements in {} classes, {} total Query_time",
        o.queries,
        digest.class_count(),
        seconds_text(o.query_time.sum)
    );
    if let (Some(first), Some(last)) = (o.first_ms, o.last_ms) {
        let _ = write!(summary, ", {} to {}", time_text(first), time_text(last));
    }
    let _ = writeln!(out, "{summary}; ranked by {}.\n", options.order_by.describe());
    let _ = writeln!(
        out,
        "| Rank | Query ID | Engine | Calls | Total | Share | Avg | p95 | Max | Rows examined (avg) | Fingerprint |"
    );
    let _ = writeln!(out, "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|");
    let (shown, rest) = split(digest, options);
    for (rank, c) in shown.iter().enumerate() {
        let q = &c.query_time;
        let _ = writeln!(
            out,
            "| {} | `{}` | {} | {} | {} | {:.1}% | {} | {} | {} | {} | `{}` |",
            rank + 1,
            c.fingerprint_id,
            c.engine.name(),
            c.count,
            seconds_text(q.sum),
            share(c, digest) * 100.0,
            seconds_text(q.avg()),
            seconds_text(q.percentile(0.95)),
            seconds_text(q.max),
            count_text(c.rows_examined.avg()),
            cell(&options.redaction.fingerprint(c))
        );
    }
    if rest.classes > 0 {
        let _ = writeln!(
            out,
            "| | {} more classes | | {} | {} | | | | | | |",
            rest.classes,
            rest.count,
            seconds_text(rest.total)
        );
    }
    out
}
