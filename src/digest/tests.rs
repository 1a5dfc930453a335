//! The digest's unit tests: metrics and their percentiles, classes, the window and filter, tallies, timelines, the reports.
use super::report::{self, Options, Redaction};
use super::*;
use crate::alert::parse_when;

fn entry(time: &str, user: &str, query_time: f64, rows_examined: i64, sql: &str) -> String {
    format!(
        "# Time: {time}\n# User@Host: {user}[{user}] @  [10.0.0.{}]  Id: 7\n\
         # Query_time: {query_time:.6}  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: {rows_examined}\n\
         use shop;\nSET timestamp=1795256131;\n{sql};\n",
        user.len()
    )
}

fn digest_of(entries: &[String], selection: Selection) -> Digest {
    let mut digest = Digest::new(selection, Rules::default());
    for e in entries {
        digest.add(e);
    }
    digest
}

#[test]
fn exact_percentiles_are_nearest_rank() {
    let mut stat = Stat::default();
    for v in (1..=100).rev() {
        stat.add(f64::from(v));
    }
    assert!(stat.is_exact());
    assert_eq!((stat.count, stat.sum, stat.min, stat.max), (100, 5050.0, 1.0, 100.0));
    assert_eq!(stat.percentile(0.95), 95.0);
    assert_eq!(stat.percentile(0.5), 50.0);
    assert_eq!(stat.percentile(1.0), 100.0);
    assert_eq!(stat.percentile(0.0), 1.0);
    assert_eq!(stat.avg(), 50.5);
    assert!((stat.stddev() - 28.866).abs() < 0.001, "{}", stat.stddev());
}

#[test]
fn past_the_exact_limit_percentiles_stay_within_half_a_percent_and_memory_stops_growing() {
    let mut stat = Stat::default();
    let values: Vec<f64> = (0..200_000u64).map(|i| ((i * 7919) % 100_000) as f64 / 1000.0 + 0.001).collect();
    for &v in &values {
        stat.add(v);
    }
    assert!(!stat.is_exact());
    let mut sorted = values.clone();
    sorted.sort_by(f64::total_cmp);
    for p in [0.5, 0.95, 0.99] {
        let exact = sorted[(p * sorted.len() as f64).ceil() as usize - 1];
        let sketched = stat.percentile(p);
        assert!((sketched - exact).abs() <= exact * 0.005 + 1e-9, "p{p}: {sketched} vs exact {exact}");
    }
    assert_eq!(stat.count, 200_000);
    assert!((stat.sum - values.iter().sum::<f64>()).abs() < 1e-6);
    let Sketch::Buckets { counts, .. } = &stat.sketch else { unreachable!() };
    // 0.001 s to 100 s at 1 % per bucket: ln(1e5)/ln(1.01) ≈ 1157 buckets, whatever the count.
    assert!(counts.len() < 1200, "{} buckets", counts.len());
    // Zeros and values below a nanosecond have their own bucket; negative and NaN are not values.
    let mut zeros = Stat::default();
    for v in [0.0, -1.0, f64::NAN, f64::INFINITY] {
        zeros.add(v);
    }
    assert_eq!(zeros.count, 1);
    for _ in 0..EXACT_VALUES * 2 {
        zeros.add(0.0);
    }
    assert_eq!((zeros.percentile(0.95), zeros.max), (0.0, 0.0));
}

#[test]
fn entries_group_by_fingerprint_with_counts_totals_and_the_slowest_example() {
    let entries = vec![
        entry("2026-11-21T10:00:00Z", "app", 1.5, 100, "SELECT * FROM orders WHERE id = 1"),
        entry("2026-11-21T10:00:05Z", "app", 4.0, 300, "SELECT * FROM orders WHERE id = 22"),
        entry("2026-11-21T10:00:09Z", "etl", 0.5, 200, "select  *  from orders\n where id = 333"),
        entry("2026-11-21T10:01:00Z", "app", 9.0, 10, "UPDATE orders SET status = 'paid' WHERE id = 4"),
        "/rdsdbbin/mysql/bin/mysqld, Version: 8.0.39 (Source distribution). started with:\n".to_owned(),
    ];
    let digest = digest_of(&entries, Selection::default());
    assert_eq!(digest.overall.entries, 5);
    assert_eq!(digest.overall.queries, 4);
    assert_eq!(digest.overall.not_statements, 1);
    assert_eq!(digest.class_count(), 2);
    let ranked = digest.ranked(OrderBy::Total);
    let update = ranked[0];
    let select = ranked[1];
    assert_eq!(update.fingerprint, "update orders set status = ? where id = ?");
    assert_eq!((select.count, select.query_time.sum, select.query_time.max), (3, 6.0, 4.0));
    assert_eq!(select.rows_examined.sum, 600.0);
    assert_eq!(select.example.query, "SELECT * FROM orders WHERE id = 22");
    assert_eq!(select.example.query_time, Some(4.0));
    assert_eq!(select.users.values(), vec![("app", 2), ("etl", 1)]);
    assert_eq!(select.databases.values(), vec![("shop", 3)]);
    assert_eq!(select.first_ms, Some(1_795_255_200_000));
    assert_eq!(select.last_ms, Some(1_795_255_209_000));
    assert_eq!(select.fingerprint_id, crate::fingerprint::fingerprint_id(&select.fingerprint));
    // Ranked by the other keys.
    assert_eq!(digest.ranked(OrderBy::Count)[0].fingerprint_id, select.fingerprint_id);
    assert_eq!(digest.ranked(OrderBy::Max)[0].fingerprint_id, update.fingerprint_id);
    assert_eq!(digest.ranked(OrderBy::Avg)[0].fingerprint_id, update.fingerprint_id);
    assert_eq!(digest.ranked(OrderBy::RowsExamined)[0].fingerprint_id, select.fingerprint_id);
}

