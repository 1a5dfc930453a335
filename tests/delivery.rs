//! Delivery scenarios: the handler with the real OpenSearch sink (the `opensearch` crate, SigV4,
//! real HTTP on loopback) against the strict stand-in, with scripted faults. Each test says what
//! the operator would see: counts, the index, the dead-letter index, the invocation's error.

mod common;

use common::standin::{self, Auth, Fault, StandIn};
use common::{awslogs_event, payload, read_fixture};
use logs_to_opensearch::config::{Config, RawConfig};
use logs_to_opensearch::delivery::{OpenSearchSink, RetryPolicy};
use logs_to_opensearch::handler::{Handler, Summary};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOG_GROUP: &str = "/aws/rds/instance/prod-db-1/slowquery";
/// The day of [`payload`]'s timestamps.
const INDEX: &str = "cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21";
const DEAD_LETTERS: &str = "cwl-_deadletter-2026.11.21";

/// Short timings, so scenarios that wait for a deadline take a second, not a minute.
const FAST: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(20),
    cap: Duration::from_millis(200),
    reserve: Duration::from_millis(100),
    min_attempt: Duration::from_millis(50),
};

/// Configuration for the stand-in: SigV4 with its test credentials, plus `extra`.
fn config(standin: &StandIn, extra: &[(&str, &str)]) -> Config {
    let mut vars: HashMap<String, String> = [
        ("OPENSEARCH_ENDPOINT", standin.url.as_str()),
        ("AWS_REGION", standin::REGION),
        ("AWS_ACCESS_KEY_ID", standin::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", standin::SECRET_KEY),
        ("AWS_SESSION_TOKEN", "session-token-from-the-lambda-role"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    RawConfig::read(|name| Ok(vars.get(name).cloned())).unwrap().validate().unwrap()
}

fn handler(config: Config) -> Handler<OpenSearchSink> {
    let sink = OpenSearchSink::new(&config, config.opensearch.as_ref().unwrap()).unwrap().with_policy(FAST);
    Handler::new(Arc::new(config), sink)
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

/// Runs one event with `budget` left in the invocation.
fn invoke(handler: &Handler<OpenSearchSink>, event: &Value, budget: Duration) -> Summary {
    rt().block_on(handler.handle_event(event.clone(), Instant::now() + budget)).unwrap()
}

fn slow_queries(n: usize) -> Vec<String> {
    let entries = [
        read_fixture("entries/rds-mysql57-select.log"),
        read_fixture("entries/mysql80-log-slow-extra.log"),
        read_fixture("entries/aurora-mysql3-hostname.log"),
        read_fixture("entries/mariadb-10-verbose.log"),
    ];
    (0..n).map(|i| entries[i % entries.len()].clone()).collect()
}

fn event_of(messages: &[String]) -> Value {
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    awslogs_event(&payload(LOG_GROUP, "prod-db-1", &refs))
}

fn ids(event: &Value) -> Vec<String> {
    let batches = logs_to_opensearch::event::decode(event.clone()).unwrap();
    batches.into_iter().flat_map(|b| b.log_events.into_iter().map(|e| e.id)).collect()
}

#[test]
fn all_good_every_document_indexed_once_with_its_event_id() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[]));
    let event = event_of(&slow_queries(8));
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!(
        (summary.delivery.documents, summary.delivery.indexed, summary.delivery.failed, summary.delivery.dead_lettered),
        (8, 8, 0, 0)
    );
    assert_eq!((summary.delivery.requests, summary.delivery.retried), (1, 0));
    assert!(summary.undelivered().is_none());
    assert_eq!(standin.count(INDEX), 8);
    for id in ids(&event) {
        let doc = standin.document(INDEX, &id).unwrap_or_else(|| panic!("{id} not indexed"));
        assert_eq!(doc["@id"], id.as_str());
        assert!(doc["Query_time"].is_f64());
    }
    // Lambda retried the whole event: the same ids overwrite, nothing doubles.
    invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!(standin.count(INDEX), 8);
    assert_eq!(standin.version(INDEX, &ids(&event)[0]), Some(2));
}

#[test]
fn items_refused_with_429_are_sent_again_alone_and_then_indexed() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[]));
    let event = event_of(&slow_queries(6));
    standin.script(Fault::RejectItems(vec![1, 4]));
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!(
        (summary.delivery.indexed, summary.delivery.retried, summary.delivery.failed, summary.delivery.requests),
        (6, 2, 0, 2)
    );
    assert_eq!(standin.count(INDEX), 6);
    let all = ids(&event);
    assert_eq!(standin.version(INDEX, &all[1]), Some(1), "only the refused items were resent, once");
    assert_eq!(standin.version(INDEX, &all[0]), Some(1));
    assert_eq!(standin.bulk_requests(), 2);
}

