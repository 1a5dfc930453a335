//! The Lambda face, end to end: the real binary with `AWS_LAMBDA_RUNTIME_API` set runs the real
//! `lambda_runtime` loop against a stand-in of the Lambda Runtime API on loopback
//! ([`common::runtime_api`]), which hands out events and records what the function answers: a
//! response (the summary) or an error with its `errorType`.

mod common;

use common::runtime_api::{run_function, FakeRuntimeApi};
use common::standin::{self, Auth, Fault, StandIn};
use serde_json::Value;
use std::time::Duration;

#[test]
fn runs_as_a_lambda_function_and_answers_each_invocation() {
    let event = |name: &str| std::fs::read(common::fixture(&format!("events/{name}"))).unwrap();
    let api = FakeRuntimeApi::start(vec![
        ("req-1".into(), event("rds-mysql80-slowquery.json")),
        ("req-2".into(), event("broken-gzip.json")),
        ("req-3".into(), event("control-message.json")),
        ("req-4".into(), event("kinesis-cross-account.json")),
        // Not JSON: the runtime crate parses before the handler, and would report its own type.
        ("req-5".into(), b"awslogs=H4sIAAAA".to_vec()),
        ("req-6".into(), b"{\"awslogs\": {\"data\": ".to_vec()),
    ]);
    let (answers, stdout) = run_function(&api, &[], 6);

    let by_id = |id: &str| answers.iter().find(|a| a.request_id == id).unwrap_or_else(|| panic!("no answer for {id}"));
    let first = by_id("req-1");
    assert_eq!(first.kind, "response");
    assert_eq!((first.body["events"].as_u64(), first.body["documents"].as_u64()), (Some(5), Some(5)));

    let broken = by_id("req-2");
    assert_eq!(broken.kind, "error");
    assert_eq!(broken.body["errorType"], "NonRetryable.Gzip");
    assert_eq!(broken.error_type_header.as_deref(), Some("unhandled"), "reported as a function error");
    assert!(broken.body["errorMessage"].as_str().unwrap().contains("awslogs.data: gzip layer"), "{:?}", broken.body);

    let control = by_id("req-3");
    assert_eq!((control.kind, control.body["control_messages"].as_u64()), ("response", Some(1)));

    for id in ["req-5", "req-6"] {
        let not_json = by_id(id);
        assert_eq!((not_json.kind, &not_json.body["errorType"]), ("error", &Value::from("NonRetryable.Json")), "{id}");
        let message = not_json.body["errorMessage"].as_str().unwrap();
        assert!(message.starts_with("the invocation's payload is not JSON ("), "{id}: {message}");
    }

    let kinesis = by_id("req-4");
    assert_eq!((kinesis.body["batches"].as_u64(), kinesis.body["documents"].as_u64()), (Some(3), Some(4)));

    // With AWS_LAMBDA_LOG_FORMAT=JSON every log line is JSON; the dry-run body is NDJSON too.
    let lines: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let summaries: Vec<&Value> = lines.iter().filter(|l| l["fields"]["message"] == "invocation summary").collect();
    assert_eq!(summaries.len(), 3, "one summary line per successful invocation:\n{stdout}");
    assert_eq!(summaries[0]["fields"]["documents"], 5);
    assert!(lines.iter().any(|l| l["index"]["_index"] == "cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21"));
    // The runtime logs the error with {:?}: it must read as a sentence, not a struct dump.
    let error_line = lines.iter().find(|l| l["level"] == "ERROR").expect("the failed invocation is logged");
    assert_eq!(error_line["span"]["requestId"], "req-2");
    assert!(
        error_line["fields"]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot decode the event: awslogs.data: gzip layer"),
        "{error_line}"
    );
}

