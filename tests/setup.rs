//! `logs-to-opensearch setup` against the OpenSearch stand-in: the templates, the ISM policy and
//! the Dashboards objects are installed (signed), a second run replaces them, and documents
//! indexed afterwards are typed by the template, dead letters by theirs.

mod common;

use common::standin::{Auth, FieldType, StandIn};
use std::process::Output;

fn text(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

const INDEX: &str = "cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21";

#[test]
fn setup_installs_templates_policy_and_dashboards_and_can_run_again() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let out = common::cli_signed_for(&standin).args(["setup", "--retention-days", "14"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stderr = text(&out);
    assert!(stderr.contains("installed index template logs-to-opensearch for [\"cwl-*slowquery*\"]"), "{stderr}");
    assert!(stderr.contains("installed index template logs-to-opensearch-logs for [\"cwl-*\"]"), "{stderr}");
    assert!(stderr.contains("installed ISM policy logs-to-opensearch-retention: delete indices after 14d"), "{stderr}");
    assert!(stderr.contains("imported Dashboards saved objects: 9 imported"), "{stderr}");

    let template = standin.template("logs-to-opensearch").unwrap();
    assert_eq!(template["index_patterns"], serde_json::json!(["cwl-*slowquery*"]));
    assert!(standin.template("logs-to-opensearch-deadletter").is_some());
    let policy = standin.policy("logs-to-opensearch-retention").unwrap();
    assert_eq!(policy["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"], "14d");
    let objects = standin.saved_objects();
    assert!(objects.contains(&("dashboard".into(), "logs-to-opensearch-slow-queries".into())), "{objects:?}");

    // Again, with another retention: the policy is replaced through its sequence number.
    let out = common::cli_signed_for(&standin).args(["setup", "--retention-days", "7"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let policy = standin.policy("logs-to-opensearch-retention").unwrap();
    assert_eq!(policy["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"], "7d");
}

#[test]
fn documents_indexed_after_setup_are_typed_by_the_template() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let out = common::cli_signed_for(&standin).args(["setup", "--no-dashboards"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let event = common::fixture("events/rds-mysql80-slowquery.json");
    let out = common::cli_signed_for(&standin).args(["replay", event.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert_eq!(standin.count(INDEX), 5);
    // Typed by the template, not by the first value seen.
    assert_eq!(standin.mapping(INDEX, "IP"), Some(FieldType::Ip));
    assert_eq!(standin.mapping(INDEX, "Rows_examined"), Some(FieldType::Long));
    assert_eq!(standin.mapping(INDEX, "Query_time"), Some(FieldType::Float));
    assert_eq!(standin.mapping(INDEX, "Full_scan"), Some(FieldType::Boolean));
}

#[test]
fn application_logs_are_not_typed_as_slow_queries_after_setup() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let out = common::cli_signed_for(&standin).args(["setup", "--no-dashboards"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    // Names the slow-query template types as ip, long and date, with values that are none of those,
    // and names OpenSearch refuses outright.
    let messages = [
        r#"{"IP": "unknown", "Id": "abc-uuid", "Time": "soon", "Errno": "E42", "_id": "x", "": 1, "a..b": 2}"#,
        r#"{"IP": "10.0.0.1", "Id": 7, "Time": "2026-11-21T10:00:00Z"}"#,
    ];
    let path = std::env::temp_dir().join(format!("lto-applog-{}.json", std::process::id()));
    std::fs::write(&path, common::awslogs_event(&common::payload("/aws/lambda/orders", "s", &messages)).to_string())
        .unwrap();
    let out = common::cli_signed_for(&standin).args(["replay", path.to_str().unwrap()]).output().unwrap();
    let _ = std::fs::remove_file(&path);
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("2 indexed, 0 dead-lettered, 0 failed"), "{}", text(&out));
    let index = "cwl-aws-lambda-orders-2026.11.21";
    assert_eq!(standin.count(index), 2);
    assert_eq!(standin.mapping(index, "IP"), Some(FieldType::Text));
    assert_eq!(standin.mapping(index, "Time"), Some(FieldType::Text), "no date guessed from a string");
    assert_eq!(standin.mapping(index, "@timestamp"), Some(FieldType::Date));
}

#[test]
fn setup_without_an_endpoint_or_against_a_refusing_cluster_says_why() {
    let out = common::cli().args(["setup"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(text(&out).contains("setup needs an endpoint: --endpoint URL or OPENSEARCH_ENDPOINT"), "{}", text(&out));

    // Signed for the wrong service: the cluster's 403 is shown, naming the piece.
    let standin = StandIn::start(Auth::SigV4 { service: "aoss" });
    let out = common::cli_signed_for(&standin).args(["setup"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out).contains("index template logs-to-opensearch-logs: the cluster answered HTTP 403"),
        "{}",
        text(&out)
    );
}