#[test]
fn whole_request_failures_are_retried_429_5xx_html_dropped_and_slow() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[("OPENSEARCH_TIMEOUT_SECONDS", "0.3")]));
    let event = event_of(&slow_queries(3));
    for fault in [
        Fault::Status(429),
        Fault::Status(503),
        Fault::HtmlBadGateway,
        Fault::DropConnection,
        Fault::Slow(Duration::from_millis(800)),
    ] {
        standin.script(fault);
    }
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!((summary.delivery.indexed, summary.delivery.failed, summary.delivery.requests), (3, 0, 6));
    assert_eq!(summary.delivery.retried, 15, "three items, five times");
    assert_eq!(standin.count(INDEX), 3);
}

#[test]
fn a_mapping_conflict_goes_to_the_dead_letter_index_with_the_reason() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[]));
    // The slow query maps Query_time as a number; a JSON message in the same log group then
    // sends a string for it: OpenSearch refuses that item for good.
    let conflicting = r#"{"Query_time": "very slow", "note": "an application logging into the RDS group"}"#.to_owned();
    let mut messages = slow_queries(2);
    messages.push(conflicting.clone());
    let event = event_of(&messages);
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!((summary.delivery.indexed, summary.delivery.dead_lettered, summary.delivery.failed), (2, 1, 0));
    assert!(summary.undelivered().is_none(), "dead-lettered counts as delivered");
    let id = &ids(&event)[2];
    assert!(standin.document(INDEX, id).is_none());
    let letter = standin.document(DEAD_LETTERS, id).expect("dead letter written under the event id");
    assert_eq!(letter["@message"], conflicting.as_str(), "the raw message, as text");
    assert_eq!(letter["original_index"], INDEX);
    assert_eq!(letter["error_type"], "mapper_parsing_exception");
    assert_eq!(letter["error_status"], 400);
    assert_eq!(letter["attempts"], 1);
    assert!(letter["error_reason"].as_str().unwrap().contains("Query_time"), "{letter}");
    let failure = &summary.delivery.failures[0];
    assert_eq!((failure.id.as_str(), failure.outcome.as_str(), failure.status), (id.as_str(), "dead-lettered", 400));
}

#[test]
fn a_413_halves_the_request_until_it_fits() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[]));
    let event = event_of(&slow_queries(16));
    // Room for about three documents per request.
    standin.set_max_body_bytes(6_000);
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!((summary.delivery.indexed, summary.delivery.failed, summary.delivery.dead_lettered), (16, 0, 0));
    assert!(summary.delivery.requests > 8, "16 → 8+8 → 4+4… : {} requests", summary.delivery.requests);
    assert_eq!(standin.count(INDEX), 16);
    for id in ids(&event) {
        assert_eq!(standin.version(INDEX, &id), Some(1), "every document sent once it fitted");
    }
}

#[test]
fn one_document_over_the_clusters_limit_fails_the_invocation_and_says_to_lower_bulk_max_bytes() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[]));
    let event = event_of(&slow_queries(2));
    standin.set_max_body_bytes(500);
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!((summary.delivery.indexed, summary.delivery.failed, summary.delivery.failed_retryable), (0, 2, 0));
    let error = summary.undelivered().unwrap();
    assert_eq!(error.error_type(), "NonRetryable.Refused");
    assert!(error.to_string().contains("BULK_MAX_BYTES"), "{error}");
}

