//! Alert scenarios: the handler with the real notifier (reqwest, real HTTP on loopback) against a
//! stand-in Slack webhook and a stand-in Parameters and Secrets extension. Golden payloads are in
//! `tests/fixtures/expected/slack-*.json` (compared as JSON values; `BLESS=1 cargo test --test
//! alerts` rewrites them after a deliberate change, to be reviewed in the diff).

mod common;

use common::http::{Reply, Response};
use common::slack::{Extension, SlackReceiver, WEBHOOK_SECRET_PART};
use common::standin::{self, StandIn};
use common::{awslogs_event, fixture, payload, read_fixture};
use logs_to_opensearch::alert::notify::{Notifier, Output};
use logs_to_opensearch::config::{Config, RawConfig};
use logs_to_opensearch::delivery::OpenSearchSink;
use logs_to_opensearch::handler::{Handler, PrintSink, Sink, Summary};
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

const LOG_GROUP: &str = "/aws/rds/instance/prod-db-1/slowquery";
const DASHBOARDS: &str = "https://search-logs-abc123.eu-west-1.es.amazonaws.com/_dashboards";

fn config(vars: &[(&str, &str)]) -> Config {
    let vars: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    RawConfig::read(|name| Ok(vars.get(name).cloned())).unwrap().validate().unwrap()
}

fn notifier(config: &Config) -> Notifier {
    let output = if config.alerts.webhook.is_some() { Output::Slack } else { Output::Log };
    Notifier::new(&config.alerts, config.redact_literals, output).unwrap()
}

/// A dry-run handler (the `_bulk` body goes to a buffer) with the notifier.
fn dry_run(vars: &[(&str, &str)]) -> Handler<PrintSink<Vec<u8>>> {
    let config = config(vars);
    let notifier = notifier(&config);
    Handler::new(Arc::new(config), PrintSink::new(Vec::new())).with_notifier(notifier)
}

fn invoke<S: Sink>(handler: &Handler<S>, event: &Value, budget: Duration) -> Summary {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(handler.handle_event(event.clone(), Instant::now() + budget)).unwrap()
}

/// A slow-log entry of `query` taking `query_time` seconds.
fn entry(query_time: &str, query: &str) -> String {
    format!(
        "# Time: 2026-11-21T10:15:31.402561Z\n# User@Host: app[app] @  [10.0.1.23]  Id: 8812\n\
         # Query_time: {query_time}  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 1500\n\
         use shop;\nSET timestamp=1795256131;\n{query};"
    )
}

fn event_of(messages: &[String]) -> Value {
    let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
    awslogs_event(&payload(LOG_GROUP, "prod-db-1", &refs))
}

fn fixture_event(name: &str) -> Value {
    serde_json::from_str(&read_fixture(&format!("events/{name}"))).unwrap()
}

/// Compares `actual` with the golden file (a JSON array of payloads).
fn assert_golden(name: &str, actual: &[Value]) {
    let path = fixture(&format!("expected/{name}"));
    let actual = Value::Array(actual.to_vec());
    if std::env::var_os("BLESS").is_some() {
        std::fs::write(&path, serde_json::to_string_pretty(&actual).unwrap() + "\n").unwrap();
    }
    let expected: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    assert!(
        actual == expected,
        "{name} differs from the golden file; actual:\n{}",
        serde_json::to_string_pretty(&actual).unwrap()
    );
}

fn header(payload: &Value) -> &str {
    payload["blocks"][0]["text"]["text"].as_str().unwrap()
}

#[test]
fn sends_the_slow_queries_of_an_rds_event_as_golden_payloads() {
    let slack = SlackReceiver::start();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("SLACK_WEBHOOK_URL", &slack.url),
        ("DASHBOARDS_URL", DASHBOARDS),
    ]);
    let summary = invoke(&handler, &fixture_event("rds-mysql80-slowquery.json"), Duration::from_secs(10));
    assert_eq!((summary.alerts.alert_entries, summary.alerts.alert_messages, summary.alerts.alerts_sent), (2, 2, 2));
    assert_eq!(summary.delivery.documents, 5, "every entry is still written");
    assert_golden("slack-rds-mysql80-slow-queries.json", &slack.received());
}