#[test]
fn sends_to_opensearch_reports_metrics_and_fails_retryably_when_the_cluster_is_down() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    standin.script(Fault::Pass); // the first invocation's request
    for _ in 0..500 {
        standin.script(Fault::Status(503)); // then an outage longer than an invocation
    }
    let event = |name: &str| std::fs::read(common::fixture(&format!("events/{name}"))).unwrap();
    let api = FakeRuntimeApi::with_budget(
        vec![("req-1".into(), event("rds-mysql80-slowquery.json")), ("req-2".into(), event("mariadb-slowquery.json"))],
        Duration::from_millis(2500),
    );
    let env = [
        ("AWS_LAMBDA_FUNCTION_NAME", "rds-slowlogs"),
        ("OPENSEARCH_ENDPOINT", standin.url.as_str()),
        ("AWS_REGION", standin::REGION),
        ("AWS_ACCESS_KEY_ID", standin::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", standin::SECRET_KEY),
        ("AWS_SESSION_TOKEN", "token"),
    ];
    let (answers, stdout) = run_function(&api, &env, 2);

    let first = answers.iter().find(|a| a.request_id == "req-1").unwrap();
    assert_eq!(first.kind, "response");
    assert_eq!((first.body["indexed"].as_u64(), first.body["failed"].as_u64()), (Some(5), Some(0)));
    assert_eq!(standin.count("cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21"), 5);

    let second = answers.iter().find(|a| a.request_id == "req-2").unwrap();
    assert_eq!(second.kind, "error");
    assert_eq!(second.body["errorType"], "Retryable.Undelivered");
    assert!(second.body["errorMessage"].as_str().unwrap().contains("503"), "{:?}", second.body);

    let lines: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    assert!(!stdout.contains(standin::SECRET_KEY), "no secret in the logs");
    assert!(!lines.iter().any(|l| l.get("index").is_some()), "no _bulk body in the log when sending");
    // One EMF line per invocation, the failed one included, so the failure becomes a metric.
    let metrics: Vec<&Value> = lines.iter().filter(|l| l.get("_aws").is_some()).collect();
    assert_eq!(metrics.len(), 2, "{stdout}");
    assert_eq!(metrics[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"], "LogsToOpenSearch");
    assert_eq!(metrics[0]["FunctionName"], "rds-slowlogs");
    assert_eq!((metrics[0]["Indexed"].as_u64(), metrics[1]["Failed"].as_u64()), (Some(5), Some(5)));
    let summaries: Vec<&Value> = lines.iter().filter(|l| l["fields"]["message"] == "invocation summary").collect();
    assert_eq!(summaries.len(), 2, "a summary for the failed invocation too");
    assert_eq!(
        (summaries[1]["fields"]["failed"].as_u64(), summaries[1]["fields"]["indexed"].as_u64()),
        (Some(5), Some(0))
    );
    assert!(
        lines.iter().any(|l| l["fields"]["message"] == "item not indexed" && l["fields"]["status"] == 503),
        "the first failed items are logged with their reasons"
    );
}

#[test]
fn alerts_go_to_slack_with_the_webhook_from_the_extension_read_once() {
    let slack = common::slack::SlackReceiver::start();
    const ARN: &str = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:slack/alerts-AbCdEf";
    let extension = common::slack::Extension::start("lambda-session-token", &[(ARN, &slack.url)], &[]);
    let port = extension.port.to_string();
    let event = std::fs::read(common::fixture("events/rds-mysql80-slowquery.json")).unwrap();
    let api = FakeRuntimeApi::start(vec![("req-1".into(), event.clone()), ("req-2".into(), event)]);
    let env = [
        ("SLOW_QUERY_ALERT_SECONDS", "5"),
        ("SLACK_WEBHOOK_SECRET_ARN", ARN),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", port.as_str()),
        ("AWS_SESSION_TOKEN", "lambda-session-token"),
        ("ALERT_COOLDOWN_SECONDS", "0"),
    ];
    let (answers, stdout) = run_function(&api, &env, 2);
    for answer in &answers {
        assert_eq!(answer.kind, "response", "{answer:?}");
        assert_eq!((answer.body["alert_entries"].as_u64(), answer.body["alerts_sent"].as_u64()), (Some(2), Some(2)));
    }
    assert_eq!(slack.received().len(), 4);
    assert_eq!(extension.calls(), 1, "the secret is read once per execution environment");
    assert!(!stdout.contains(common::slack::WEBHOOK_SECRET_PART), "the webhook URL is never logged");
    let metrics: Vec<Value> = stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|l| l.get("_aws").is_some())
        .collect();
    assert_eq!(metrics[0]["AlertsSent"], 2);
}

#[test]
fn without_a_webhook_the_function_logs_its_alerts() {
    let event = std::fs::read(common::fixture("events/rds-mysql80-slowquery.json")).unwrap();
    let api = FakeRuntimeApi::start(vec![("req-1".into(), event)]);
    let (answers, stdout) = run_function(&api, &[("SLOW_QUERY_ALERT_SECONDS", "5")], 1);
    assert_eq!(answers[0].body["alert_messages"], 2);
    let lines: Vec<Value> = stdout.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let alerts: Vec<&Value> =
        lines.iter().filter(|l| l["fields"]["message"] == "alert (no Slack webhook configured: not sent)").collect();
    assert_eq!(alerts.len(), 2, "{stdout}");
    assert!(alerts[0]["fields"]["alert"].as_str().unwrap().starts_with("Slow query on prod-db-1: 7.412893 s"));
}

#[test]
fn install_templates_puts_the_index_templates_before_the_first_batch() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let event = std::fs::read(common::fixture("events/rds-mysql80-slowquery.json")).unwrap();
    let api = FakeRuntimeApi::start(vec![("req-1".into(), event)]);
    let env = [
        ("INSTALL_TEMPLATES", "true"),
        ("OPENSEARCH_ENDPOINT", standin.url.as_str()),
        ("AWS_REGION", standin::REGION),
        ("AWS_ACCESS_KEY_ID", standin::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", standin::SECRET_KEY),
    ];
    let (answers, _) = run_function(&api, &env, 1);
    assert_eq!(answers[0].body["indexed"], 5);
    assert!(standin.template("logs-to-opensearch").is_some());
    assert!(standin.template("logs-to-opensearch-deadletter").is_some());
    let index = "cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21";
    assert_eq!(standin.mapping(index, "IP"), Some(common::standin::FieldType::Ip), "typed by the template");
}

/// Runs the function until it exits (at most 30 s); its exit code, stdout and stderr.
fn run_until_exit(mut command: std::process::Command) -> (Option<i32>, String, String) {
    let mut child = command.spawn().unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the function did not stop");
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_missing_lambda_variable_is_an_init_error_not_a_panic() {
    let api = FakeRuntimeApi::start(vec![]);
    let mut command = common::runtime_api::function_command(&api, &[]);
    command.env_remove("AWS_LAMBDA_FUNCTION_NAME");
    let (code, stdout, stderr) = run_until_exit(command);
    assert_eq!(code, Some(1), "{stdout}{stderr}");
    assert!(!stderr.contains("panicked") && !stdout.contains("panicked"), "{stdout}{stderr}");
    let errors = api.init_errors();
    assert_eq!(errors.len(), 1, "posted to /runtime/init/error: {errors:?}");
    assert_eq!(errors[0].0.as_deref(), Some("Runtime.InvalidEnvironment"));
    let message = errors[0].1["errorMessage"].as_str().unwrap();
    assert!(message.contains("AWS_LAMBDA_FUNCTION_NAME is not"), "{message}");
    assert_eq!(api.first_next_at(), None, "no invocation was asked for");
}

#[test]
fn invalid_configuration_is_posted_as_the_init_error_naming_the_variable() {
    let api = FakeRuntimeApi::start(vec![]);
    let command = common::runtime_api::function_command(&api, &[("BULK_MAX_BYTES", "lots")]);
    let (code, stdout, stderr) = run_until_exit(command);
    assert_eq!(code, Some(2), "{stdout}{stderr}");
    let errors = api.init_errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert_eq!(errors[0].0.as_deref(), Some("NonRetryable.Configuration"));
    let message = errors[0].1["errorMessage"].as_str().unwrap();
    assert!(message.starts_with("invalid configuration: BULK_MAX_BYTES") && message.contains("lots"), "{message}");
}

#[test]
fn an_answer_without_a_deadline_stops_the_function_with_a_clear_error_not_a_panic() {
    let event = std::fs::read(common::fixture("events/rds-mysql80-slowquery.json")).unwrap();
    let api = FakeRuntimeApi::start(vec![("req-1".into(), event)]);
    api.omit_deadline();
    let (code, stdout, stderr) = run_until_exit(common::runtime_api::function_command(&api, &[]));
    assert_eq!(code, Some(1), "exit 1, not a panic's 101: {stdout}{stderr}");
    assert!(!stderr.contains("panicked at"), "{stderr}");
    assert!(stdout.contains("Lambda-Runtime-") && stdout.contains("deadline"), "says what was wrong: {stdout}");
}

/// With the function's log format Text (or unset), CloudWatch stores the lines as written: no ANSI
/// colour codes, since stdout is not a terminal.
#[test]
fn text_logs_carry_no_colour_codes() {
    let event = std::fs::read(common::fixture("events/broken-gzip.json")).unwrap();
    for format in ["Text", ""] {
        let api = FakeRuntimeApi::start(vec![("req-1".into(), event.clone())]);
        let (answers, stdout) = run_function(&api, &[("AWS_LAMBDA_LOG_FORMAT", format)], 1);
        assert_eq!(answers[0].kind, "error");
        assert!(stdout.contains("ERROR") && stdout.contains("gzip layer"), "the error is logged as text:\n{stdout}");
        assert!(!stdout.contains('\u{1b}'), "ANSI escape codes in the log ({format:?}):\n{stdout:?}");
        assert!(serde_json::from_str::<Value>(stdout.lines().next().unwrap()).is_err(), "text, not JSON");
    }
}

#[test]
fn a_scheduled_digest_that_cannot_reach_the_cluster_answers_the_failure_and_is_not_retried() {
    let event = std::fs::read(common::fixture("scheduled/eventbridge-scheduled-event.json")).unwrap();
    let api = FakeRuntimeApi::start(vec![("sched-1".into(), event)]);
    // Nothing listens on port 9 of loopback.
    let env = [
        ("OPENSEARCH_ENDPOINT", "http://127.0.0.1:9"),
        ("OPENSEARCH_AUTH", "none"),
        ("OPENSEARCH_TIMEOUT_SECONDS", "2"),
    ];
    let (answers, stdout) = run_function(&api, &env, 1);
    // An answer, not an error: Lambda retries a failed asynchronous invocation; the next
    // schedule is the retry.
    assert_eq!(answers[0].kind, "response", "{:?}", answers[0].body);
    assert_eq!(answers[0].body["digest"], "failed");
    assert!(
        answers[0].body["error"].as_str().unwrap().contains("did not answer the digest's search"),
        "{:?}",
        answers[0].body
    );
    assert!(stdout.contains("\"DigestFailed\":1"), "{stdout}");
}
