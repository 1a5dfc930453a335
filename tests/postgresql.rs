//! RDS / Aurora PostgreSQL log records (real shapes, `tests/fixtures/postgresql/`, written as RDS's
//! fixed `log_line_prefix` writes them and checked against a real PostgreSQL 15's log): the typed
//! fields of each variant, the index, alerts, redaction, records sharing an event, and the
//! fingerprint's rules.

mod common;

use logs_to_opensearch::postgres::{self, normalize};
use logs_to_opensearch::slowlog::{Engine, FieldValue, SlowQuery};
use serde_json::Value;

fn record(name: &str) -> SlowQuery {
    let text = common::read_fixture(&format!("postgresql/{name}.log"));
    postgres::parse(&text).unwrap_or_else(|| panic!("{name} is not read as a record"))
}

/// `payload` as a subscription event through `replay` (a dry run): its stderr and its documents.
fn replay(payload: &Value, name: &str) -> (String, Vec<Value>) {
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("event.json");
    std::fs::write(&file, common::awslogs_event(payload).to_string()).unwrap();
    let out = common::cli().args(["replay", file.to_str().unwrap()]).output().unwrap();
    std::fs::remove_dir_all(&dir).ok();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stderr}");
    let docs = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .skip(1)
        .step_by(2)
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (stderr, docs)
}

fn extra<'a>(q: &'a SlowQuery, key: &str) -> Option<&'a FieldValue> {
    q.extra.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn text(q: &SlowQuery, key: &str) -> Option<String> {
    match extra(q, key) {
        Some(FieldValue::Str(s)) => Some(s.clone()),
        other => other.map(|v| format!("{v:?}")),
    }
}

#[test]
fn a_simple_protocol_statement_is_typed_with_the_prefixs_fields() {
    let q = record("statement");
    assert_eq!(q.engine, Engine::Postgresql);
    assert_eq!(q.time.as_deref(), Some("2026-11-20T10:24:10Z"));
    assert_eq!(q.time_ms, Some(1_795_170_250_000));
    assert_eq!(q.user.as_deref(), Some("app_rw"));
    assert_eq!(q.ip, Some("10.0.3.121".parse().unwrap()));
    assert_eq!(extra(&q, "Client_port"), Some(&FieldValue::Int(52314)));
    assert_eq!(text(&q, "Database").as_deref(), Some("orders"));
    assert_eq!(extra(&q, "Pid"), Some(&FieldValue::Int(12345)));
    assert_eq!(text(&q, "Severity").as_deref(), Some("LOG"));
    assert_eq!(extra(&q, "Duration_ms"), Some(&FieldValue::Float(4118.207)));
    assert_eq!(q.query_time, Some(4.118207), "seconds, the field MySQL documents have");
    assert_eq!(text(&q, "Statement_kind").as_deref(), Some("statement"));
    assert_eq!(q.query_type.as_deref(), Some("SELECT"));
    assert!(q.query.as_deref().unwrap().starts_with("SELECT o.id, o.total FROM orders o WHERE o.customer_id = 42"));
    assert_eq!(
        q.fingerprint.as_deref(),
        Some("select o.id, o.total from orders o where o.customer_id = ? and o.status in (...) order by o.created_at desc limit ?")
    );
    assert_eq!(q.fingerprint_id.as_ref().map(String::len), Some(32));
    assert!(q.warnings.is_empty(), "{:?}", q.warnings);
}