#[test]
fn the_window_and_the_filter_leave_entries_out_and_count_them() {
    let entries = vec![
        entry("2026-11-21T10:00:00Z", "app", 1.5, 100, "SELECT 1"),
        entry("2026-11-21T11:00:00Z", "app", 2.5, 100_000, "SELECT 2"),
        // No `# Time:` of its own: it takes the one before it (11:00), not its SET timestamp.
        "# User@Host: etl[etl] @  [10.0.0.1]\n# Query_time: 3.0  Lock_time: 0 Rows_sent: 0  Rows_examined: 5\nSELECT 3;\n"
            .to_owned(),
        entry("2026-11-21T12:00:00Z", "etl", 9.0, 100_000, "SELECT 4"),
    ];
    let since = Some(1_795_258_800_000); // 11:00
    let until = Some(1_795_262_400_000); // 12:00, exclusive
    let digest = digest_of(&entries, Selection { since_ms: since, until_ms: until, filter: Vec::new() });
    assert_eq!((digest.overall.queries, digest.overall.outside_window), (2, 2));
    assert_eq!(digest.overall.query_time.sum, 5.5);

    let filter = parse_when("Rows_examined>=100000 && User==app, Query_time>=8").unwrap();
    let digest = digest_of(&entries, Selection { filter, ..Selection::default() });
    assert_eq!((digest.overall.queries, digest.overall.filtered_out), (2, 2));
    assert_eq!(digest.overall.query_time.sum, 11.5);

    // With a window, an undated statement (no time before it either) is left out and counted.
    let undated = "# Query_time: 3.0  Lock_time: 0\nSELECT 3;\n".to_owned();
    let digest = digest_of(&[undated], Selection { since_ms: since, ..Selection::default() });
    assert_eq!((digest.overall.queries, digest.overall.undated), (0, 1));
}

#[test]
fn tallies_and_examples_are_bounded() {
    let mut tally = Tally::default();
    for i in 0..TALLY_VALUES + 5 {
        tally.add(&format!("user{i}"));
        tally.add("app");
    }
    assert_eq!(tally.values().len(), TALLY_VALUES);
    assert_eq!(tally.values()[0], ("app", (TALLY_VALUES + 5) as u64));
    assert_eq!(tally.others, 6);

    let long = format!("SELECT '{}é' FROM t", "x".repeat(EXAMPLE_BYTES));
    let digest = digest_of(&[entry("2026-11-21T10:00:00Z", "app", 1.0, 1, &long)], Selection::default());
    let class = digest.ranked(OrderBy::Total)[0];
    assert!(class.example.truncated);
    assert!(class.example.query.len() <= EXAMPLE_BYTES);
}

#[test]
fn postgresql_records_are_classes_of_their_own_engine() {
    let records = [
        "2026-11-21 10:00:00 UTC:10.0.0.9(5432):app@shop:[4242]:LOG:  duration: 1500.000 ms  statement: SELECT * FROM orders WHERE id = 1\n",
        "2026-11-21 10:00:01 UTC:10.0.0.9(5432):app@shop:[4242]:LOG:  duration: 500.000 ms  statement: SELECT * FROM orders WHERE id = 2\n",
        "2026-11-21 10:00:02 UTC:10.0.0.9(5432):app@shop:[4242]:LOG:  connection authorized: user=app database=shop\n",
    ];
    let digest = digest_of(&records.map(str::to_owned), Selection::default());
    assert_eq!((digest.overall.queries, digest.overall.not_statements, digest.class_count()), (2, 1, 1));
    let class = digest.ranked(OrderBy::Total)[0];
    assert_eq!(class.engine, Engine::Postgresql);
    assert_eq!(class.query_time.sum, 2.0);
    assert_eq!(class.databases.values(), vec![("shop", 2)]);
    assert_eq!(class.hosts.values(), vec![("10.0.0.9", 2)]);
}