#[test]
fn the_threshold_alerts_at_and_over_it_never_just_under() {
    let slack = SlackReceiver::start();
    let handler = dry_run(&[("SLOW_QUERY_ALERT_SECONDS", "5"), ("SLACK_WEBHOOK_URL", &slack.url)]);
    let event = event_of(&[
        entry("4.999999", "SELECT a FROM under"),
        entry("5.000000", "SELECT a FROM equal"),
        entry("5.000001", "SELECT a FROM over"),
    ]);
    let summary = invoke(&handler, &event, Duration::from_secs(10));
    assert_eq!(summary.alerts.alerts_sent, 2);
    let headers: Vec<String> = slack.received().iter().map(|p| header(p).to_owned()).collect();
    assert_eq!(headers, ["Slow query on prod-db-1: 5.000001 s", "Slow query on prod-db-1: 5 s"]);
}

#[test]
fn groups_by_fingerprint_and_caps_the_messages_with_a_count_of_the_rest() {
    let slack = SlackReceiver::start();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "2"),
        ("ALERT_MAX_MESSAGES", "3"),
        ("SLACK_WEBHOOK_URL", &slack.url),
        ("DASHBOARDS_URL", DASHBOARDS),
    ]);
    let mut messages = vec![
        entry("6.5", "SELECT * FROM orders WHERE customer_id = 1"),
        entry("30.25", "select *  from orders where customer_id = 77"),
        entry("9", "SELECT * FROM orders WHERE customer_id = 3"),
    ];
    // A flood: 37 statements of distinct shapes (letters: a number inside a name is `?`).
    messages.extend((0..37u8).map(|i| {
        let name: String = [b'a' + i / 26, b'a' + i % 26].map(char::from).iter().collect();
        entry(&format!("{}.5", 2 + i % 5), &format!("SELECT c FROM table_{name}"))
    }));
    let summary = invoke(&handler, &event_of(&messages), Duration::from_secs(10));
    assert_eq!(summary.alerts.alert_entries, 40);
    assert_eq!(summary.alerts.alerts_sent, 3, "a flood of slow queries is never a flood of messages");
    let received = slack.received();
    assert_eq!(header(&received[0]), "Slow query on prod-db-1: 30.25 s (slowest of 3)");
    assert!(received[2].to_string().contains("…and 35 more alerts (35 entries) not sent"));
    assert_golden("slack-grouped-and-capped.json", &received);
}

#[test]
fn slack_markup_in_queries_and_messages_is_escaped() {
    let slack = SlackReceiver::start();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("ALERT_WHEN", "level==error"),
        ("SLACK_WEBHOOK_URL", &slack.url),
    ]);
    invoke(&handler, &event_of(&[read_fixture("entries/slack-markup-in-query.log")]), Duration::from_secs(10));
    invoke(&handler, &fixture_event("app-json-messages.json"), Duration::from_secs(10));
    let received = slack.received();
    assert_eq!(received.len(), 2);
    for payload in &received {
        let json = payload.to_string();
        assert!(!json.contains('<') && !json.contains('>'), "nothing Slack could read as a mention or link: {json}");
    }
    let all = format!("{received:?}");
    assert!(all.contains("&lt;!channel&gt; ping &amp; &lt;https://evil.example|click here&gt;"), "{all}");
    assert!(all.contains("card declined &lt;!channel&gt; &amp; more"), "{all}");
    assert_golden("slack-markup-escaped.json", &received);
}

