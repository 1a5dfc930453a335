//! The digest: slow-log entries grouped into classes by `Fingerprint_id`, with what pt-query-digest
//! reports per class (count, total / min / max / avg / median / 95th percentile of `Query_time` and
//! `Lock_time`, rows sent and examined, share of the total time, first and last seen, users, hosts
//! and databases, the fingerprint and the slowest example) and an overall header.
//!
//! Memory grows with the number of classes, never with the number of entries: each metric keeps
//! its values exactly up to [`EXACT_VALUES`], then folds them into a log-bucketed histogram whose
//! buckets are 1 % wide (a percentile read from it is within 0.5 % of the exact one); the tallies
//! of users, hosts and databases keep [`TALLY_VALUES`] distinct values and count the rest.
//!
//! Entries come from [`crate::slowlog_file::EntrySplitter`] (MySQL family and PostgreSQL alike);
//! [`Digest::add`] parses each one exactly as a document would be built, so a class here is the
//! set of documents with that `Fingerprint_id`. Pure: no I/O and no clock (the caller passes the
//! window). Rendering is in [`report`]. The scheduled digest asks OpenSearch instead
//! ([`window`], pure: the searches, their answers, the Slack message; [`chart`], the PNG;
//! [`scheduled`], the requests and Slack).

pub mod chart;
pub mod report;
pub mod scheduled;
pub mod window;

use crate::alert::WhenRule;
use crate::fingerprint::Rules;
use crate::slowlog::{Engine, FieldValue, SlowQuery};
use std::collections::{BTreeMap, HashMap};

/// Values a metric keeps exactly; past this it switches to its histogram.
pub const EXACT_VALUES: usize = 1024;
/// Distinct users (hosts, databases) a class names; further ones are counted as "others".
pub const TALLY_VALUES: usize = 16;
/// Bytes of a class's example query kept (pt-query-digest keeps the whole query; a 1 MB
/// multi-row INSERT is not worth holding per class).
pub const EXAMPLE_BYTES: usize = 64 * 1024;
/// Width of a histogram bucket: a value `v > 0` falls in bucket `floor(ln v / ln BUCKET_BASE)`.
const BUCKET_BASE: f64 = 1.01;
/// Values below this are zero for the histogram (a `Lock_time: 0.000000`).
const ZERO: f64 = 1e-9;
/// The longest `Query_time` / `Lock_time` taken as a measurement: a year, MySQL's largest
/// `long_query_time`. Longer ones are the server's own errors (a negative time written as an
/// unsigned number of microseconds: `Query_time: 18446744073708.796870`); one of them would
/// outweigh every real query, so it is left out of the times (the statement still counts).
pub const MAX_SECONDS: f64 = 31_536_000.0;

/// One numeric attribute of a set of entries (`Query_time`, `Rows_examined`, …).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Stat {
    pub count: u64,
    pub sum: f64,
    pub min: f64,
    pub max: f64,
    sum_squares: f64,
    sketch: Sketch,
}

#[derive(Debug, Clone, PartialEq)]
enum Sketch {
    Exact(Vec<f64>),
    /// `zero` values below [`ZERO`]; `counts[i]` values in `[BASE^i, BASE^(i+1))`.
    Buckets {
        zero: u64,
        counts: BTreeMap<i32, u64>,
    },
}

impl Default for Sketch {
    fn default() -> Self {
        Sketch::Exact(Vec::new())
    }
}

fn bucket(value: f64) -> i32 {
    // Clamped: values from 1e-300 to 1e300 are far past anything a log holds, and stay finite.
    (value.ln() / BUCKET_BASE.ln()).floor().clamp(-70_000.0, 70_000.0) as i32
}