#[test]
fn extended_protocol_records_carry_their_kind_name_and_parameters() {
    let q = record("execute-with-parameters");
    assert_eq!(text(&q, "Statement_kind").as_deref(), Some("execute"));
    assert_eq!(text(&q, "Prepared_name").as_deref(), Some("S_1"));
    assert_eq!(q.query.as_deref(), Some("UPDATE accounts SET balance = balance + $1 WHERE id = $2"));
    assert_eq!(q.fingerprint.as_deref(), Some("update accounts set balance = balance + ? where id = ?"));
    assert_eq!(text(&q, "Parameters").as_deref(), Some("$1 = '-110', $2 = '82416'"));
    let parse = record("parse-unnamed");
    assert_eq!(
        (text(&parse, "Statement_kind").as_deref(), text(&parse, "Prepared_name").as_deref()),
        (Some("parse"), Some("<unnamed>"))
    );
    let bind = record("bind");
    assert_eq!(
        (text(&bind, "Statement_kind").as_deref(), text(&bind, "Prepared_name").as_deref()),
        (Some("bind"), Some("S_2"))
    );
    assert_eq!(parse.fingerprint_id, bind.fingerprint_id, "parse and bind of one statement group together");
    assert_eq!(bind.query_time, Some(0.000031));
}

#[test]
fn auto_explain_plans_give_the_query_and_the_plan_as_text_or_json() {
    let text_plan = record("plan-text");
    assert_eq!(text(&text_plan, "Statement_kind").as_deref(), Some("plan"));
    assert_eq!(text_plan.query.as_deref(), Some("select count(*) from orders where status = 'paid' and total > 100.5"));
    assert!(text(&text_plan, "Plan_text")
        .unwrap()
        .starts_with("Aggregate  (cost=16.95..16.96 rows=1 width=8)\n  ->  Seq Scan on orders"));
    let json_plan = record("plan-json");
    assert_eq!(json_plan.query.as_deref(), Some("SELECT region, sum(total) FROM orders GROUP BY region"));
    match extra(&json_plan, "Plan") {
        Some(FieldValue::Json(plan)) => assert_eq!(plan["Plan"]["Plans"][0]["Relation Name"], "orders"),
        other => panic!("the JSON plan is an object: {other:?}"),
    }
    assert_eq!(json_plan.query_time, Some(5.012118));
}

#[test]
fn bare_durations_errors_multi_line_statements_and_odd_clients() {
    let bare = record("duration-only");
    assert_eq!((bare.query_time, bare.query.as_deref(), text(&bare, "Statement_kind")), (Some(0.001012), None, None));
    let error = record("error-with-statement");
    assert_eq!(text(&error, "Severity").as_deref(), Some("ERROR"));
    assert_eq!(text(&error, "Error").as_deref(), Some("relation \"missing_table\" does not exist at character 15"));
    assert_eq!(error.query.as_deref(), Some("select * from missing_table"), "from the STATEMENT record");
    assert_eq!(error.query_time, None);
    let multi = record("multi-line-statement");
    assert_eq!(multi.query.as_deref(), Some("select aid,\n  abalance\nfrom pgbench_accounts\nwhere bid = 1\nlimit 3;"));
    assert_eq!(multi.fingerprint.as_deref(), Some("select aid, abalance from pgbench_accounts where bid = ? limit ?"));
    let local = record("local-socket");
    assert_eq!((local.host.as_deref(), local.ip, extra(&local, "Client_port")), (Some("[local]"), None, None));
    let ipv6 = record("ipv6-client");
    assert_eq!(ipv6.ip, Some("2001:db8:0:1::5".parse().unwrap()));
    assert_eq!(extra(&ipv6, "Client_port"), Some(&FieldValue::Int(50432)));
    let background = record("background-empty-user");
    assert_eq!((background.user.as_deref(), text(&background, "Database")), (None, None));
    assert!(text(&background, "Message").unwrap().starts_with("checkpoint complete"));
}