#[test]
fn a_cluster_answering_503_until_the_deadline_gives_a_retryable_error() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[]));
    let event = event_of(&slow_queries(4));
    for _ in 0..1000 {
        standin.script(Fault::Status(503));
    }
    let started = Instant::now();
    let summary = invoke(&handler, &event, Duration::from_millis(1500));
    let took = started.elapsed();
    assert!(took < Duration::from_millis(1500), "stopped before the deadline, to report: {took:?}");
    assert!(summary.delivery.requests >= 3, "kept trying while there was time: {} requests", summary.delivery.requests);
    assert_eq!((summary.delivery.indexed, summary.delivery.failed, summary.delivery.failed_retryable), (0, 4, 4));
    let error = summary.undelivered().unwrap();
    assert_eq!(error.error_type(), "Retryable.Undelivered");
    let message = error.to_string();
    assert!(message.contains("4 of 4 documents") && message.contains("503"), "{message}");
    assert_eq!(standin.count(INDEX), 0);
}

#[test]
fn a_bad_signature_is_refused_once_not_retried_and_fails_the_invocation() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[("AWS_SECRET_ACCESS_KEY", "not-the-right-secret")]));
    let event = event_of(&slow_queries(3));
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!(
        (
            summary.delivery.requests,
            summary.delivery.indexed,
            summary.delivery.failed,
            summary.delivery.refused_requests
        ),
        (1, 0, 3, 1)
    );
    let error = summary.undelivered().unwrap();
    assert_eq!(error.error_type(), "NonRetryable.Refused");
    let message = error.to_string();
    assert!(message.contains("403") && message.contains("signature"), "{message}");
    assert!(!message.contains("not-the-right-secret"), "the secret never shows: {message}");
    assert_eq!(standin.count(INDEX), 0);
}

#[test]
fn the_wrong_service_name_is_refused_too() {
    let standin = StandIn::start(Auth::SigV4 { service: "aoss" });
    let handler = handler(config(&standin, &[]));
    let summary = invoke(&handler, &event_of(&slow_queries(1)), Duration::from_secs(30));
    assert_eq!((summary.delivery.failed, summary.delivery.refused_requests), (1, 1));
    let handler = self::handler(config(&standin, &[("OPENSEARCH_SERVICE", "aoss")]));
    let summary = invoke(&handler, &event_of(&slow_queries(1)), Duration::from_secs(30));
    assert_eq!((summary.delivery.indexed, summary.delivery.failed), (1, 0));
}

