//! The whole pure path through the handler the Lambda runs: event fixture → `_bulk` body, compared
//! with golden NDJSON under `tests/fixtures/expected/` (as JSON values, line by line).
//! `UPDATE_GOLDEN=1 cargo test --test pipeline` rewrites the golden files; review the diff.

mod common;

use logs_to_opensearch::config::Config;
use logs_to_opensearch::handler::{Handler, HandlerError, PrintSink, Summary};
use serde_json::Value;
use std::sync::Arc;

async fn run(event: &str, config: Config) -> (Result<Summary, HandlerError>, String) {
    let event: Value = serde_json::from_str(&common::read_fixture(&format!("events/{event}"))).unwrap();
    let handler = Handler::new(Arc::new(config.clone()), PrintSink::new(Vec::new()));
    let result = handler.handle_event(event, std::time::Instant::now() + std::time::Duration::from_secs(60)).await;
    let body = String::from_utf8(handler.into_sink().into_inner()).unwrap();
    (result, body)
}

async fn golden(event: &str, expected: &str) -> Summary {
    let (result, body) = run(event, Config::default()).await;
    let path = common::fixture(&format!("expected/{expected}"));
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, &body).unwrap();
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    common::assert_ndjson_eq(&body, &expected);
    result.unwrap()
}

#[tokio::test]
async fn rds_mysql_slowquery_batch_matches_golden_ndjson() {
    let summary = golden("rds-mysql80-slowquery.json", "rds-mysql80-slowquery.ndjson").await;
    assert_eq!((summary.events, summary.slow_queries, summary.delivery.documents), (5, 5, 5));
}

#[tokio::test]
async fn rds_postgresql_batch_matches_golden_ndjson() {
    let summary = golden("rds-postgresql.json", "rds-postgresql.ndjson").await;
    assert_eq!((summary.events, summary.slow_queries, summary.delivery.documents), (12, 12, 12));
}

#[tokio::test]
async fn mariadb_batch_with_banner_and_error_line_matches_golden_ndjson() {
    let summary = golden("mariadb-slowquery.json", "mariadb-slowquery.ndjson").await;
    assert_eq!((summary.slow_queries, summary.plain), (3, 2));
}

#[tokio::test]
async fn application_json_messages_match_golden_ndjson() {
    let summary = golden("app-json-messages.json", "app-json-messages.ndjson").await;
    assert_eq!((summary.structured, summary.plain), (2, 2));
}

#[tokio::test]
async fn extracted_fields_match_golden_ndjson() {
    let summary = golden("app-extracted-fields.json", "app-extracted-fields.ndjson").await;
    assert_eq!(summary.structured, 2);
}

#[tokio::test]
async fn control_message_is_skipped_and_reported() {
    let (result, body) = run("control-message.json", Config::default()).await;
    let summary = result.unwrap();
    assert_eq!((summary.control_messages, summary.delivery.documents), (1, 0));
    assert!(body.is_empty());
}

#[tokio::test]
async fn kinesis_records_are_all_indexed_and_their_control_message_skipped() {
    let (result, body) = run("kinesis-cross-account.json", Config::default()).await;
    let summary = result.unwrap();
    assert_eq!((summary.batches, summary.control_messages, summary.delivery.documents), (3, 1, 4));
    let indices: Vec<String> = body
        .lines()
        .step_by(2)
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["index"]["_index"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(indices[0], "cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21");
    assert_eq!(indices[3], "cwl-aws-rds-instance-billing-db-slowquery-2026.11.21");
}

#[tokio::test]
async fn every_id_is_the_event_id_and_every_action_has_no_type() {
    let (_, body) = run("aurora-mysql-cluster-slowquery.json", Config::default()).await;
    let events = &common::source_payloads("aurora-mysql-cluster-slowquery.json")[0]["logEvents"];
    let lines: Vec<Value> = body.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 14);
    for (pair, event) in lines.chunks(2).zip(events.as_array().unwrap()) {
        assert_eq!(pair[0]["index"]["_id"], event["id"]);
        assert_eq!(pair[1]["@id"], event["id"]);
        assert!(pair[0]["index"].get("_type").is_none());
        assert_eq!(pair[0]["index"]["_index"], "cwl-aws-rds-cluster-aurora-main-slowquery-2026.11.21");
    }
}

#[tokio::test]
async fn configured_prefix_and_legacy_type_reach_the_action_lines() {
    let config = Config { index_prefix: "rds".into(), index_type: Some("_doc".into()), ..Config::default() };
    let (_, body) = run("rds-mysql80-slowquery.json", config).await;
    let action: Value = serde_json::from_str(body.lines().next().unwrap()).unwrap();
    assert_eq!(action["index"]["_index"], "rds-aws-rds-instance-prod-db-1-slowquery-2026.11.21");
    assert_eq!(action["index"]["_type"], "_doc");
}

#[tokio::test]
async fn a_corrupt_entry_is_indexed_with_warnings_not_dropped() {
    let (result, body) = run("on-failure-destination.json", Config::default()).await;
    let summary = result.unwrap();
    assert_eq!((summary.delivery.documents, summary.with_warnings), (2, 1));
    let corrupt: Value = serde_json::from_str(body.lines().nth(3).unwrap()).unwrap();
    assert!(corrupt["@parse_warnings"][0].as_str().unwrap().starts_with("Query_time:"));
    assert!(corrupt["@message"].as_str().unwrap().contains("18446744073708.796870.000036"));
}

#[tokio::test]
async fn decode_failures_map_to_non_retryable_lambda_errors_naming_the_layer() {
    for (event, error_type) in [
        ("broken-base64.json", "NonRetryable.Base64"),
        ("broken-gzip.json", "NonRetryable.Gzip"),
        ("broken-json.json", "NonRetryable.Json"),
    ] {
        let (result, body) = run(event, Config::default()).await;
        let diagnostic = lambda_runtime::Diagnostic::from(result.unwrap_err());
        assert_eq!(diagnostic.error_type, error_type);
        assert!(
            diagnostic.error_message.starts_with("cannot decode the event: awslogs.data:"),
            "{}",
            diagnostic.error_message
        );
        assert!(body.is_empty());
    }
}