impl Stat {
    /// Adds a value; a negative, infinite or NaN one is not a measurement and is left out.
    pub fn add(&mut self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        if self.count == 0 {
            (self.min, self.max) = (value, value);
        } else {
            self.min = self.min.min(value);
            self.max = self.max.max(value);
        }
        self.count += 1;
        self.sum += value;
        self.sum_squares += value * value;
        match &mut self.sketch {
            Sketch::Exact(values) if values.len() < EXACT_VALUES => values.push(value),
            Sketch::Exact(values) => {
                let mut counts = BTreeMap::new();
                let mut zero = 0;
                for v in values.iter().copied().chain([value]) {
                    if v < ZERO {
                        zero += 1;
                    } else {
                        *counts.entry(bucket(v)).or_insert(0) += 1;
                    }
                }
                self.sketch = Sketch::Buckets { zero, counts };
            }
            Sketch::Buckets { zero, counts } => {
                if value < ZERO {
                    *zero += 1;
                } else {
                    *counts.entry(bucket(value)).or_insert(0) += 1;
                }
            }
        }
    }

    /// The mean, 0 for no values.
    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            0.0
        } else {
            self.sum / self.count as f64
        }
    }

    /// The population standard deviation, 0 for fewer than two values.
    pub fn stddev(&self) -> f64 {
        if self.count < 2 {
            return 0.0;
        }
        let mean = self.avg();
        (self.sum_squares / self.count as f64 - mean * mean).max(0.0).sqrt()
    }

    /// Whether every value is still held exactly (percentiles are exact).
    pub fn is_exact(&self) -> bool {
        matches!(self.sketch, Sketch::Exact(_))
    }

    /// The nearest-rank percentile (`p` in 0..=1): the smallest value with at least `p` of the
    /// values at or below it; the median is `percentile(0.5)`. Exact while the values are held,
    /// else the middle of the value's 1 % bucket, kept within min and max. 0 for no values.
    pub fn percentile(&self, p: f64) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let rank = ((p.clamp(0.0, 1.0) * self.count as f64).ceil() as u64).clamp(1, self.count);
        match &self.sketch {
            Sketch::Exact(values) => {
                let mut sorted = values.clone();
                let k = (rank - 1) as usize;
                let (_, nth, _) = sorted.select_nth_unstable_by(k, f64::total_cmp);
                *nth
            }
            Sketch::Buckets { zero, counts } => {
                if rank <= *zero {
                    return 0.0_f64.max(self.min);
                }
                let mut seen = *zero;
                for (&index, &n) in counts {
                    seen += n;
                    if seen >= rank {
                        let middle = BUCKET_BASE.powf(f64::from(index) + 0.5);
                        return middle.clamp(self.min, self.max);
                    }
                }
                self.max
            }
        }
    }
}

/// The distinct values of one attribute in a class, with how often each was seen: at most
/// [`TALLY_VALUES`] of them; the entries with further values are counted in `others`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Tally {
    values: Vec<(String, u64)>,
    pub others: u64,
}

impl Tally {
    pub fn add(&mut self, value: &str) {
        if let Some((_, n)) = self.values.iter_mut().find(|(v, _)| v == value) {
            *n += 1;
        } else if self.values.len() < TALLY_VALUES {
            self.values.push((value.to_owned(), 1));
        } else {
            self.others += 1;
        }
    }

    /// The values, most seen first (ties by value).
    pub fn values(&self) -> Vec<(&str, u64)> {
        let mut values: Vec<(&str, u64)> = self.values.iter().map(|(v, n)| (v.as_str(), *n)).collect();
        values.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        values
    }
}

/// The slowest entry of a class (pt-query-digest's example is the one with the worst
/// `Query_time`; the first such one here).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Example {
    /// The statement as logged, at most [`EXAMPLE_BYTES`] (cut at a character boundary).
    pub query: String,
    /// Whether `query` was cut.
    pub truncated: bool,
    pub query_time: Option<f64>,
    pub time_ms: Option<i64>,
    pub database: Option<String>,
}

/// `Query_time` summed per time bucket, for the chart. Buckets start a minute wide; past
/// [`TIMELINE_BUCKETS`] of them the width doubles and neighbours merge, so a class holds at most
/// that many, however long the log runs.
#[derive(Debug, Clone, PartialEq)]
pub struct Timeline {
    pub width_ms: i64,
    pub sums: BTreeMap<i64, f64>,
}