#[test]
fn reports_rank_limit_and_mask_what_redaction_masks() {
    let entries = vec![
        entry("2026-11-21T10:00:00Z", "app", 1.0, 1, "SELECT * FROM users WHERE email = 'ann@example.com'"),
        entry("2026-11-21T10:00:01Z", "app", 2.0, 1, "DELETE FROM sessions WHERE token = 'abc123'"),
        entry("2026-11-21T10:00:02Z", "app", 3.0, 1, "UPDATE t SET a = 1"),
    ];
    let digest = digest_of(&entries, Selection::default());
    let options = Options {
        limit: 2,
        redaction: Redaction { literals: true, ..Redaction::default() },
        sources: vec![report::Source { name: "slow.log".to_owned(), bytes: 1234 }],
        ..Options::default()
    };
    let json = report::json(&digest, &options);
    assert_eq!(json["format"], report::JSON_FORMAT);
    assert_eq!(json["overall"]["statements"], 3);
    assert_eq!(json["classes"].as_array().unwrap().len(), 2);
    assert_eq!(json["classes"][0]["fingerprint"], "update t set a = ?");
    assert_eq!(json["classes"][1]["example"]["query"], "DELETE FROM sessions WHERE token = ?");
    assert_eq!(json["classes"][1]["share_of_time"], 2.0 / 6.0);
    assert_eq!(json["classes"][1]["query_time"]["p95"], 2.0);
    assert_eq!(json["rest"]["classes"], 1);
    assert_eq!(json["rest"]["count"], 1);
    let text = report::text(&digest, &options);
    assert!(!text.contains("abc123") && !text.contains("ann@example.com"), "{text}");
    assert!(text.contains("# MISC"), "{text}");
    let markdown = report::markdown(&digest, &options);
    assert_eq!(markdown.lines().filter(|l| l.starts_with("| ")).count(), 1 + 2 + 1, "{markdown}");

    // Without redaction the example is as logged.
    let json = report::json(&digest, &Options { limit: 3, ..Options::default() });
    assert_eq!(json["classes"][2]["example"]["query"], "SELECT * FROM users WHERE email = 'ann@example.com'");
}

#[test]
fn markdown_cells_cannot_break_the_table() {
    let digest = digest_of(
        &[entry("2026-11-21T10:00:00Z", "app", 1.0, 1, "SELECT a|b, `c` FROM t\nWHERE x = 1")],
        Selection::default(),
    );
    let markdown = report::markdown(&digest, &Options { limit: 5, ..Options::default() });
    let row = markdown.lines().find(|l| l.starts_with("| 1 |")).unwrap();
    assert!(row.contains(r"a\|b, 'c' from t where x = ?"), "{row}");
}

#[test]
fn a_wrapped_query_time_counts_the_statement_but_not_its_time() {
    let entries = [
        entry("2026-11-21T10:00:00Z", "app", 18_446_744_073_708.797, 1, "SELECT * FROM t"),
        entry("2026-11-21T10:00:01Z", "app", 2.0, 1, "SELECT * FROM t"),
    ];
    let digest = digest_of(&entries, Selection::default());
    let class = digest.ranked(OrderBy::Total)[0];
    assert_eq!((class.count, class.query_time.count, class.query_time.sum), (2, 1, 2.0));
    assert_eq!(digest.overall.implausible_times, 1);
    assert_eq!(digest.overall.query_time.max, 2.0);
}

#[test]
fn timelines_stay_bounded_and_keep_their_sum() {
    let mut timeline = Timeline::default();
    for minute in 0..10_000i64 {
        timeline.add(1_795_219_200_000 + minute * 60_000, 1.0);
    }
    assert!(timeline.sums.len() <= TIMELINE_BUCKETS);
    assert_eq!(timeline.sums.values().sum::<f64>(), 10_000.0);
    let resampled = timeline.resample(1_795_219_200_000, 1_795_219_200_000 + 10_000 * 60_000, 10);
    assert_eq!(resampled.iter().sum::<f64>(), 10_000.0);
    assert!(resampled.iter().all(|&v| v > 800.0 && v < 1200.0), "{resampled:?}");

    let entries = [
        entry("2026-11-21T10:00:00Z", "app", 1.0, 1, "SELECT 1"),
        entry("2026-11-21T11:00:00Z", "app", 3.0, 1, "SELECT 2"),
        entry("2026-11-21T11:30:00Z", "app", 1.0, 1, "UPDATE t SET a = 1"),
    ];
    let digest = digest_of(&entries, Selection::default());
    let chart = digest.chart(OrderBy::Total, 5);
    assert_eq!(chart.series.len(), 2);
    assert_eq!(chart.series[0].values.iter().sum::<f64>(), 4.0);
    assert_eq!(chart.series[0].values[0], 1.0);
}
