//! The command-line face, driven as a user drives it: the real binary, real files, real stdin.

mod common;

use std::io::Write;
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    common::cli()
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A file in a fresh directory of its own (remove the directory when done).
fn temp_file(prefix: &str, name: &str, contents: &[u8]) -> (std::path::PathBuf, std::path::PathBuf) {
    let dir = std::env::temp_dir().join(format!("{prefix}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join(name);
    std::fs::write(&file, contents).unwrap();
    (dir, file)
}

fn ids(ndjson: &str) -> Vec<String> {
    ndjson
        .lines()
        .step_by(2)
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["index"]["_id"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn replay_prints_the_bulk_body_and_a_summary() {
    let out = run(&["replay", common::fixture("events/rds-mysql80-slowquery.json").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    common::assert_ndjson_eq(&text(&out.stdout), &common::read_fixture("expected/rds-mysql80-slowquery.ndjson"));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("5 events in 1 batch → 5 documents (5 slow queries"), "{stderr}");
    assert!(stderr.contains("no OpenSearch endpoint configured"), "{stderr}");
}

#[test]
fn replay_reads_standard_input() {
    let mut child = bin()
        .args(["replay", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let event = std::fs::read(common::fixture("events/rds-mysql80-slowquery.json")).unwrap();
    child.stdin.take().unwrap().write_all(&event).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    common::assert_ndjson_eq(&text(&out.stdout), &common::read_fixture("expected/rds-mysql80-slowquery.ndjson"));
}

#[test]
fn replay_re_drives_an_on_failure_destination_record() {
    let out = run(&["replay", common::fixture("events/on-failure-destination.json").to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(ids(&text(&out.stdout)).len(), 2);
}

#[test]
fn replay_says_it_skipped_a_control_message() {
    let out = run(&["replay", common::fixture("events/control-message.json").to_str().unwrap()]);
    assert!(out.status.success());
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("skipped 1 CloudWatch control message"), "{}", text(&out.stderr));
}

#[test]
fn replay_of_a_broken_event_fails_naming_the_file_and_the_layer() {
    let path = common::fixture("events/broken-gzip.json");
    let out = run(&["replay", path.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(path.to_str().unwrap()) && stderr.contains("awslogs.data: gzip layer: "), "{stderr}");
    assert_eq!(stderr.matches("invalid gzip header").count(), 1, "the cause once, not repeated: {stderr}");
    assert!(out.stdout.is_empty());
}

#[test]
fn replay_of_a_missing_or_non_json_file_says_so() {
    let out = run(&["replay", "/nonexistent/event.json"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("/nonexistent/event.json: cannot read the event file"), "{}", text(&out.stderr));

    let out = run(&["replay", common::fixture("entries/rds-mysql57-select.log").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("the event is not JSON"), "{}", text(&out.stderr));
}

#[test]
fn an_invalid_variable_is_refused_at_start_by_name() {
    let out = bin().env("INDEX_PREFIX", "Bad Prefix").args(["replay", "-"]).stdin(Stdio::null()).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("INDEX_PREFIX must be") && stderr.contains("\"Bad Prefix\""), "{stderr}");
}

#[test]
fn index_prefix_and_type_from_the_environment_reach_the_body() {
    let out = bin()
        .env("INDEX_PREFIX", "rds")
        .env("INDEX_TYPE", "_doc")
        .args(["replay", common::fixture("events/rds-mysql80-slowquery.json").to_str().unwrap()])
        .output()
        .unwrap();
    let first = text(&out.stdout).lines().next().unwrap().to_owned();
    assert_eq!(
        first,
        r#"{"index":{"_index":"rds-aws-rds-instance-prod-db-1-slowquery-2026.11.21","_type":"_doc","_id":"00000000000000000000000000000000000000001795256131402000"}}"#
    );
}

#[test]
fn slowlog_indexes_a_file_with_stable_ids() {
    let mut log = Vec::new();
    for name in ["startup-banner.log", "mysql80-log-slow-extra.log", "mariadb-10-verbose.log", "non-utf8-bytes.log"] {
        log.extend(std::fs::read(common::fixture(&format!("entries/{name}"))).unwrap());
    }
    let (dir, file) = temp_file("lto-cli", "mysql-slowquery.log", &log);

    let args = ["slowlog", file.to_str().unwrap(), "--log-group", "/aws/rds/instance/prod-db-1/slowquery"];
    let first = run(&args);
    assert!(first.status.success(), "{}", text(&first.stderr));
    let body = text(&first.stdout);
    let docs: Vec<serde_json::Value> =
        body.lines().skip(1).step_by(2).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(docs.len(), 4);
    assert!(docs[0].get("Query_time").is_none(), "the banner is a plain document");
    assert_eq!(docs[1]["Query_time"], 7.412893);
    assert_eq!(docs[1]["@timestamp"], "2026-11-21T10:15:31.402Z", "dated by its # Time: line");
    assert_eq!(docs[2]["Schema"], "analytics");
    assert_eq!(docs[3]["Query"], "SELECT * FROM people WHERE name = 'Ren\u{FFFD}e'");
    assert_eq!(docs[1]["@log_stream"], "mysql-slowquery.log", "log stream defaults to the file name");
    assert!(
        text(&first.stderr).contains("4 events in 1 batch → 4 documents (3 slow queries, 0 structured, 1 plain"),
        "{}",
        text(&first.stderr)
    );

    let again = run(&args);
    assert_eq!(ids(&text(&again.stdout)), ids(&body), "a re-run overwrites, never duplicates");
    let other_stream = run(&[&args[..], &["--log-stream", "prod-db-1"]].concat());
    assert_eq!(ids(&text(&other_stream.stdout)), ids(&body), "ids come from the entries, not the file's name");

    let batched = run(&[&args[..], &["--batch-size", "3"]].concat());
    assert!(text(&batched.stderr).contains("4 events in 2 batches"), "{}", text(&batched.stderr));
    assert_eq!(ids(&text(&batched.stdout)), ids(&body));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn slowlog_reads_a_whole_corpus_file() {
    let Some(dir) = common::percona_corpus() else {
        return;
    };
    let out = run(&["slowlog", dir.join("slow-pt-243.txt").to_str().unwrap(), "--log-group", "/corpus"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("3 events in 1 batch → 3 documents (2 slow queries, 0 structured, 1 plain"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn a_closed_pipe_ends_quietly() {
    // More output than a pipe buffer holds, read by nobody.
    let entry = common::read_fixture("entries/mysql80-log-slow-extra.log");
    let (dir, file) = temp_file("lto-pipe", "big.log", entry.repeat(2000).as_bytes());
    let mut child = bin()
        .args(["slowlog", file.to_str().unwrap(), "--log-group", "/g"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take()); // the reader goes away, like `| head -c 0`
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("error"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn slowlog_of_a_missing_file_names_it() {
    let out = run(&["slowlog", "/nonexistent/slow.log", "--log-group", "/g"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/nonexistent/slow.log: cannot open the slow-log file"),
        "{}",
        text(&out.stderr)
    );
}

#[test]
fn help_explains_the_commands_and_settings() {
    let out = run(&["--help"]);
    assert!(out.status.success());
    let help = text(&out.stdout);
    for needle in ["replay", "slowlog", "INDEX_PREFIX", "INDEX_TYPE", "AWS_LAMBDA_RUNTIME_API", "_bulk"] {
        assert!(help.contains(needle), "--help lacks {needle}:\n{help}");
    }
    let help = text(&run(&["slowlog", "--help"]).stdout);
    for needle in ["--log-group", "--log-stream", "download-db-log-file-portion", "duplicates"] {
        assert!(help.contains(needle), "slowlog --help lacks {needle}:\n{help}");
    }
    let missing = run(&["slowlog", "x.log"]);
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("--log-group"), "{}", text(&missing.stderr));
}

fn signed_for(standin: &common::standin::StandIn) -> Command {
    common::cli_signed_for(standin)
}

#[test]
fn replay_with_an_endpoint_sends_signed_and_prints_the_lambdas_summary() {
    let standin = common::standin::StandIn::start(common::standin::Auth::SigV4 { service: "es" });
    let out = signed_for(&standin)
        .args(["replay", common::fixture("events/rds-mysql80-slowquery.json").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(out.stdout.is_empty(), "nothing printed when sending");
    assert!(stderr.contains("5 events in 1 batch → 5 documents (5 slow queries"), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "sent to OpenSearch at {}/: 5 indexed, 0 dead-lettered, 0 failed, 0 retried; 1 requests",
            standin.url
        )),
        "{stderr}"
    );
    assert_eq!(standin.count("cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21"), 5);
}

#[test]
fn hourly_rotations_backfilled_under_one_stream_keep_every_entry() {
    // Issue: ids were hash(group, stream) + offset, so slow-11.log overwrote slow-10.log.
    let standin = common::standin::StandIn::start(common::standin::Auth::None);
    let hour = |h: u32| -> Vec<u8> {
        (0..3)
            .map(|i| format!("# Time: 2026-11-21T{h:02}:0{i}:01.000001Z\n# User@Host: app[app] @ [10.0.0.{i}]  Id: {i}\n# Query_time: 2.5  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 9\nSELECT {i};\n"))
            .collect::<String>()
            .into_bytes()
    };
    let mut said = Vec::new();
    for h in [10, 11] {
        let (dir, file) = temp_file(&format!("lto-rot-{h}"), "mysql-slowquery.log", &hour(h));
        let out = bin()
            .env("OPENSEARCH_AUTH", "none")
            .args(["--endpoint", &standin.url, "slowlog", file.to_str().unwrap()])
            .args(["--log-group", "/aws/rds/instance/prod-db-1/slowquery", "--log-stream", "prod-db-1"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        said.push(text(&out.stderr));
        std::fs::remove_dir_all(&dir).ok();
    }
    assert!(said.iter().all(|s| s.contains("3 indexed")), "{said:?}");
    assert_eq!(standin.count("cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21"), 6, "both hours kept");
}

#[test]
fn an_event_holding_two_entries_indexes_both_and_a_repeated_id_is_reported() {
    // Issue: replay / the Lambda folded the second entry into the first one's Query, and two
    // events with one id were reported as "2 indexed" while the cluster held one.
    let standin = common::standin::StandIn::start(common::standin::Auth::None);
    let two = "# Time: 2026-11-21T10:15:31.402Z\n# User@Host: app[app] @ [10.0.0.1]  Id: 3\n# Query_time: 1.5  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 9\nSELECT 1;\n# User@Host: batch[batch] @ [10.0.0.2]  Id: 4\n# Query_time: 99  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 9\nSELECT 2;";
    let one = common::read_fixture("entries/rds-mysql57-select.log");
    let mut payload = common::payload("/aws/rds/instance/prod-db-1/slowquery", "prod-db-1", &[two, &one, &one]);
    payload["logEvents"][2]["id"] = payload["logEvents"][1]["id"].clone();
    let event_id = payload["logEvents"][0]["id"].as_str().unwrap().to_owned();
    let (dir, file) = temp_file("lto-multi", "event.json", common::awslogs_event(&payload).to_string().as_bytes());
    let out = bin()
        .env("OPENSEARCH_AUTH", "none")
        .env("SLOW_QUERY_ALERT_SECONDS", "50")
        .args(["--endpoint", &standin.url, "replay", file.to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("3 events in 1 batch → 4 documents (4 slow queries"), "{stderr}");
    assert!(stderr.contains("1 document(s) repeated an id already in the batch"), "{stderr}");
    let index = "cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21";
    assert_eq!(standin.count(index), 3, "the repeated id is one document");
    let first = standin.document(index, &event_id).unwrap();
    assert_eq!((first["User"].as_str(), first["Query"].as_str()), (Some("app"), Some("SELECT 1")));
    let second = standin.document(index, &format!("{event_id}-1")).expect("the second entry has its own document");
    assert_eq!((second["User"].as_str(), second["Query_time"].as_f64()), (Some("batch"), Some(99.0)));
    assert!(
        stderr.contains("Slow query on prod-db-1: 99 s") && stderr.contains("User: batch"),
        "the second entry's alert: {stderr}"
    );
    std::fs::remove_dir_all(&dir).ok();
}

#[test]
fn slowlog_sends_in_batches_to_the_endpoint_from_the_environment() {
    let standin = common::standin::StandIn::start(common::standin::Auth::None);
    let out = bin()
        .env("OPENSEARCH_ENDPOINT", &standin.url)
        .env("OPENSEARCH_AUTH", "none")
        .env("OPENSEARCH_COMPRESSION", "gzip")
        .args(["slowlog", common::fixture("entries/multi-line-semicolons-in-strings.log").to_str().unwrap()])
        .args(["--log-group", "/aws/rds/instance/db-2/slowquery", "--batch-size", "1"])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    let indices = standin.indices();
    assert_eq!(indices.len(), 1, "{indices:?}");
    assert!(indices[0].starts_with("cwl-aws-rds-instance-db-2-slowquery-"), "{indices:?}");
    let count = standin.count(&indices[0]);
    assert!(count >= 1 && stderr.contains(&format!("{count} indexed")), "{stderr}");
    assert_eq!(standin.bulk_requests(), count, "one request per batch of one");
}

#[test]
fn a_cluster_that_stays_down_makes_the_cli_fail_with_the_reason() {
    let standin = common::standin::StandIn::start(common::standin::Auth::SigV4 { service: "es" });
    for _ in 0..200 {
        standin.script(common::standin::Fault::Status(503));
    }
    let out = signed_for(&standin)
        .args(["--retry-for", "1", "replay", common::fixture("events/rds-mysql80-slowquery.json").to_str().unwrap()])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("0 indexed, 0 dead-lettered, 5 failed"), "{stderr}");
    assert!(stderr.contains("error: 5 of 5 documents were neither indexed nor dead-lettered; first: 503"), "{stderr}");
}

#[test]
fn bad_delivery_settings_are_refused_at_start_naming_the_variable() {
    let out = bin().env("OPENSEARCH_AUTH", "iam").args(["replay", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("OPENSEARCH_AUTH must be one of sigv4, basic or none; got \"iam\""),
        "{}",
        text(&out.stderr)
    );
    let out = bin().args(["--endpoint", "http://127.0.0.1:9200", "replay", "-"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("AWS_REGION is required when OPENSEARCH_AUTH=sigv4"), "{}", text(&out.stderr));
}

fn rds_event() -> String {
    common::fixture("events/rds-mysql80-slowquery.json").to_str().unwrap().to_owned()
}

#[test]
fn alerts_are_printed_on_stderr_by_default_and_never_sent() {
    let slack = common::slack::SlackReceiver::start();
    let out = bin()
        .env("SLOW_QUERY_ALERT_SECONDS", "5")
        .env("SLACK_WEBHOOK_URL", &slack.url)
        .args(["replay", &rds_event()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("alert 1/2 (not sent; --alerts send sends it):\nSlow query on prod-db-1: 7.412893 s"),
        "{stderr}"
    );
    assert!(stderr.contains("alerts: 2 matching entries → 2 messages"), "{stderr}");
    assert!(slack.received().is_empty(), "print is the default: a backfill never spams a channel");
    common::assert_ndjson_eq(&text(&out.stdout), &common::read_fixture("expected/rds-mysql80-slowquery.ndjson"));

    let off =
        bin().env("SLOW_QUERY_ALERT_SECONDS", "5").args(["--alerts", "off", "replay", &rds_event()]).output().unwrap();
    assert!(!text(&off.stderr).contains("alert"), "{}", text(&off.stderr));
}

#[test]
fn alerts_send_posts_to_the_webhook_and_never_shows_its_url() {
    let slack = common::slack::SlackReceiver::start();
    let out = bin()
        .env("SLOW_QUERY_ALERT_SECONDS", "5")
        .env("SLACK_WEBHOOK_URL", &slack.url)
        .args(["--alerts", "send", "replay", &rds_event()])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(slack.received().len(), 2);
    assert!(text(&out.stderr).contains("(2 sent, 0 failed, 0 rate-limited)"), "{}", text(&out.stderr));

    // Slack fails: the run still succeeds, and nothing shown holds the webhook's secret part,
    // even at the most verbose log level.
    slack.script(common::http::Reply::Now(common::http::Response::text(500, "internal_error")));
    let out = bin()
        .env("SLOW_QUERY_ALERT_SECONDS", "5")
        .env("SLACK_WEBHOOK_URL", &slack.url)
        .env("RUST_LOG", "trace")
        .args(["--alerts", "send", "replay", &rds_event()])
        .output()
        .unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("Slack answered HTTP 500: internal_error"), "{stderr}");
    assert!(stderr.contains("(0 sent, 2 failed, 0 rate-limited)"), "{stderr}");
    assert!(!stderr.contains(common::slack::WEBHOOK_SECRET_PART), "{stderr}");
    assert!(!text(&out.stdout).contains(common::slack::WEBHOOK_SECRET_PART));
}

#[test]
fn alerts_send_without_a_webhook_or_a_rule_is_refused_at_start() {
    let out =
        bin().env("SLOW_QUERY_ALERT_SECONDS", "5").args(["--alerts", "send", "replay", &rds_event()]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("--alerts send needs a webhook: set SLACK_WEBHOOK_URL"),
        "{}",
        text(&out.stderr)
    );
    let out = bin()
        .env("SLACK_WEBHOOK_URL", "https://hooks.slack.com/services/T0/B0/secret")
        .args(["--alerts", "send", "replay", &rds_event()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--alerts send needs a rule"), "{}", text(&out.stderr));
}

#[test]
fn bad_alert_settings_are_refused_at_start_naming_the_variable() {
    let cases = [
        ("ALERT_WHEN", "level>error", "ALERT_WHEN: \"level>error\": > compares numbers, and \"error\" is not a number"),
        ("SLOW_QUERY_ALERT_SECONDS", "abc", "SLOW_QUERY_ALERT_SECONDS must be a positive number of seconds"),
        ("ALERT_MAX_MESSAGES", "0", "ALERT_MAX_MESSAGES must be a number of messages per invocation from 1 to 50"),
        ("ALERT_MARKERS", "[A],,[B]", "ALERT_MARKERS: an empty rule between separators"),
        ("DASHBOARDS_URL", "ftp://x", "DASHBOARDS_URL must be an http:// or https:// URL"),
    ];
    for (name, value, expected) in cases {
        let out = bin().env(name, value).args(["replay", &rds_event()]).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{name}");
        assert!(text(&out.stderr).contains(expected), "{name}: {}", text(&out.stderr));
    }
    let out = bin()
        .env("SLACK_WEBHOOK_URL", "http://hooks.slack.com/services/T0/B0/s3cr3t")
        .args(["replay", &rds_event()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains("SLACK_WEBHOOK_URL must be an incoming webhook URL") && !stderr.contains("s3cr3t"),
        "{stderr}"
    );
}

#[test]
fn slowlog_groups_alerts_over_the_whole_run() {
    let entry = |id: u32, seconds: &str| {
        format!(
            "# Time: 2026-11-21T10:15:{id:02}.000000Z\n# User@Host: app[app] @  [10.0.1.23]  Id: 1\n\
             # Query_time: {seconds}  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10\n\
             SET timestamp=1795256131;\nSELECT * FROM orders WHERE id = {id};\n"
        )
    };
    let file: String = (1..=12).map(|i| entry(i, if i == 7 { "42.5" } else { "6.0" })).collect();
    let (dir, path) = temp_file("alerts-slowlog", "slow.log", file.as_bytes());
    let out = bin()
        .env("SLOW_QUERY_ALERT_SECONDS", "5")
        .args([
            "slowlog",
            path.to_str().unwrap(),
            "--log-group",
            "/aws/rds/instance/db-9/slowquery",
            "--batch-size",
            "2",
        ])
        .output()
        .unwrap();
    std::fs::remove_dir_all(dir).ok();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert_eq!(stderr.matches("(not sent; --alerts send sends it)").count(), 1, "{stderr}");
    assert!(stderr.contains("Slow query on db-9: 42.5 s (slowest of 12)"), "{stderr}");
    assert!(stderr.contains("SELECT * FROM orders WHERE id = 7"), "{stderr}");
}

#[test]
fn a_backfill_against_a_dead_cluster_stops_once_and_resumes_where_it_stopped() {
    use common::standin::{Auth, Fault, StandIn};
    let standin = StandIn::start(Auth::None);
    let entry = common::read_fixture("entries/rds-mysql57-select.log");
    // 12 entries (identical ones get ids of their own), 4 batches of 3.
    let (dir, file) = temp_file("lto-resume", "slow.log", entry.repeat(12).as_bytes());
    let backfill = |extra: &[&str]| {
        let mut args = vec!["slowlog", file.to_str().unwrap(), "--log-group", "/aws/rds/instance/db/slowquery"];
        args.extend(["--batch-size", "3", "--retry-for", "2", "--endpoint", standin.url.as_str()]);
        // One request at a time: the scripted faults go to requests in the order they arrive.
        args.extend(["--requests-in-flight", "1"]);
        args.extend(extra);
        bin().env("OPENSEARCH_AUTH", "none").args(&args).output().unwrap()
    };
    let index = "cwl-aws-rds-instance-db-slowquery-2026.11.21";
    // The first batch is taken, then the cluster is gone.
    standin.script(Fault::Pass);
    for _ in 0..500 {
        standin.script(Fault::Status(503));
    }
    let started = std::time::Instant::now();
    let out = backfill(&[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        started.elapsed() < std::time::Duration::from_secs(6),
        "one retry budget for the run, not one per batch: {:?}",
        started.elapsed()
    );
    assert!(stderr.contains("the 3 entries before it are delivered"), "{stderr}");
    assert!(stderr.contains("--resume-from 3"), "{stderr}");
    assert!(stderr.contains("6 events in 2 batches"), "stopped after the second batch: {stderr}");
    assert_eq!(standin.count(index), 3);

    // The cluster is back: resume.
    standin.clear_faults();
    let out = backfill(&["--resume-from", "3"]);
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("9 events in 3 batches"), "{stderr}");
    assert_eq!(standin.count(index), 12, "every entry once");

    let out = backfill(&["--resume-from", "40"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("--resume-from 40, but the file holds 12 entries"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(dir).ok();
}

/// `slowlog` against a cluster that takes a while per request: as many requests in flight as
/// asked (2 by default), never more, every entry indexed once.
#[test]
fn a_backfill_keeps_the_requests_in_flight_it_is_given() {
    use common::standin::{Auth, StandIn};
    let entry = common::read_fixture("entries/rds-mysql57-select.log");
    let (dir, file) = temp_file("lto-in-flight", "slow.log", entry.repeat(12).as_bytes());
    for (asked, most) in [(None, 2), (Some("1"), 1), (Some("4"), 4)] {
        let standin = StandIn::start(Auth::None);
        standin.set_bulk_latency(std::time::Duration::from_millis(150));
        let mut args = vec!["slowlog", file.to_str().unwrap(), "--log-group", "/aws/rds/instance/db/slowquery"];
        args.extend(["--batch-size", "1", "--endpoint", standin.url.as_str()]);
        if let Some(asked) = asked {
            args.extend(["--requests-in-flight", asked]);
        }
        let out = bin().env("OPENSEARCH_AUTH", "none").args(&args).output().unwrap();
        let stderr = text(&out.stderr);
        assert!(out.status.success(), "{asked:?}: {stderr}");
        assert!(stderr.contains("12 indexed, 0 dead-lettered, 0 failed, 0 retried; 12 requests"), "{stderr}");
        assert_eq!(standin.count("cwl-aws-rds-instance-db-slowquery-2026.11.21"), 12);
        assert_eq!(standin.most_bulk_in_flight(), most, "--requests-in-flight {asked:?}");
    }
    let out = run(&["slowlog", file.to_str().unwrap(), "--log-group", "g", "--requests-in-flight", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--requests-in-flight"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(dir).ok();
}

/// A cluster whose write queue is full answers 429: the backfill halves its requests in flight
/// (and says so), each refused request waits and is sent again, and nothing is lost.
#[test]
fn a_backfill_sends_fewer_requests_at_once_after_a_429_and_loses_nothing() {
    use common::standin::{Auth, Fault, StandIn};
    let entry = common::read_fixture("entries/rds-mysql57-select.log");
    let (dir, file) = temp_file("lto-429", "slow.log", entry.repeat(16).as_bytes());
    let standin = StandIn::start(Auth::None);
    standin.set_bulk_latency(std::time::Duration::from_millis(50));
    for _ in 0..4 {
        standin.script(Fault::Status(429));
    }
    let mut args = vec!["slowlog", file.to_str().unwrap(), "--log-group", "/aws/rds/instance/db/slowquery"];
    args.extend(["--batch-size", "2", "--requests-in-flight", "4", "--endpoint", standin.url.as_str()]);
    let out = bin().env("OPENSEARCH_AUTH", "none").args(&args).output().unwrap();
    let stderr = text(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("16 indexed, 0 dead-lettered, 0 failed, 8 retried"),
        "four requests of two, once: {stderr}"
    );
    assert!(stderr.contains("the cluster answered 429 (too many requests): fewer requests in flight"), "{stderr}");
    assert!(stderr.contains("requests_in_flight=2") && stderr.contains("requests_in_flight=1"), "{stderr}");
    assert_eq!(standin.count("cwl-aws-rds-instance-db-slowquery-2026.11.21"), 16);
    std::fs::remove_dir_all(dir).ok();
}

/// With several requests in flight, a batch the cluster does not take stops the run at that
/// batch, in the file's order, whichever answer came first: the batches sent after it finish
/// (and are indexed), and `--resume-from` names the entries before the failed batch.
#[test]
fn a_backfill_with_requests_in_flight_stops_at_the_first_batch_not_taken() {
    use common::standin::{Auth, StandIn};
    let entry = common::read_fixture("entries/rds-mysql57-select.log");
    // The fifth entry's statement is over the cluster's request limit (and under BULK_MAX_BYTES,
    // so it is not cut): its batch, the second of four, cannot be taken whole.
    let big = entry.replace("'paid'", &format!("'{}'", "p".repeat(60_000)));
    let file: String = (0..12).map(|i| if i == 4 { big.as_str() } else { entry.as_str() }).collect();
    let (dir, file) = temp_file("lto-stop-in-flight", "slow.log", file.as_bytes());
    let standin = StandIn::start(Auth::None);
    standin.set_max_body_bytes(100_000);
    standin.set_bulk_latency(std::time::Duration::from_millis(100));
    let mut args = vec!["slowlog", file.to_str().unwrap(), "--log-group", "/aws/rds/instance/db/slowquery"];
    args.extend(["--batch-size", "3", "--requests-in-flight", "4", "--retry-for", "5"]);
    args.extend(["--endpoint", standin.url.as_str()]);
    let out = bin().env("OPENSEARCH_AUTH", "none").args(&args).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("12 events in 4 batches"), "the batches in flight finished: {stderr}");
    assert!(stderr.contains("11 indexed, 0 dead-lettered, 1 failed"), "{stderr}");
    assert!(stderr.contains("the 3 entries before it are delivered") && stderr.contains("--resume-from 3"), "{stderr}");
    assert_eq!(standin.count("cwl-aws-rds-instance-db-slowquery-2026.11.21"), 11);
    assert_eq!(standin.most_bulk_in_flight(), 4);
    std::fs::remove_dir_all(dir).ok();
}

/// Event files as people have them: with a byte-order mark, with base64 wrapped at 76 columns
/// (as `base64` writes it), several events one after another (NDJSON): each replays as the plain
/// event does, to the same bytes.
#[test]
fn replay_takes_a_bom_wrapped_base64_and_several_events_in_one_file() {
    let fixture = common::fixture("events/rds-mysql80-slowquery.json");
    let plain = run(&["replay", fixture.to_str().unwrap()]);
    assert!(plain.status.success());
    let plain_body = text(&plain.stdout);
    let event: serde_json::Value = serde_json::from_slice(&std::fs::read(&fixture).unwrap()).unwrap();
    let data = event["awslogs"]["data"].as_str().unwrap();
    let wrapped: Vec<String> = data.as_bytes().chunks(76).map(|c| String::from_utf8(c.to_vec()).unwrap()).collect();
    let wrapped_event = serde_json::json!({"awslogs": {"data": wrapped.join("\n")}});

    let mut with_bom = b"\xEF\xBB\xBF".to_vec();
    with_bom.extend(serde_json::to_vec_pretty(&wrapped_event).unwrap());
    let (dir, file) = temp_file("lto-bom", "event.json", &with_bom);
    let out = run(&["replay", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), plain_body, "a BOM and wrapped base64 change nothing");

    let ndjson = format!("{}\n{}\n", event, wrapped_event);
    std::fs::write(&file, ndjson).unwrap();
    let out = run(&["replay", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("{plain_body}{plain_body}"), "both events, in order");
    assert!(text(&out.stderr).contains("10 events in 2 batches"), "{}", text(&out.stderr));

    std::fs::write(&file, format!("{event}\n{{\"awslogs\": 1}}\n")).unwrap();
    let out = run(&["replay", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("event 2: cannot replay (the 1 before it were replayed)"),
        "{}",
        text(&out.stderr)
    );

    std::fs::write(&file, " \n").unwrap();
    let out = run(&["replay", file.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("holds no event"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(dir).ok();
}

/// Dead-lettered documents are kept, so the run exits 0, unless `--fail-on-dead-letter` asks for
/// status 3, which scripts can tell apart from 1 (not delivered) and 2 (usage).
#[test]
fn fail_on_dead_letter_makes_a_dead_lettered_run_exit_3() {
    let standin = common::standin::StandIn::start(common::standin::Auth::SigV4 { service: "es" });
    let slow = std::fs::read_to_string(common::fixture("entries/rds-mysql57-select.log")).unwrap();
    let conflicting = r#"{"Query_time": "very slow"}"#;
    let payload = common::payload("/aws/rds/instance/db-1/slowquery", "db-1", &[&slow, conflicting]);
    let (dir, file) =
        temp_file("lto-dead-letter", "event.json", common::awslogs_event(&payload).to_string().as_bytes());
    let path = file.to_str().unwrap();
    let out = common::cli_signed_for(&standin).args(["replay", path]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 indexed, 1 dead-lettered"), "{}", text(&out.stderr));
    // The dead-lettered item is reported once (not a WARN line and a `dead-lettered …` line).
    let id = payload["logEvents"][1]["id"].as_str().unwrap();
    let stderr = text(&out.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| l.contains(id)).collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    assert!(
        lines[0].starts_with("logs-to-opensearch: dead-lettered ") && lines[0].contains("mapper_parsing_exception"),
        "{lines:?}"
    );
    let out = common::cli_signed_for(&standin).args(["--fail-on-dead-letter", "replay", path]).output().unwrap();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("1 of 2 documents were dead-lettered"), "{}", text(&out.stderr));
    std::fs::remove_dir_all(dir).ok();
}

/// The README's exit-status table and `--help` list the same codes, and the binary uses them
/// (the tests above check 0, 1, 2 and 3 each).
#[test]
fn the_readme_and_help_agree_on_exit_statuses() {
    let readme = common::readme();
    let table: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("| status | meaning |"))
        .skip(2)
        .take_while(|l| l.starts_with("| `"))
        .map(|l| l.trim_start_matches("| `").split('`').next().unwrap())
        .collect();
    assert_eq!(table, ["0", "1", "2", "3"]);
    let help = text(&run(&["--help"]).stdout);
    let line = help.lines().skip_while(|l| !l.starts_with("Exit status:")).take(3).collect::<Vec<_>>().join(" ");
    for (code, words) in [
        ("0", "indexed or dead-lettered"),
        ("1", "some were"),
        ("2", "invalid configuration"),
        ("3", "--fail-on-dead-letter"),
    ] {
        assert!(
            line.contains(&format!("{code} ")) && line.contains(words),
            "--help's exit status lacks {code} ({words}): {line}"
        );
    }
}

/// A negative (or year-9999) CloudWatch timestamp does not make a 1969 index: the entry's own
/// time dates the document, else the time it was received, with a parse warning either way.
#[test]
fn an_implausible_event_timestamp_falls_back_to_the_entry_time_or_now() {
    let slow = std::fs::read_to_string(common::fixture("entries/rds-mysql57-select.log")).unwrap();
    let timeless = std::fs::read_to_string(common::fixture("entries/implausible-times.log")).unwrap();
    let mut payload = common::payload("/aws/rds/instance/db-1/slowquery", "db-1", &[&slow, &timeless]);
    payload["logEvents"][0]["timestamp"] = serde_json::json!(-5);
    payload["logEvents"][1]["timestamp"] = serde_json::json!(253_402_300_799_000i64);
    let (dir, file) = temp_file("lto-time", "event.json", common::awslogs_event(&payload).to_string().as_bytes());
    let out = run(&["replay", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["index"]["_index"], "cwl-aws-rds-instance-db-1-slowquery-2026.11.21", "the entry's Time");
    assert_eq!(lines[1]["@timestamp"], "2026-11-21T10:15:30.123Z");
    let warnings = lines[1]["@parse_warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().contains("used the entry's Time")), "{warnings:?}");
    let index = lines[2]["index"]["_index"].as_str().unwrap();
    let year: i32 = index.rsplit('-').next().unwrap()[..4].parse().unwrap();
    assert!((2026..2100).contains(&year), "dated when received, not 9999: {index}");
    let warnings = lines[3]["@parse_warnings"].as_array().unwrap();
    assert!(warnings.iter().any(|w| w.as_str().unwrap().contains("the time it was received")), "{warnings:?}");
    std::fs::remove_dir_all(dir).ok();
}

/// `help --help` is help, and no example line of any `--help` is wrapped in the middle of a
/// command (clap wraps at 100 columns when not on a terminal): a line that goes on ends in `\`.
#[test]
fn help_on_help_works_and_examples_are_never_wrapped_mid_command() {
    for args in [&["help", "--help"][..], &["help", "slowlog", "-h"]] {
        let out = run(args);
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stdout).contains("Usage: logs-to-opensearch"), "{args:?}");
    }
    for command in ["setup", "replay", "slowlog", "subscribe"] {
        let help = text(&run(&[command, "--help"]).stdout);
        let examples: Vec<&str> =
            help.lines().skip_while(|l| !l.starts_with("Example")).skip(1).take_while(|l| !l.is_empty()).collect();
        assert!(!examples.is_empty(), "{command} --help has no example");
        let mut continued = false;
        for line in examples {
            let starts_command = line.starts_with("  logs-to-opensearch ") || line.starts_with("  FUNCTION_ARN=");
            assert!(starts_command || continued, "{command} --help: an example wrapped mid-command: {line:?}");
            assert!(line.len() <= 100, "{command} --help: {line:?}");
            continued = line.ends_with('\\');
        }
    }
}

/// The README's example alert is what `--alerts print` prints for the bundled event, line for line
/// (it went stale once: an old id, a Discover URL without the index).
#[test]
fn the_readme_example_alert_is_what_the_binary_prints() {
    let readme = common::readme();
    let example: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.contains("As `--alerts print` shows it:"))
        .skip_while(|l| *l != "```")
        .skip(1)
        .take_while(|l| *l != "```")
        .collect();
    assert!(example.len() > 5 && example[0].starts_with("Slow query on "), "{example:?}");
    let out = bin()
        .env("SLOW_QUERY_ALERT_SECONDS", "5")
        .env("DASHBOARDS_URL", "https://search-logs.eu-west-1.es.amazonaws.com/_dashboards")
        .args(["replay", common::fixture("events/rds-mysql80-slowquery.json").to_str().unwrap()])
        .output()
        .unwrap();
    assert!(out.status.success());
    let stderr = text(&out.stderr);
    let printed: Vec<&str> = stderr.lines().skip_while(|l| *l != example[0]).take(example.len()).collect();
    assert_eq!(printed, example, "README.md's example alert differs from the binary's");
}