#[test]
fn serverless_time_series_collections_get_documents_without_ids() {
    let standin = StandIn::start(Auth::SigV4 { service: "aoss" });
    standin.set_time_series();
    let event = event_of(&slow_queries(3));
    let handler = handler(config(&standin, &[("OPENSEARCH_SERVICE", "aoss")]));
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!((summary.delivery.indexed, summary.delivery.failed), (3, 0));
    assert_eq!(standin.count(INDEX), 3);
    assert!(standin.document(INDEX, &ids(&event)[0]).is_none(), "the collection chose the ids");

    // Forcing ids there: every document is refused, and so is every dead letter: nothing is
    // silently lost, the invocation fails.
    let handler =
        self::handler(config(&standin, &[("OPENSEARCH_SERVICE", "aoss"), ("OPENSEARCH_DOCUMENT_IDS", "true")]));
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!((summary.delivery.indexed, summary.delivery.dead_lettered, summary.delivery.failed), (0, 0, 3));
    assert!(
        summary.delivery.failures[0].reason.contains("Document ID is not supported"),
        "{:?}",
        summary.delivery.failures
    );

    // Without ids, a refused item is still reported under its event id.
    let handler = self::handler(config(&standin, &[("OPENSEARCH_SERVICE", "aoss")]));
    let summary = invoke(&handler, &event_of(&[r#"{"Query_time": "slow"}"#.to_owned()]), Duration::from_secs(30));
    assert_eq!(summary.delivery.dead_lettered, 1);
    assert_eq!(summary.delivery.failures[0].id, "3700".to_owned() + &"0".repeat(52));
}

#[test]
fn gzip_bodies_are_signed_over_the_compressed_bytes_and_accepted() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let plain = handler(config(&standin, &[]));
    let gzip = handler(config(&standin, &[("OPENSEARCH_COMPRESSION", "gzip")]));
    let event = event_of(&slow_queries(20));
    let sent_plain = invoke(&plain, &event, Duration::from_secs(30));
    let sent_gzip = invoke(&gzip, &event, Duration::from_secs(30));
    assert_eq!((sent_gzip.delivery.indexed, sent_gzip.delivery.failed), (20, 0));
    assert!(
        sent_gzip.delivery.bytes * 4 < sent_plain.delivery.bytes,
        "{} gzip vs {} plain bytes",
        sent_gzip.delivery.bytes,
        sent_plain.delivery.bytes
    );
    assert_eq!(standin.version(INDEX, &ids(&event)[19]), Some(2), "both runs reached the index");
}

#[test]
fn no_auth_reaches_an_open_cluster() {
    let standin = StandIn::start(Auth::None);
    let handler = handler(config(&standin, &[("OPENSEARCH_AUTH", "none")]));
    assert_eq!(invoke(&handler, &event_of(&slow_queries(2)), Duration::from_secs(30)).delivery.indexed, 2);
}

#[test]
fn basic_auth_reaches_a_self_managed_cluster_and_a_wrong_password_is_a_refusal() {
    let standin = StandIn::start(Auth::Basic { username: "logs", password: "s3cret pass:word" });
    let basic = |password: &str| {
        handler(config(
            &standin,
            &[("OPENSEARCH_AUTH", "basic"), ("OPENSEARCH_USERNAME", "logs"), ("OPENSEARCH_PASSWORD", password)],
        ))
    };
    let summary = invoke(&basic("s3cret pass:word"), &event_of(&slow_queries(2)), Duration::from_secs(30));
    assert_eq!((summary.delivery.indexed, summary.delivery.failed), (2, 0));
    let summary = invoke(&basic("wrong"), &event_of(&slow_queries(2)), Duration::from_secs(30));
    assert_eq!(
        (
            summary.delivery.indexed,
            summary.delivery.failed,
            summary.delivery.refused_requests,
            summary.delivery.requests
        ),
        (0, 2, 1, 1)
    );
    let message = summary.undelivered().unwrap().to_string();
    assert!(message.contains("401") && !message.contains("wrong"), "{message}");
}

#[test]
fn an_oversize_event_is_indexed_truncated_with_its_original_size() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[("BULK_MAX_BYTES", "65536")]));
    let huge = format!(
        "# Time: 2026-11-21T10:00:00.000000Z\n# User@Host: app[app] @  [10.0.0.1]  Id: 7\n# Query_time: 12.5  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 10\nSET timestamp=1795255200;\nSELECT * FROM t WHERE id IN ({});",
        (0..40_000).map(|i| i.to_string()).collect::<Vec<_>>().join(",")
    );
    let event = event_of(&[huge.clone(), slow_queries(1).remove(0)]);
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!((summary.delivery.indexed, summary.truncated, summary.delivery.failed), (2, 1, 0));
    let doc = standin.document(INDEX, &ids(&event)[0]).unwrap();
    assert_eq!(doc["@truncated"], true);
    assert_eq!(doc["@original_bytes"], huge.len());
    assert_eq!(doc["Query_time"], 12.5);
    assert!(huge.starts_with(doc["@message"].as_str().unwrap()));
}