/// Buckets a class's timeline keeps at most.
pub const TIMELINE_BUCKETS: usize = 512;

impl Default for Timeline {
    fn default() -> Self {
        Timeline { width_ms: 60_000, sums: BTreeMap::new() }
    }
}

impl Timeline {
    pub fn add(&mut self, time_ms: i64, seconds: f64) {
        *self.sums.entry(time_ms.div_euclid(self.width_ms)).or_insert(0.0) += seconds;
        while self.sums.len() > TIMELINE_BUCKETS {
            self.coarsen();
        }
    }

    fn coarsen(&mut self) {
        self.width_ms *= 2;
        let mut merged = BTreeMap::new();
        for (bucket, sum) in std::mem::take(&mut self.sums) {
            *merged.entry(bucket.div_euclid(2)).or_insert(0.0) += sum;
        }
        self.sums = merged;
    }

    /// The sums in `buckets` equal buckets over `[start_ms, end_ms)` (each of this timeline's
    /// buckets goes to the one holding its start).
    pub fn resample(&self, start_ms: i64, end_ms: i64, buckets: usize) -> Vec<f64> {
        let mut out = vec![0.0; buckets.max(1)];
        let span = (end_ms - start_ms).max(1) as f64;
        for (&bucket, &sum) in &self.sums {
            let at = bucket * self.width_ms;
            let i = (((at - start_ms) as f64 / span) * out.len() as f64).floor();
            let i = (i.max(0.0) as usize).min(out.len() - 1);
            out[i] += sum;
        }
        out
    }
}

/// The entries of one fingerprint.
#[derive(Debug, Clone, PartialEq)]
pub struct Class {
    pub fingerprint_id: String,
    pub fingerprint: String,
    pub engine: Engine,
    pub count: u64,
    pub query_time: Stat,
    pub lock_time: Stat,
    pub rows_sent: Stat,
    pub rows_examined: Stat,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
    pub users: Tally,
    pub hosts: Tally,
    pub databases: Tally,
    pub example: Example,
    /// `Query_time` over time (dated entries only).
    pub timeline: Timeline,
}

/// Counts and metrics over every entry in the digest.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Overall {
    /// Entries read (every entry of every file, whatever became of it).
    pub entries: u64,
    /// Entries in a class.
    pub queries: u64,
    /// Entries that are not statements: start-up banners, lines outside entries, PostgreSQL
    /// records without a statement (a connection log line, a bare `duration:`).
    pub not_statements: u64,
    /// Statements before `since` or at or after `until`.
    pub outside_window: u64,
    /// Statements without a time when a window was asked for (no entry before them had one).
    pub undated: u64,
    /// Statements that no rule of the filter matched.
    pub filtered_out: u64,
    /// Statements in a class whose `Query_time` or `Lock_time` was over [`MAX_SECONDS`] and left out.
    pub implausible_times: u64,
    pub query_time: Stat,
    pub lock_time: Stat,
    pub rows_sent: Stat,
    pub rows_examined: Stat,
    pub first_ms: Option<i64>,
    pub last_ms: Option<i64>,
}

/// Which statements go into the digest.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Milliseconds since the epoch: statements before this are left out.
    pub since_ms: Option<i64>,
    /// Statements at or after this are left out.
    pub until_ms: Option<i64>,
    /// `--filter`, in `ALERT_WHEN`'s language: a statement goes in when one of the rules holds
    /// (none: every statement).
    pub filter: Vec<WhenRule>,
}

/// The digest being built.
#[derive(Debug, Default)]
pub struct Digest {
    selection: Selection,
    rules: Rules,
    classes: HashMap<String, Class>,
    pub overall: Overall,
    /// The time of the last dated entry: an entry without a time of its own (MySQL writes
    /// `# Time:` only when the second changes) takes it.
    last_time: Option<i64>,
}