#[test]
fn redaction_masks_literals_in_documents_and_messages() {
    let slack = SlackReceiver::start();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("REDACT_QUERY_LITERALS", "true"),
        ("SLACK_WEBHOOK_URL", &slack.url),
    ]);
    invoke(&handler, &fixture_event("rds-mysql80-slowquery.json"), Duration::from_secs(10));
    let body = String::from_utf8(handler.into_sink().into_inner()).unwrap();
    for literal in ["'pending'", "2026-11-01", "a@example.com", "customer_id = 42"] {
        assert!(!body.contains(literal), "{literal} is in the _bulk body");
    }
    assert!(body.contains(r#""Query":"SELECT * FROM orders WHERE customer_id = ? AND status IN (?, ?)""#), "{body}");
    let received = slack.received();
    let all = format!("{received:?}");
    assert!(!all.contains("pending") && !all.contains("customer_id = 42"), "{all}");
    assert!(all.contains("Fingerprint (literals hidden)"), "{all}");
    assert_golden("slack-redacted.json", &received);
}

#[test]
fn reads_the_webhook_from_a_secret_through_the_extension_once() {
    let slack = SlackReceiver::start();
    const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack/alerts-AbCdEf";
    let extension = Extension::start("session-token", &[(ARN, &format!(r#"{{"url":"{}"}}"#, slack.url))], &[]);
    let port = extension.port.to_string();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("SLACK_WEBHOOK_SECRET_ARN", ARN),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", &port),
        ("AWS_SESSION_TOKEN", "session-token"),
        ("ALERT_COOLDOWN_SECONDS", "0"),
    ]);
    let event = fixture_event("rds-mysql80-slowquery.json");
    assert_eq!(invoke(&handler, &event, Duration::from_secs(10)).alerts.alerts_sent, 2);
    assert_eq!(invoke(&handler, &event, Duration::from_secs(10)).alerts.alerts_sent, 2);
    assert_eq!(extension.calls(), 1, "read once per execution environment");
    assert_eq!(slack.received().len(), 4);
}

#[test]
fn the_same_alert_is_held_back_during_the_cooldown_and_counted_in_the_next_one() {
    let slack = SlackReceiver::start();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("SLACK_WEBHOOK_URL", &slack.url),
        ("ALERT_COOLDOWN_SECONDS", "2"),
    ]);
    let event = fixture_event("rds-mysql80-slowquery.json");
    let first = invoke(&handler, &event, Duration::from_secs(10)).alerts;
    let second = invoke(&handler, &event, Duration::from_secs(10)).alerts;
    assert_eq!((first.alerts_sent, first.alerts_held), (2, 0));
    assert_eq!(
        (second.alert_entries, second.alerts_sent, second.alerts_held),
        (2, 0, 2),
        "the same alerts, a moment later"
    );
    std::thread::sleep(Duration::from_millis(2100));
    let third = invoke(&handler, &event, Duration::from_secs(10)).alerts;
    assert_eq!(third.alerts_sent, 2, "the cooldown is over");
    let received = slack.received();
    assert_eq!(received.len(), 4);
    assert!(
        received[2].to_string().contains("also 1 earlier entry since the last alert like this one"),
        "{}",
        received[2]
    );
}

#[test]
fn reads_the_webhook_from_a_parameter_through_the_extension() {
    let slack = SlackReceiver::start();
    let extension = Extension::start("session-token", &[], &[("/alerts/slack-webhook", &slack.url)]);
    let port = extension.port.to_string();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("SLACK_WEBHOOK_PARAMETER", "/alerts/slack-webhook"),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", &port),
        ("AWS_SESSION_TOKEN", "session-token"),
    ]);
    let summary = invoke(&handler, &fixture_event("rds-mysql80-slowquery.json"), Duration::from_secs(10));
    assert_eq!(summary.alerts.alerts_sent, 2);
}

#[test]
fn a_secret_that_cannot_be_read_fails_the_alerts_not_the_documents() {
    let extension = Extension::start("session-token", &[], &[]);
    let port = extension.port.to_string();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("SLACK_WEBHOOK_SECRET_ARN", "slack/missing"),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", &port),
        ("AWS_SESSION_TOKEN", "session-token"),
    ]);
    let summary = invoke(&handler, &fixture_event("rds-mysql80-slowquery.json"), Duration::from_secs(10));
    assert_eq!((summary.alerts.alerts_sent, summary.alerts.alerts_failed), (0, 2));
    assert_eq!(summary.delivery.documents, 5);
    assert!(summary.undelivered().is_none());
}