#[test]
fn dead_letters_that_cannot_be_written_count_as_retryable_failures() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[]));
    let mut messages = slow_queries(1);
    messages.push(r#"{"Query_time": "n/a"}"#.to_owned());
    standin.script(Fault::Pass); // the first request indexes one document, refuses the other
    for _ in 0..1000 {
        standin.script(Fault::Status(503)); // the dead-letter requests never get through
    }
    let summary = invoke(&handler, &event_of(&messages), Duration::from_millis(1000));
    assert_eq!(
        (
            summary.delivery.indexed,
            summary.delivery.dead_lettered,
            summary.delivery.failed,
            summary.delivery.failed_retryable
        ),
        (1, 0, 1, 1)
    );
    assert_eq!(summary.undelivered().unwrap().error_type(), "Retryable.Undelivered");
    assert_eq!(summary.delivery.failures[0].outcome, "failed (dead letter not written)");
}

/// A few thousand events through random faults: every event id ends up indexed, dead-lettered,
/// or counted as failed (and then delivered by the retried invocation), exactly once per index.
#[test]
fn accounting_no_event_is_lost_or_doubled_under_random_faults() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[("BULK_MAX_BYTES", "65536")]));
    let base: [String; 4] = slow_queries(4).try_into().unwrap();
    let mut workload = common::accounting::workload(LOG_GROUP, &base, &standin, 400);
    workload.run(|event, budget| invoke(&handler, event, budget), Duration::from_millis(400), Duration::from_secs(30));
    let (all_ids, conflicts) = (&workload.all_ids, &workload.conflicts);
    for id in all_ids {
        let in_index = standin.document(INDEX, id).is_some();
        let in_dead_letters = standin.document(DEAD_LETTERS, id).is_some();
        assert!(in_index ^ in_dead_letters, "{id}: indexed {in_index}, dead-lettered {in_dead_letters}");
    }
    assert_eq!(standin.count(INDEX) + standin.count(DEAD_LETTERS), all_ids.len(), "nothing extra, nothing doubled");
    assert_eq!(standin.count(DEAD_LETTERS), conflicts.len(), "exactly the conflicting events were dead-lettered");
}

fn kinesis_event(records: &[(&str, String)]) -> Value {
    let records: Vec<Value> = records
        .iter()
        .map(|(seq, data)| {
            serde_json::json!({"eventSource": "aws:kinesis", "kinesis": {"data": data, "sequenceNumber": seq}})
        })
        .collect();
    serde_json::json!({ "Records": records })
}

/// A record's payload; `tag` makes its event ids its own (as CloudWatch's are).
fn kinesis_data(tag: &str, messages: &[String]) -> String {
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    let mut payload = payload(LOG_GROUP, "prod-db-1", &refs);
    for event in payload["logEvents"].as_array_mut().unwrap() {
        event["id"] = format!("{tag}{}", event["id"].as_str().unwrap()).into();
    }
    common::gzip_base64(payload.to_string().as_bytes())
}

#[test]
fn a_kinesis_record_that_does_not_decode_is_dead_lettered_and_the_others_delivered() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[]));
    let queries = slow_queries(3);
    let good_a = kinesis_data("1", &queries[..2]);
    let good_c = kinesis_data("3", &queries[2..]);
    let event = kinesis_event(&[("101", good_a), ("102", "%%not-base64%%".to_owned()), ("103", good_c)]);
    let summary = invoke(&handler, &event, Duration::from_secs(30));
    assert_eq!(summary.undecodable_records, 1);
    assert_eq!((summary.delivery.indexed, summary.delivery.failed), (4, 0), "3 documents + 1 dead letter");
    assert_eq!(standin.count(INDEX), 3, "the good records' documents are all indexed");
    // The record's time is unknown: its dead letter goes to today's dead-letter index.
    let today = standin.indices().into_iter().find(|i| i.starts_with("cwl-_deadletter-")).expect("a dead-letter index");
    let letter = standin.document(&today, "kinesis-102").expect("the bad record is dead-lettered");
    assert_eq!(letter["@message"], "%%not-base64%%", "kept as it came");
    assert_eq!(letter["error_type"], "undecodable_record");
    let reason = letter["error_reason"].as_str().unwrap();
    assert!(reason.contains("Records[1].kinesis.data (sequence number 102): base64 layer"), "{reason}");
    assert!(summary.line("x", true).contains("1 Kinesis record(s) did not decode"));
    let response = summary.into_response(true).unwrap();
    assert!(response.batch_item_failures.is_empty(), "nothing to retry: all delivered or dead-lettered");
    // A whole event that is not Kinesis data still fails as a whole.
    let misrouted = serde_json::json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]});
    assert!(rt().block_on(handler.handle_event(misrouted, Instant::now() + Duration::from_secs(5))).is_err());
}