/// How the classes are ranked (`--order-by`); ties go to the higher count, then the id.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum OrderBy {
    /// Total `Query_time` (pt-query-digest's default, `Query_time:sum`).
    #[default]
    Total,
    Count,
    /// The largest `Query_time`.
    Max,
    /// The mean `Query_time`.
    Avg,
    /// Total `Rows_examined`.
    RowsExamined,
}

impl Digest {
    pub fn new(selection: Selection, rules: Rules) -> Digest {
        Digest { selection, rules, ..Digest::default() }
    }

    /// Reads one entry (a slow-log entry, or a PostgreSQL record with its follow-ups) and adds it
    /// to its class, when it is a statement the selection takes.
    pub fn add(&mut self, entry: &str) {
        self.overall.entries += 1;
        let parsed = if crate::postgres::looks_like(entry) {
            crate::postgres::parse(entry)
        } else {
            crate::slowlog::parse_with(entry, self.rules)
        };
        let own_time = parsed.as_ref().and_then(|q| q.time_ms).or_else(|| crate::slowlog_file::entry_time(entry));
        if own_time.is_some() {
            self.last_time = own_time;
        }
        let Some(q) = parsed.filter(|q| q.fingerprint_id.is_some()) else {
            self.overall.not_statements += 1;
            return;
        };
        let time = own_time.or(self.last_time);
        if self.selection.since_ms.is_some() || self.selection.until_ms.is_some() {
            let Some(time) = time else {
                self.overall.undated += 1;
                return;
            };
            if self.selection.since_ms.is_some_and(|since| time < since)
                || self.selection.until_ms.is_some_and(|until| time >= until)
            {
                self.overall.outside_window += 1;
                return;
            }
        }
        if !self.selection.filter.is_empty() && !self.selection.filter.iter().any(|rule| rule.holds_for(&q)) {
            self.overall.filtered_out += 1;
            return;
        }
        self.take(q, time);
    }

    fn take(&mut self, mut q: SlowQuery, time: Option<i64>) {
        let id = q.fingerprint_id.take().unwrap_or_default();
        let mut implausible = false;
        for t in [&mut q.query_time, &mut q.lock_time] {
            if t.is_some_and(|t| t > MAX_SECONDS) {
                *t = None;
                implausible = true;
            }
        }
        self.overall.implausible_times += u64::from(implausible);
        let overall = &mut self.overall;
        overall.queries += 1;
        add_measurements(
            &q,
            &mut overall.query_time,
            &mut overall.lock_time,
            &mut overall.rows_sent,
            &mut overall.rows_examined,
        );
        widen(&mut overall.first_ms, &mut overall.last_ms, time);

        let class = self.classes.entry(id).or_insert_with_key(|id| Class {
            fingerprint_id: id.clone(),
            fingerprint: q.fingerprint.clone().unwrap_or_default(),
            engine: q.engine,
            count: 0,
            query_time: Stat::default(),
            lock_time: Stat::default(),
            rows_sent: Stat::default(),
            rows_examined: Stat::default(),
            first_ms: None,
            last_ms: None,
            users: Tally::default(),
            hosts: Tally::default(),
            databases: Tally::default(),
            example: Example::default(),
            timeline: Timeline::default(),
        });
        if let (Some(t), Some(seconds)) = (time, q.query_time) {
            class.timeline.add(t, seconds);
        }
        class.count += 1;
        add_measurements(
            &q,
            &mut class.query_time,
            &mut class.lock_time,
            &mut class.rows_sent,
            &mut class.rows_examined,
        );
        widen(&mut class.first_ms, &mut class.last_ms, time);
        if let Some(user) = &q.user {
            class.users.add(user);
        }
        let host = q.ip.map(|ip| ip.to_string()).or_else(|| q.host.clone());
        if let Some(host) = host {
            class.hosts.add(&host);
        }
        let database = q.schema.clone().or_else(|| match q.extra.iter().find(|(k, _)| k == "Database") {
            Some((_, FieldValue::Str(db))) => Some(db.clone()),
            _ => None,
        });
        if let Some(db) = &database {
            class.databases.add(db);
        }
        let slower = match (q.query_time, class.example.query_time) {
            (Some(now), Some(before)) => now > before,
            (Some(_), None) => true,
            (None, _) => class.count == 1,
        };
        if slower {
            let mut query = q.query.take().unwrap_or_default();
            let truncated = query.len() > EXAMPLE_BYTES;
            if truncated {
                let mut cut = EXAMPLE_BYTES;
                while !query.is_char_boundary(cut) {
                    cut -= 1;
                }
                query.truncate(cut);
            }
            class.example = Example { query, truncated, query_time: q.query_time, time_ms: time, database };
        }
    }