/// A handler that indexes into the OpenSearch stand-in and alerts to `slack`.
fn indexing(standin: &StandIn, extra: &[(&str, &str)]) -> Handler<OpenSearchSink> {
    let mut vars = vec![
        ("OPENSEARCH_ENDPOINT", standin.url.as_str()),
        ("AWS_REGION", standin::REGION),
        ("AWS_ACCESS_KEY_ID", standin::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", standin::SECRET_KEY),
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
    ];
    vars.extend_from_slice(extra);
    let config = config(&vars);
    let notifier = notifier(&config);
    let sink = OpenSearchSink::new(&config, config.opensearch.as_ref().unwrap()).unwrap();
    Handler::new(Arc::new(config), sink).with_notifier(notifier)
}

#[test]
fn a_slack_500_is_counted_and_indexing_succeeds() {
    let standin = StandIn::start(standin::Auth::SigV4 { service: "es" });
    let slack = SlackReceiver::start();
    slack.script(Reply::Now(Response::text(500, "internal_error")));
    let handler = indexing(&standin, &[("SLACK_WEBHOOK_URL", &slack.url)]);
    let summary = invoke(&handler, &fixture_event("rds-mysql80-slowquery.json"), Duration::from_secs(20));
    assert_eq!(summary.delivery.indexed, 5);
    assert_eq!(
        (summary.alerts.alerts_sent, summary.alerts.alerts_failed),
        (0, 2),
        "after a 5xx the invocation's other alerts are not tried"
    );
    assert!(summary.undelivered().is_none(), "a Slack failure never fails the invocation");
    assert_eq!(standin.count("cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21"), 5);
}

#[test]
fn a_slack_timeout_is_short_and_indexing_succeeds() {
    let standin = StandIn::start(standin::Auth::SigV4 { service: "es" });
    let slack = SlackReceiver::start();
    slack.script(Reply::Late(Duration::from_secs(20), Response::text(200, "ok")));
    let handler = indexing(&standin, &[("SLACK_WEBHOOK_URL", &slack.url), ("SLACK_TIMEOUT_SECONDS", "0.5")]);
    let started = Instant::now();
    let summary = invoke(&handler, &fixture_event("rds-mysql80-slowquery.json"), Duration::from_secs(60));
    let took = started.elapsed();
    assert_eq!(summary.delivery.indexed, 5);
    assert_eq!((summary.alerts.alerts_sent, summary.alerts.alerts_failed), (0, 2));
    assert!(took < Duration::from_secs(10), "waited {took:?} for a Slack that does not answer");
}

#[test]
fn retry_after_is_waited_out_when_the_invocation_has_the_time() {
    let slack = SlackReceiver::start();
    slack.script(Reply::Now(Response::text(429, "rate_limited").with_header("Retry-After", "1")));
    let handler = dry_run(&[("SLOW_QUERY_ALERT_SECONDS", "5"), ("SLACK_WEBHOOK_URL", &slack.url)]);
    let started = Instant::now();
    let summary = invoke(&handler, &fixture_event("rds-mysql80-slowquery.json"), Duration::from_secs(30));
    assert!(started.elapsed() >= Duration::from_secs(1), "Retry-After was respected");
    assert_eq!((summary.alerts.alerts_sent, summary.alerts.alerts_rate_limited), (2, 0));
    // The wait is the alerts' time, said apart from indexing's: a rate-limited Slack does not
    // make the invocation's Duration (its EMF metric) look like slow indexing.
    assert!(summary.alerts.alert_wait_ms >= 1000 && summary.alerts.alert_ms >= summary.alerts.alert_wait_ms);
    assert!(summary.duration_ms < 1000, "indexing took {} ms of the wait", summary.duration_ms);
    let emf: serde_json::Value = serde_json::from_str(&logs_to_opensearch::metrics::emf_line(
        &summary,
        &logs_to_opensearch::config::MetricsConfig::default(),
        0,
    ))
    .unwrap();
    assert!(emf["AlertWait"].as_u64() >= Some(1000) && emf["Duration"].as_u64() < Some(1000), "{emf}");
}

#[test]
fn rate_limited_alerts_are_dropped_and_counted_when_there_is_no_time_to_wait() {
    let slack = SlackReceiver::start();
    slack.script(Reply::Now(Response::text(429, "rate_limited").with_header("Retry-After", "30")));
    let handler = dry_run(&[("SLOW_QUERY_ALERT_SECONDS", "5"), ("SLACK_WEBHOOK_URL", &slack.url)]);
    let started = Instant::now();
    let summary = invoke(&handler, &fixture_event("rds-mysql80-slowquery.json"), Duration::from_secs(5));
    assert!(started.elapsed() < Duration::from_secs(5), "did not wait past the invocation");
    assert_eq!((summary.alerts.alerts_sent, summary.alerts.alerts_rate_limited), (0, 2));
    assert!(summary.undelivered().is_none());
}

#[test]
fn a_revoked_webhook_is_read_again_at_the_next_invocation() {
    let slack = SlackReceiver::start();
    slack.script(Reply::Now(Response::text(404, "no_service")));
    let extension = Extension::start("session-token", &[("slack/alerts", &slack.url)], &[]);
    let port = extension.port.to_string();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("SLACK_WEBHOOK_SECRET_ARN", "slack/alerts"),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", &port),
        ("AWS_SESSION_TOKEN", "session-token"),
    ]);
    let event = fixture_event("rds-mysql80-slowquery.json");
    assert_eq!(invoke(&handler, &event, Duration::from_secs(10)).alerts.alerts_failed, 2);
    assert_eq!(invoke(&handler, &event, Duration::from_secs(10)).alerts.alerts_sent, 2);
    assert_eq!(extension.calls(), 2, "the secret was read again after Slack refused the webhook");
}