#[test]
fn undelivered_kinesis_records_are_named_in_batch_item_failures_when_asked() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[("OPENSEARCH_TIMEOUT_SECONDS", "0.3")]));
    let queries = slow_queries(3);
    let event = kinesis_event(&[("201", kinesis_data("1", &queries[..2])), ("202", kinesis_data("2", &queries[2..]))]);
    // The first record's request passes; the second record's requests all fail.
    standin.script(Fault::Pass);
    for _ in 0..200 {
        standin.script(Fault::Status(503));
    }
    let summary = invoke(&handler, &event, Duration::from_millis(1500));
    assert_eq!((summary.delivery.indexed, summary.delivery.failed), (2, 1));
    assert_eq!(summary.failed_records, vec!["202".to_owned()]);
    assert_eq!(standin.count(INDEX), 2);
    // Without the event source mapping's ReportBatchItemFailures, the invocation fails whole.
    let error = summary.clone().into_response(false).unwrap_err();
    assert_eq!(error.error_type(), "Retryable.Undelivered");
    // With it, the answer names only the record to retry.
    let response = summary.into_response(true).unwrap();
    let json = serde_json::to_value(&response).unwrap();
    assert_eq!(json["batchItemFailures"], serde_json::json!([{"itemIdentifier": "202"}]));
}

#[test]
fn a_subscription_event_never_answers_with_batch_item_failures() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[("OPENSEARCH_TIMEOUT_SECONDS", "0.3")]));
    for _ in 0..200 {
        standin.script(Fault::Status(503));
    }
    let summary = invoke(&handler, &event_of(&slow_queries(2)), Duration::from_millis(800));
    assert_eq!(summary.delivery.failed, 2);
    assert!(summary.into_response(true).is_err(), "only failing keeps a subscription event");
}

#[test]
fn a_tls_failure_is_permanent_and_named_nonretryable_tls() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let https = standin.url.replace("http://", "https://");
    let handler = handler(config(&standin, &[("OPENSEARCH_ENDPOINT", https.as_str())]));
    let started = Instant::now();
    let summary = invoke(&handler, &event_of(&slow_queries(2)), Duration::from_secs(20));
    assert!(started.elapsed() < Duration::from_secs(5), "not retried until the deadline");
    assert_eq!((summary.delivery.failed, summary.delivery.requests, summary.delivery.retried), (2, 1, 0));
    let error = summary.undelivered().unwrap();
    assert_eq!(error.error_type(), "NonRetryable.Tls");
    assert!(logs_to_opensearch::text::error_chain(&error).contains("use http://"), "{error:?}");
}

#[test]
fn a_429_with_retry_after_is_waited_out_as_the_cluster_asked() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let handler = handler(config(&standin, &[]));
    standin.script(Fault::RetryAfter(1));
    let started = Instant::now();
    let summary = invoke(&handler, &event_of(&slow_queries(2)), Duration::from_secs(30));
    let waited = started.elapsed();
    assert_eq!((summary.delivery.indexed, summary.delivery.requests), (2, 2));
    // The policy alone would pause at most 200 ms (FAST's cap): the second request waited the second.
    assert!(waited >= Duration::from_secs(1), "resent after {waited:?}, before Retry-After");
    assert!(waited < Duration::from_secs(5), "{waited:?}");
}