    /// The chart of the top `series` classes by `order`, over the digest's time range.
    pub fn chart(&self, order: OrderBy, series: usize) -> chart::Chart {
        let (Some(first), Some(last)) = (self.overall.first_ms, self.overall.last_ms) else {
            return chart::Chart { title: "no dated statement".to_owned(), x_labels: Vec::new(), series: Vec::new() };
        };
        const BUCKETS: usize = 60;
        let end = last + 1;
        let top = self.ranked(order);
        let lines = top
            .iter()
            .take(series)
            .enumerate()
            .map(|(i, c)| chart::Series {
                label: format!(
                    "{} 0x{} {} total {}  {}",
                    i + 1,
                    c.fingerprint_id.get(..8).unwrap_or(&c.fingerprint_id),
                    c.engine.name(),
                    report::seconds_text(c.query_time.sum),
                    c.fingerprint.split_whitespace().collect::<Vec<_>>().join(" ").chars().take(60).collect::<String>()
                ),
                values: c.timeline.resample(first, end, BUCKETS),
            })
            .collect::<Vec<_>>();
        let label = |ms: i64| {
            chrono::DateTime::from_timestamp_millis(ms).map_or(String::new(), |t| t.format("%m-%d %H:%M").to_string())
        };
        let bucket_minutes = (end - first) as f64 / BUCKETS as f64 / 60_000.0;
        chart::Chart {
            title: format!(
                "Query_time per {bucket_minutes:.1} min, top {}, {} to {} UTC",
                lines.len(),
                label(first),
                label(last)
            ),
            x_labels: vec![(0, label(first)), (BUCKETS / 2, label((first + end) / 2)), (BUCKETS - 1, label(last))],
            series: lines,
        }
    }

    /// The number of classes so far.
    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    /// The classes, ranked by `order` (ties: higher count, then the id), best first.
    pub fn ranked(&self, order: OrderBy) -> Vec<&Class> {
        let mut classes: Vec<&Class> = self.classes.values().collect();
        let key = |c: &Class| match order {
            OrderBy::Total => c.query_time.sum,
            OrderBy::Count => c.count as f64,
            OrderBy::Max => c.query_time.max,
            OrderBy::Avg => c.query_time.avg(),
            OrderBy::RowsExamined => c.rows_examined.sum,
        };
        classes.sort_by(|a, b| {
            key(b).total_cmp(&key(a)).then(b.count.cmp(&a.count)).then(a.fingerprint_id.cmp(&b.fingerprint_id))
        });
        classes
    }
}

fn add_measurements(q: &SlowQuery, query_time: &mut Stat, lock_time: &mut Stat, sent: &mut Stat, examined: &mut Stat) {
    if let Some(t) = q.query_time {
        query_time.add(t);
    }
    if let Some(t) = q.lock_time {
        lock_time.add(t);
    }
    if let Some(n) = q.rows_sent {
        sent.add(n as f64);
    }
    if let Some(n) = q.rows_examined {
        examined.add(n as f64);
    }
}

fn widen(first: &mut Option<i64>, last: &mut Option<i64>, time: Option<i64>) {
    if let Some(t) = time {
        *first = Some(first.map_or(t, |f| f.min(t)));
        *last = Some(last.map_or(t, |l| l.max(t)));
    }
}

#[cfg(test)]
mod tests;