#[test]
fn the_webhook_url_is_in_no_error_or_summary() {
    let slack = SlackReceiver::start();
    slack.script(Reply::Drop);
    let handler = dry_run(&[("SLOW_QUERY_ALERT_SECONDS", "5"), ("SLACK_WEBHOOK_URL", &slack.url)]);
    let summary = invoke(&handler, &fixture_event("rds-mysql80-slowquery.json"), Duration::from_secs(10));
    assert_eq!(summary.alerts.alerts_failed, 2);
    let shown = format!("{summary:?} {} {:?}", serde_json::to_string(&summary).unwrap(), handler.notifier().output());
    assert!(!shown.contains(WEBHOOK_SECRET_PART), "{shown}");
}

/// A slow PostgreSQL statement reaches Slack as a MySQL one does: same rule, same message shape,
/// grouped by its fingerprint, with its database instance and engine's fields.
#[test]
fn a_slow_postgresql_statement_is_sent_to_slack() {
    let slack = SlackReceiver::start();
    let handler = dry_run(&[
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("SLACK_WEBHOOK_URL", &slack.url),
        ("DASHBOARDS_URL", DASHBOARDS),
    ]);
    let summary = invoke(&handler, &fixture_event("rds-postgresql.json"), Duration::from_secs(10));
    assert_eq!(summary.alerts.alerts_sent, 1, "only the 5.01 s plan reaches 5 s");
    let received = slack.received();
    assert_eq!(header(&received[0]), "Slow query on pg-1: 5.012118 s");
    let text = received[0].to_string();
    assert!(text.contains("select region, sum(total) from orders group by region"), "{text}");
    assert!(text.contains("*User*\\nreporting from 10.0.3.123"), "{text}");
    assert!(text.contains("*Fingerprint_id*\\n8108187EB6330D26180BB559661F3D6F"), "{text}");
    assert!(text.contains("Fingerprint_id:%228108187EB6330D26180BB559661F3D6F%22"), "the Discover button: {text}");
}