#[test]
fn the_prefix_is_refused_when_it_is_not_rds_s() {
    for line in [
        "2026-11-20 10:24:10 UTC:10.0.3.121(52314):app_rw@orders:[x]:LOG:  statement: select 1",
        "2026-11-20 10:24:10:10.0.3.121(52314):app_rw@orders:[1]:LOG:  statement: select 1",
        "# Time: 2026-11-20T10:24:10.000000Z",
        "2026-11-20 10:24:10 UTC:10.0.3.121(52314):app_rw orders:[1]:LOG:  statement: select 1",
        "",
    ] {
        assert!(postgres::prefix(line).is_none(), "{line:?}");
        assert!(postgres::parse(line).is_none(), "{line:?}");
    }
    let p = postgres::prefix("2026-11-20 10:24:10.123 +05:30:host-1.internal(4432):u@d:[7]:WARNING:  x").unwrap();
    assert_eq!(
        (p.time, p.zone, p.host, p.port, p.severity),
        ("2026-11-20 10:24:10.123", "+05:30", "host-1.internal", Some(4432), "WARNING")
    );
    let q = postgres::parse("2026-11-20 10:24:10.123 +05:30:host-1.internal(4432):u@d:[7]:WARNING:  x").unwrap();
    assert_eq!(q.time.as_deref(), Some("2026-11-20T10:24:10.123+05:30"));
    assert_eq!(q.host.as_deref(), Some("host-1.internal"));
    let q = postgres::parse("2026-11-20 10:24:10 CET:[local]:u@d:[7]:LOG:  statement: select 1").unwrap();
    assert!(q.time.is_none() && q.warnings[0].contains("CET"), "{q:?}");
}

