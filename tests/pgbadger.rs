//! Differential test against the real pgBadger (Debian's 12.0, `apt-get install pgbadger`): a
//! generated RDS PostgreSQL log of a few thousand records (simple and extended protocol, IN lists
//! of every length, doubled quotes, signed numbers, multi-line statements, errors) goes through our
//! `slowlog` and through `pgbadger -f rds -x json`. The number of statements, and per normalised
//! query the count, total and maximum duration, and the top 10 by total time agree.
//!
//! Justified differences, each handled below rather than hidden:
//! - pgBadger counts a prepared statement once, at its `execute`; we keep a document for each
//!   `parse`, `bind` and `execute` (each has its own duration), so the comparison takes our
//!   `statement` and `execute` documents (`Statement_kind`), as a pgBadger user would filter;
//! - the normalised texts are written differently (pgBadger keeps the final `;` and spaces around
//!   `(`; we drop them), so both are compared after the same canonical spacing;
//! - pgBadger keeps a `VALUES` tuple's placeholders (`values (?, ?)`), we write `values (...)`:
//!   the same class for single-row inserts (compared as such); a multi-row insert is one class for
//!   us whatever its row count, as pt-query-digest groups MySQL's, and one per row count for
//!   pgBadger (the generated log has none, so that difference is described, not measured).
//!
//! Skips where pgBadger is absent, unless `LTO_TOOLS_REQUIRED=1` (CI).

mod common;

use serde_json::Value;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::Command;

/// A small deterministic generator (xorshift), so the log is the same every run.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The log, and how many records it holds.
fn generate(records: usize) -> String {
    let mut r = Random(0x9E37_79B9_7F4A_7C15);
    let mut log = String::new();
    let words = ["new", "paid", "it''s", "o''brien", "shipped", "x y"];
    for i in 0..records {
        let (hour, minute, second) = (10 + i / 3600, (i / 60) % 60, i % 60);
        let pid = 4000 + r.below(8);
        let user = if r.below(4) == 0 { "report" } else { "app_rw" };
        let prefix = format!(
            "2026-11-20 {hour:02}:{minute:02}:{second:02} UTC:10.0.3.{}({}):{user}@orders:[{pid}]:",
            10 + pid % 5,
            40000 + r.below(20000)
        );
        // Durations in thousandths of a millisecond, as PostgreSQL prints them; a few are slow.
        let micros = if r.below(20) == 0 { 1_000_000 + r.below(9_000_000) } else { 10 + r.below(90_000) };
        let duration = format!("{}.{:03}", micros / 1000, micros % 1000);
        let statement = match r.below(7) {
            0 => format!("SELECT * FROM orders WHERE id = {}", r.below(100_000)),
            1 => {
                let items: Vec<String> = (0..1 + r.below(5)).map(|_| format!("'{}'", words[r.below(6) as usize])).collect();
                format!("SELECT * FROM orders WHERE customer_id = {} AND status IN ({})", r.below(500), items.join(", "))
            }
            2 => format!("UPDATE accounts SET balance = balance + {} WHERE id = {}", r.below(2000) as i64 - 1000, r.below(9000)),
            3 => format!("INSERT INTO events (kind, payload) VALUES ('{}', '{}')", words[r.below(6) as usize], words[r.below(6) as usize]),
            4 => format!("SELECT o.id,\n\t  o.total\n\tFROM orders o\n\tWHERE o.created_at > '2026-11-{:02}'\n\tORDER BY o.total DESC", 1 + r.below(28)),
            5 => format!("DELETE FROM sessions WHERE expires_at < now() - interval '{} days'", 1 + r.below(30)),
            _ => {
                // Extended protocol: parse, bind, execute, each with its duration; the values follow.
                let id = r.below(9000);
                for kind in ["parse", "bind"] {
                    writeln!(log, "{prefix}LOG:  duration: 0.{:03} ms  {kind} S_1: SELECT balance FROM accounts WHERE id = $1", r.below(999)).unwrap();
                }
                writeln!(log, "{prefix}LOG:  duration: {duration} ms  execute S_1: SELECT balance FROM accounts WHERE id = $1").unwrap();
                writeln!(log, "{prefix}DETAIL:  parameters: $1 = '{id}'").unwrap();
                continue;
            }
        };
        writeln!(log, "{prefix}LOG:  duration: {duration} ms  statement: {statement}").unwrap();
        if r.below(50) == 0 {
            writeln!(log, "{prefix}ERROR:  canceling statement due to statement timeout").unwrap();
            writeln!(log, "{prefix}STATEMENT:  {statement}").unwrap();
        }
    }
    log
}

/// The same spacing for both tools' normalised texts: lower case, one space, none around
/// brackets and commas, no final `;`, `in (...)` / `in(...)` alike.
fn canonical(text: &str) -> String {
    let mut out = String::new();
    for c in text.trim().trim_end_matches(';').to_lowercase().chars() {
        if c.is_whitespace() {
            if !out.ends_with(' ') {
                out.push(' ');
            }
        } else {
            if matches!(c, '(' | ')' | ',') && out.ends_with(' ') {
                out.pop();
            }
            out.push(c);
        }
    }
    let out = out.replace("( ", "(").replace(", ", ",");
    // pgBadger keeps a VALUES tuple's placeholders, we write `values (...)` (one class either way
    // for single-row inserts; see the module's list).
    match out.find("values(") {
        Some(at) if out[at + 7..].starts_with('?') => {
            let end = out[at..].find(')').map_or(out.len(), |e| at + e + 1);
            let inside = &out[at + 7..end - 1];
            if inside.split(',').all(|p| p == "?") {
                return format!("{}values(...){}", &out[..at], &out[end..]);
            }
            out
        }
        _ => out,
    }
}

#[derive(Debug, Default, PartialEq)]
struct Class {
    count: u64,
    /// Thousandths of a millisecond, so sums compare exactly.
    total: u64,
    max: u64,
}

fn micros(ms: f64) -> u64 {
    (ms * 1000.0).round() as u64
}

#[test]
fn statements_durations_and_the_top_ten_agree_with_pgbadger() {
    if !common::peer_tool("pgbadger", "pgbadger") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("lto-pgbadger-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let log = dir.join("postgresql.log.2026-11-20-10");
    std::fs::write(&log, generate(3000)).unwrap();

    // Ours: the documents `slowlog` makes, grouped by Fingerprint_id.
    let out = common::cli()
        .args(["slowlog", log.to_str().unwrap(), "--log-group", "/aws/rds/instance/pg-1/postgresql"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut ours: BTreeMap<String, Class> = BTreeMap::new();
    let mut names: BTreeMap<String, String> = BTreeMap::new();
    let (mut documents, mut parse_bind) = (0, 0);
    for line in String::from_utf8(out.stdout).unwrap().lines().skip(1).step_by(2) {
        let doc: Value = serde_json::from_str(line).unwrap();
        documents += 1;
        match doc["Statement_kind"].as_str() {
            Some("statement" | "execute") => {}
            Some("parse" | "bind") => {
                parse_bind += 1;
                continue;
            }
            _ => continue,
        }
        let Some(ms) = doc["Duration_ms"].as_f64() else { continue };
        let id = doc["Fingerprint_id"].as_str().unwrap().to_owned();
        names.insert(id.clone(), canonical(doc["Fingerprint"].as_str().unwrap()));
        let class = ours.entry(id).or_default();
        class.count += 1;
        class.total += micros(ms);
        class.max = class.max.max(micros(ms));
    }
    assert!(documents > 3000 && parse_bind > 0, "{documents} documents, {parse_bind} parse/bind");

    // pgBadger's.
    let report = dir.join("out.json");
    let run = Command::new("pgbadger")
        .args(["-f", "rds", "-x", "json", "-q", "-o", report.to_str().unwrap(), log.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(run.status.success(), "pgbadger: {}", String::from_utf8_lossy(&run.stderr));
    let report: Value = serde_json::from_str(&std::fs::read_to_string(&report).unwrap()).unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let mut theirs: BTreeMap<String, Class> = BTreeMap::new();
    // Keyed by pgBadger's report name (`postgres` for a single report), then by normalised query.
    let per_report = report["normalyzed_info"].as_object().expect("pgBadger's per-query figures");
    assert_eq!(per_report.len(), 1, "one report");
    let per_query = per_report.values().next().unwrap().as_object().unwrap();
    for (query, stats) in per_query {
        let number = |v: &Value| v.as_f64().or_else(|| v.as_str().and_then(|s| s.parse().ok())).unwrap();
        let class = theirs.entry(canonical(query)).or_default();
        class.count += stats["count"].as_u64().unwrap();
        class.total += micros(number(&stats["duration"]));
        class.max = class.max.max(micros(number(&stats["max"])));
    }

    // The number of statements.
    let statements: u64 = ours.values().map(|c| c.count).sum();
    assert_eq!(statements, report["overall_stat"]["queries_number"].as_u64().unwrap(), "statements counted");
    // The same classes, with the same count, total and maximum.
    let ours_by_text: BTreeMap<&str, &Class> = ours.iter().map(|(id, c)| (names[id].as_str(), c)).collect();
    let theirs_by_text: BTreeMap<&str, &Class> = theirs.iter().map(|(t, c)| (t.as_str(), c)).collect();
    assert_eq!(
        ours_by_text.keys().collect::<Vec<_>>(),
        theirs_by_text.keys().collect::<Vec<_>>(),
        "the same normalised queries"
    );
    for (text, class) in &ours_by_text {
        let theirs = theirs_by_text[text];
        assert_eq!(class.count, theirs.count, "count of {text}");
        // pgBadger sums in floating point and prints 3 decimals: a few thousandths of a ms apart at most.
        assert!(
            class.total.abs_diff(theirs.total) <= class.count,
            "total of {text}: {} vs {}",
            class.total,
            theirs.total
        );
        assert_eq!(class.max, theirs.max, "max of {text}");
    }
    // The top 10 by total time.
    let top = |classes: &BTreeMap<&str, &Class>| {
        let mut ranked: Vec<(&str, u64)> = classes.iter().map(|(t, c)| (*t, c.total)).collect();
        ranked.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        ranked.into_iter().take(10).map(|(t, _)| t.to_owned()).collect::<Vec<_>>()
    };
    assert_eq!(top(&ours_by_text), top(&theirs_by_text), "the top 10 by total time");
    assert!(ours_by_text.len() >= 6, "{} classes", ours_by_text.len());
}