/// The bundled event replays into the PostgreSQL log group's own daily index, typed; an `execute`
/// and its `DETAIL` delivered in one event are one document, a second statement in it another.
#[test]
fn the_event_replays_into_the_postgresql_index_and_records_in_one_event_split() {
    let out = common::cli()
        .args(["replay", common::fixture("events/rds-postgresql.json").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 24);
    for pair in lines.chunks(2) {
        assert_eq!(pair[0]["index"]["_index"], "cwl-aws-rds-instance-pg-1-postgresql-2026.11.20");
        assert_eq!(pair[1]["Engine"], "postgresql");
    }

    let together = format!(
        "{}{}",
        common::read_fixture("postgresql/execute-with-parameters.log"),
        common::read_fixture("postgresql/statement.log")
    );
    let payload = common::payload("/aws/rds/cluster/aurora-pg/postgresql", "aurora-pg-instance-1.0", &[&together]);
    let (_, docs) = replay(&payload, "lto-pg");
    assert_eq!(docs.len(), 2, "{docs:?}");
    assert_eq!(docs[0]["Parameters"], "$1 = '-110', $2 = '82416'");
    assert_eq!(docs[0]["Statement_kind"], "execute");
    assert_eq!(docs[1]["Statement_kind"], "statement");
    assert!(docs[1]["@id"].as_str().unwrap().ends_with("-1"));
}

#[test]
fn a_slow_postgresql_statement_alerts_like_a_mysql_one() {
    let out = common::cli()
        .env("SLOW_QUERY_ALERT_SECONDS", "3")
        .args(["replay", common::fixture("events/rds-postgresql.json").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    // 4.118 s, 5.012 s and 3.120 s reach the threshold; 2.31 s and 2.5 s do not.
    assert!(stderr.contains("alerts: 3 matching entries → 3 messages"), "{stderr}");
    assert!(stderr.contains("Slow query on pg-1: 5.012118 s"), "{stderr}");
    assert!(stderr.contains("select region, sum(total) from orders group by region"), "{stderr}");
}

#[test]
fn redaction_masks_statements_parameters_and_plans() {
    let out = common::cli()
        .env("REDACT_QUERY_LITERALS", "true")
        .args(["replay", common::fixture("events/rds-postgresql.json").to_str().unwrap()])
        .output()
        .unwrap();
    let body = String::from_utf8(out.stdout).unwrap();
    for secret in ["'paid'", "82416", "'new'", "100.5", "'7 days'"] {
        assert!(!body.contains(secret), "{secret} survived: {body}");
    }
    assert!(body.contains("\"Parameters\":\"$1 = ?, $2 = ?\""), "{body}");
    assert!(
        body.contains("10.0.3.121(52314):app_rw@orders:[12345]:LOG:  duration: 4118.207 ms  statement: SELECT"),
        "the prefix stays"
    );
}

#[test]
fn normalization_groups_what_pgbadger_and_pg_stat_statements_group() {
    let cases = [
        ("SELECT * FROM t WHERE id = 5", "select * from t where id = ?"),
        ("select *  from t\n where id=7;", "select * from t where id = ?"),
        ("SELECT * FROM t WHERE id = $1", "select * from t where id = ?"),
        ("SELECT * FROM t WHERE id IN (1, 2, 3)", "select * from t where id in (...)"),
        ("SELECT * FROM t WHERE id IN ($1,$2)", "select * from t where id in (...)"),
        ("INSERT INTO t (a, b) VALUES (1, 'x'), (2, 'y')", "insert into t(a, b) values (...)"),
        ("SELECT 'it''s', E'a\\'b', $$dollar 'quoted'$$, $tag$x$tag$ FROM t", "select ?, ?, ?, ? from t"),
        ("SELECT \"CamelCase\".\"Id\" FROM \"CamelCase\"", "select \"CamelCase\".\"Id\" from \"CamelCase\""),
        ("SELECT a -- the a\nFROM t /* note */ WHERE b = -1.5e-3", "select a from t where b = ?"),
        ("SELECT a - 1, x::int, now() - interval '1 day' FROM t", "select a - ?, x::int, now() - interval ? from t"),
        ("SELECT col_1 FROM orders_2024_01", "select col_1 from orders_2024_01"),
        ("UPDATE t SET a = a + $1 WHERE id = $2", "update t set a = a + ? where id = ?"),
    ];
    for (statement, expected) in cases {
        assert_eq!(normalize(statement), expected, "{statement}");
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    const PIECES: &[&str] = &[
        "2026-11-20 10:24:10 UTC:10.0.3.121(52314):app_rw@orders:[12345]:",
        "2026-11-20 10:24:10.5 +05:30:[local]:@:[1]:",
        "2026-11-20 10:24:10 UTC::@:[9]:",
        "2001:db8::5(1)",
        "LOG:  ",
        "DETAIL:  parameters: $1 = 'x'",
        "STATEMENT:  ",
        "ERROR:  ",
        "duration: ",
        "4118.207",
        " ms",
        "  statement: ",
        "  execute S_1: ",
        "  plan:",
        "\n",
        "\t",
        "{\"Query Text\": \"select 1\", \"Plan\": {}}",
        "select ",
        "'it''s'",
        "E'\\'",
        "$$",
        "$1",
        "-",
        "1e",
        "\"Q\"",
        "/*",
        "--",
        " in (",
        ")",
        ",",
        "é",
        "\u{0}",
        ":",
        "(",
        "[",
        "]",
        "@",
    ];

    fn text() -> impl Strategy<Value = String> {
        prop::collection::vec(prop::sample::select(PIECES), 0..40).prop_map(|p| p.concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        /// Arbitrary text in a PostgreSQL log group: no panic, and splitting loses nothing.
        #[test]
        fn no_panic_and_no_lost_text(text in text()) {
            let _ = postgres::parse(&text);
            let _ = normalize(&text);
            let _ = postgres::mask_records(&text);
            prop_assert_eq!(postgres::records(&text).concat(), text.clone());
            prop_assert_eq!(postgres::group(&text).concat(), text.clone());
            for group in postgres::group(&text) {
                if let Some(q) = postgres::parse(group) {
                    prop_assert_eq!(q.engine, Engine::Postgresql);
                    prop_assert!(q.query_time.is_none_or(|t| t.is_finite() && t >= 0.0));
                    prop_assert!(q.fingerprint_id.as_ref().is_none_or(|id| id.len() == 32));
                }
            }
        }
    }
}

/// A raw `postgresql.log` (as `aws rds download-db-log-file-portion` gives it) goes through
/// `slowlog` the same way: one document per record and its follow-ups, dated by its own prefix.
#[test]
fn a_raw_postgresql_log_file_backfills_through_slowlog() {
    let mut names: Vec<_> =
        std::fs::read_dir(common::fixture("postgresql")).unwrap().map(|e| e.unwrap().path()).collect();
    names.sort();
    let text: String = names.iter().map(|p| std::fs::read_to_string(p).unwrap()).collect();
    let dir = std::env::temp_dir().join(format!("lto-pg-file-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("postgresql.log.2026-11-20-10");
    std::fs::write(&file, &text).unwrap();
    let out = common::cli()
        .args(["slowlog", file.to_str().unwrap(), "--log-group", "/aws/rds/instance/pg-1/postgresql"])
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let docs: Vec<&Value> = lines.iter().skip(1).step_by(2).collect();
    assert_eq!(docs.len(), names.len(), "one document per fixture record group");
    for (action, doc) in lines.iter().step_by(2).zip(&docs) {
        assert_eq!(action["index"]["_index"], "cwl-aws-rds-instance-pg-1-postgresql-2026.11.20");
        assert_eq!(doc["Engine"], "postgresql");
        assert_eq!(
            doc["@timestamp"].as_str().unwrap()[..19],
            doc["Time"].as_str().unwrap()[..19],
            "dated by its prefix"
        );
    }
    let execute = docs.iter().find(|d| d["Statement_kind"] == "execute").unwrap();
    assert_eq!(execute["Parameters"], "$1 = '-110', $2 = '82416'", "the DETAIL record joined its execute");
    let error = docs.iter().find(|d| d["Severity"] == "ERROR").unwrap();
    assert_eq!(error["Query"], "select * from missing_table");
    assert!(docs.iter().any(|d| d["Plan"]["Plan"]["Node Type"] == "Aggregate"));
}

/// CloudWatch may give a record's `DETAIL` (or an `ERROR`'s `STATEMENT`, or even a continuation
/// line) an event of its own: it joins the record before it (same pid), so the record is still
/// one document with its `Parameters` / `Query`, and no text is lost.
#[test]
fn follow_ups_delivered_as_events_of_their_own_join_their_record() {
    let execute = common::read_fixture("postgresql/execute-with-parameters.log");
    let (execute_line, detail_line) = execute.split_once('\n').unwrap();
    let error = common::read_fixture("postgresql/error-with-statement.log");
    let (error_line, statement_line) = error.split_once('\n').unwrap();
    let multi = common::read_fixture("postgresql/multi-line-statement.log");
    let (multi_first, multi_rest) = multi.split_once('\n').unwrap();
    let other_pid = detail_line.replace("[12346]", "[99999]");
    let messages = [
        execute_line,
        detail_line,
        error_line,
        statement_line,
        multi_first,
        multi_rest,
        execute_line,
        other_pid.as_str(),
    ];
    let payload = common::payload("/aws/rds/instance/pg-1/postgresql", "pg-1.0", &messages);
    let (stderr, docs) = replay(&payload, "lto-pg-join");
    assert!(stderr.contains("8 events in 1 batch → 5 documents"), "{stderr}");
    assert_eq!(docs[0]["Parameters"], "$1 = '-110', $2 = '82416'");
    assert!(docs[0]["@message"].as_str().unwrap().contains("DETAIL:  parameters:"), "the joined text is kept");
    assert_eq!(
        (docs[1]["Severity"].as_str(), docs[1]["Query"].as_str()),
        (Some("ERROR"), Some("select * from missing_table"))
    );
    assert_eq!(docs[2]["Query"], "select aid,\n  abalance\nfrom pgbench_accounts\nwhere bid = 1\nlimit 3;");
    // A DETAIL of another backend does not join: its own document.
    assert!(docs[3].get("Parameters").is_none());
    assert_eq!((docs[4]["Severity"].as_str(), docs[4]["Pid"].as_i64()), (Some("DETAIL"), Some(99999)));
    assert_eq!(docs[4]["Parameters"], "$1 = '-110', $2 = '82416'");
}
