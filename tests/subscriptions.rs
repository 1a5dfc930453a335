//! Log-group subscriptions end to end: the real binary as the Lambda function serving the
//! template's custom resource (Create, Update, Delete, failures, running out of time) and
//! CloudTrail's CreateLogGroup events, and the `subscribe` command's plan and apply, against a
//! loopback stand-in of the CloudWatch Logs API (the real AWS SDK talks to it) and of
//! CloudFormation's pre-signed response URL.

mod common;

use common::logs_api::{Filter, LogsApi, ResponseUrl};
use common::runtime_api::{run_function, FakeRuntimeApi};
use serde_json::{json, Value};
use std::time::Duration;

const FUNCTION: &str = "arn:aws:lambda:eu-west-1:123456789012:function:stack-Function-ABC";
const OTHER_FUNCTION: &str = "arn:aws:lambda:eu-west-1:123456789012:function:other";
const FILTER: &str = "stack-logs-to-opensearch";
const A: &str = "/aws/rds/instance/a/slowquery";
const B: &str = "/aws/rds/instance/b/slowquery";
const C: &str = "/aws/rds/cluster/c/slowquery";
const A_ERROR: &str = "/aws/rds/instance/a/error";

fn properties(names: &[&str], patterns: &[&str], destination: &str) -> Value {
    json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:123456789012:function:stack-Subscriptions-XYZ",
        "DestinationArn": destination,
        "FilterName": FILTER,
        "LogGroupNames": names,
        "LogGroupPatterns": patterns,
    })
}

fn request(kind: &str, response: &ResponseUrl, properties: Value, old: Option<Value>, physical: Option<&str>) -> Value {
    let mut event = json!({
        "RequestType": kind,
        "ServiceToken": properties["ServiceToken"],
        "ResponseURL": response.url,
        "StackId": "arn:aws:cloudformation:eu-west-1:123456789012:stack/stack/5b1c2e40-0000-11ef-9c2a-0a1b2c3d4e5f",
        "RequestId": format!("req-{kind}"),
        "LogicalResourceId": "Subscriptions",
        "ResourceType": "Custom::LogGroupSubscriptions",
        "ResourceProperties": properties,
    });
    if let Some(old) = old {
        event["OldResourceProperties"] = old;
    }
    if let Some(physical) = physical {
        event["PhysicalResourceId"] = json!(physical);
    }
    event
}

/// Runs the function on one event with the stand-in's environment; returns the Runtime API
/// answer, CloudFormation's answers so far, and the function's stdout.
fn invoke(
    api_env: &[(&'static str, String)],
    event: &Value,
    budget: Duration,
) -> (common::runtime_api::Answer, String) {
    let api = FakeRuntimeApi::with_budget(vec![("inv-1".into(), event.to_string().into_bytes())], budget);
    let env: Vec<(&str, &str)> = api_env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let (answers, stdout) = run_function(&api, &env, 1);
    (answers.into_iter().next().unwrap(), stdout)
}

fn last_answer(response: &ResponseUrl) -> Value {
    let answers = response.answers();
    let (method, content_type, body) = answers.last().cloned().expect("CloudFormation got no answer");
    assert_eq!(method, "PUT");
    assert_eq!(content_type, None, "the pre-signed URL is signed without a content type");
    body
}

#[test]
fn create_update_and_delete_manage_exactly_our_filters() {
    let logs = LogsApi::start(&[A, B, C, A_ERROR]);
    logs.add_group("/aws/rds/cluster/d/slowquery", &[("someone-else", OTHER_FUNCTION)]);
    let response = ResponseUrl::start();
    let env = logs.env();
    let minute = Duration::from_secs(60);

    // Create: the two names and the pattern's existing matches.
    let create = properties(&[A, B], &["/aws/rds/cluster/*/slowquery"], FUNCTION);
    let (answer, _) = invoke(&env, &request("Create", &response, create.clone(), None, None), minute);
    assert_eq!(answer.kind, "response", "{answer:?}");
    let sent = last_answer(&response);
    assert_eq!(sent["Status"], "SUCCESS", "{sent}");
    assert_eq!(sent["PhysicalResourceId"], FILTER);
    assert_eq!(sent["RequestId"], "req-Create");
    assert_eq!(sent["LogicalResourceId"], "Subscriptions");
    assert!(sent["StackId"].as_str().unwrap().starts_with("arn:aws:cloudformation:"));
    assert_eq!(sent["Data"]["Subscribed"], 4);
    let d = "/aws/rds/cluster/d/slowquery";
    assert_eq!(logs.subscribed(FILTER), vec![C, d, A, B]);
    assert_eq!(logs.filters(A), vec![Filter { name: FILTER.into(), destination: FUNCTION.into() }]);
    assert_eq!(logs.filters(d).len(), 2, "the other filter stays");
    assert!(logs.filters(A_ERROR).is_empty(), "not listed, not matched");
    assert_eq!(logs.unsigned_requests(), 0);

    // Update: A dropped from the list, the destination changed.
    let update = properties(&[B], &["/aws/rds/cluster/*/slowquery"], OTHER_FUNCTION);
    let (answer, _) = invoke(&env, &request("Update", &response, update.clone(), Some(create), Some(FILTER)), minute);
    assert_eq!(answer.kind, "response", "{answer:?}");
    let sent = last_answer(&response);
    assert_eq!(sent["Status"], "SUCCESS", "{sent}");
    assert_eq!(sent["Data"]["Unsubscribed"], 1);
    assert_eq!(logs.subscribed(FILTER), vec![C, d, B]);
    assert_eq!(logs.filters(B), vec![Filter { name: FILTER.into(), destination: OTHER_FUNCTION.into() }]);
    let listings = logs.calls().iter().filter(|c| *c == "DescribeLogGroups").count();
    assert_eq!(listings, 2, "one listing for the Create, one for the Update (its old patterns are the same)");

    // Delete: ours go, the other filter stays.
    let (answer, _) = invoke(&env, &request("Delete", &response, update, None, Some(FILTER)), minute);
    assert_eq!(answer.kind, "response", "{answer:?}");
    assert_eq!(last_answer(&response)["Status"], "SUCCESS");
    assert!(logs.subscribed(FILTER).is_empty(), "{:?}", logs.subscribed(FILTER));
    assert_eq!(logs.filters(d), vec![Filter { name: "someone-else".into(), destination: OTHER_FUNCTION.into() }]);
}

#[test]
fn a_refused_call_answers_failed_with_the_reason_and_the_rollback_cleans_up() {
    let logs = LogsApi::start(&[A, B]);
    logs.fail(
        "PutSubscriptionFilter",
        B,
        400,
        "InvalidParameterException",
        "Could not execute the lambda function. Make sure you have given CloudWatch Logs permission to execute your function.",
    );
    let response = ResponseUrl::start();
    let env = logs.env();
    let create = properties(&[A, B], &[], FUNCTION);
    let (answer, stdout) =
        invoke(&env, &request("Create", &response, create.clone(), None, None), Duration::from_secs(60));
    assert_eq!(answer.kind, "response", "the invocation itself succeeds: CloudFormation has its answer");
    let sent = last_answer(&response);
    assert_eq!(sent["Status"], "FAILED", "{sent}");
    let reason = sent["Reason"].as_str().unwrap();
    assert!(reason.contains(B) && reason.contains("InvalidParameterException"), "{reason}");
    assert!(reason.contains("logs.amazonaws.com"), "the hint says what to fix: {reason}");
    assert!(!reason.contains(A), "A succeeded: {reason}");
    assert_eq!(sent["PhysicalResourceId"], FILTER, "so the rollback's Delete can find what was made");
    assert_eq!(logs.subscribed(FILTER), vec![A]);
    assert!(!stdout.contains("SECRETSIGNATURE") && !stdout.contains(common::logs_api::SECRET_KEY));

    // CloudFormation rolls back with a Delete: A's filter goes, B's absence is no error.
    let (_, _) = invoke(&env, &request("Delete", &response, create, None, Some(FILTER)), Duration::from_secs(60));
    assert_eq!(last_answer(&response)["Status"], "SUCCESS");
    assert!(logs.subscribed(FILTER).is_empty());
}

#[test]
fn unreadable_properties_fail_the_create_and_its_rollback_succeeds_without_calls() {
    let logs = LogsApi::start(&[A]);
    let response = ResponseUrl::start();
    let env = logs.env();
    let bad = properties(&["/aws/rds/instance/{db}/slowquery"], &[], FUNCTION);
    invoke(&env, &request("Create", &response, bad.clone(), None, None), Duration::from_secs(60));
    let sent = last_answer(&response);
    assert_eq!(sent["Status"], "FAILED");
    assert!(sent["Reason"].as_str().unwrap().contains("LogGroupNames"), "{sent}");
    let physical = sent["PhysicalResourceId"].as_str().unwrap().to_owned();
    invoke(&env, &request("Delete", &response, bad, None, Some(&physical)), Duration::from_secs(60));
    assert_eq!(last_answer(&response)["Status"], "SUCCESS");
    assert!(logs.calls().is_empty(), "{:?}", logs.calls());
}

#[test]
fn a_slow_api_still_gets_cloudformation_an_answer_before_the_deadline() {
    let logs = LogsApi::start(&[A, B]);
    logs.delay(Duration::from_secs(4));
    let response = ResponseUrl::start();
    let env = logs.env();
    // 12 s left: 2 s of work (10 s are kept for the answer), then FAILED.
    let (answer, _) = invoke(
        &env,
        &request("Create", &response, properties(&[A, B], &[], FUNCTION), None, None),
        Duration::from_secs(12),
    );
    assert_eq!(answer.kind, "response", "{answer:?}");
    let sent = last_answer(&response);
    assert_eq!(sent["Status"], "FAILED");
    assert!(sent["Reason"].as_str().unwrap().contains("ran out of time"), "{sent}");
}

#[test]
fn without_credentials_the_answer_is_failed_and_says_which_variables() {
    let logs = LogsApi::start(&[A]);
    let response = ResponseUrl::start();
    let env = vec![("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", logs.url.clone())];
    invoke(&env, &request("Create", &response, properties(&[A], &[], FUNCTION), None, None), Duration::from_secs(60));
    let sent = last_answer(&response);
    assert_eq!(sent["Status"], "FAILED");
    assert!(sent["Reason"].as_str().unwrap().contains("AWS_ACCESS_KEY_ID"), "{sent}");
}

#[test]
fn an_unreachable_response_url_fails_the_invocation_without_showing_the_signature() {
    let logs = LogsApi::start(&[A]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let mut event = request("Create", &ResponseUrl::start(), properties(&[A], &[], FUNCTION), None, None);
    event["ResponseURL"] = json!(format!("http://127.0.0.1:{port}/bucket/key?X-Amz-Signature=SECRETSIGNATURE"));
    let (answer, stdout) = invoke(&logs.env(), &event, Duration::from_secs(60));
    assert_eq!(answer.kind, "error");
    assert_eq!(answer.body["errorType"], "Retryable.CustomResource", "{:?}", answer.body);
    assert!(answer.body["errorMessage"].as_str().unwrap().contains("ResponseURL"), "{:?}", answer.body);
    assert!(!answer.body.to_string().contains("SECRETSIGNATURE") && !stdout.contains("SECRETSIGNATURE"));
}

fn created(name: &str) -> Value {
    json!({
        "version": "0",
        "id": "6f1d3b1e-7e43-4a52-b0e4-9d1c2a3b4c5d",
        "detail-type": "AWS API Call via CloudTrail",
        "source": "aws.logs",
        "account": "123456789012",
        "time": "2026-12-03T10:00:00Z",
        "region": "eu-west-1",
        "resources": [],
        "detail": {
            "eventVersion": "1.09",
            "userIdentity": {"type": "AWSService", "invokedBy": "rds.amazonaws.com"},
            "eventTime": "2026-12-03T10:00:00Z",
            "eventSource": "logs.amazonaws.com",
            "eventName": "CreateLogGroup",
            "awsRegion": "eu-west-1",
            "requestParameters": {"logGroupName": name},
            "responseElements": null,
            "eventType": "AwsApiCall",
        }
    })
}

#[test]
fn a_new_log_group_matching_the_pattern_is_subscribed_and_others_are_ignored() {
    let logs = LogsApi::start(&[A, A_ERROR]);
    let mut env = logs.env();
    env.push(("SUBSCRIPTION_DESTINATION_ARN", FUNCTION.into()));
    env.push(("SUBSCRIPTION_FILTER_NAME", FILTER.into()));
    env.push(("SUBSCRIBE_LOG_GROUP_PATTERNS", "/aws/rds/*/slowquery".into()));
    let (answer, _) = invoke(&env, &created(A), Duration::from_secs(60));
    assert_eq!(answer.kind, "response", "{answer:?}");
    assert_eq!(answer.body["subscribed"], A);
    assert_eq!(logs.filters(A), vec![Filter { name: FILTER.into(), destination: FUNCTION.into() }]);

    let (answer, _) = invoke(&env, &created(A_ERROR), Duration::from_secs(60));
    assert!(answer.body["ignored"].as_str().unwrap().contains("matches none"), "{:?}", answer.body);
    assert!(logs.filters(A_ERROR).is_empty());

    logs.add_group(B, &[("x", OTHER_FUNCTION), ("y", OTHER_FUNCTION)]);
    let (answer, _) = invoke(&env, &created(B), Duration::from_secs(60));
    assert_eq!(answer.kind, "error", "a failed subscription fails the event, so Lambda retries it");
    assert_eq!(answer.body["errorType"], "NonRetryable.Subscription");
    let message = answer.body["errorMessage"].as_str().unwrap();
    assert!(message.contains("LimitExceededException") && message.contains(B), "{message}");
}

fn subscribe_cli(logs: &LogsApi, args: &[&str]) -> (i32, String, String) {
    let mut command = common::cli();
    command.envs(logs.env()).arg("subscribe").args(args);
    let output = command.output().unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn subscribe_plans_by_default_and_changes_only_with_apply() {
    let logs = LogsApi::start(&[A, C, A_ERROR]);
    logs.add_group(B, &[("x", OTHER_FUNCTION), ("y", OTHER_FUNCTION)]);
    let args = ["--pattern", "/aws/rds/*/slowquery", "--destination-arn", FUNCTION];
    let (code, stdout, stderr) = subscribe_cli(&logs, &args);
    assert_eq!(code, 0, "{stderr}");
    assert!(stdout.contains(&format!("{A}  subscribe")), "{stdout}");
    assert!(stdout.contains(&format!("{C}  subscribe")), "{stdout}");
    assert!(stdout.contains(&format!("{B}  blocked: it already has 2 subscription filters (x, y)")), "{stdout}");
    assert!(!stdout.contains(A_ERROR), "{stdout}");
    assert!(stderr.contains("dry run") && stderr.contains("--apply"), "{stderr}");
    assert!(logs.changes().is_empty(), "a dry run changed {:?}", logs.changes());

    let mut apply = args.to_vec();
    apply.push("--apply");
    let (code, stdout, stderr) = subscribe_cli(&logs, &apply);
    assert_eq!(code, 1, "the blocked log group makes --apply fail: {stderr}");
    assert!(stdout.contains(&format!("done: {A}")) && stdout.contains(&format!("done: {C}")), "{stdout}");
    assert_eq!(logs.subscribed("logs-to-opensearch"), vec![C, A]);
    assert_eq!(logs.filters(B).len(), 2, "blocked: not touched");

    // Again: nothing left to do for A and C.
    let (_, stdout, _) = subscribe_cli(&logs, &args);
    assert!(stdout.contains(&format!("{A}  unchanged (already subscribed)")), "{stdout}");

    let (code, stdout, stderr) = subscribe_cli(&logs, &["--log-group", A, "--unsubscribe", "--apply"]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(logs.subscribed("logs-to-opensearch"), vec![C]);
}

#[test]
fn subscribe_refuses_bad_arguments_before_calling_anything() {
    let logs = LogsApi::start(&[A]);
    let (code, _, stderr) = subscribe_cli(&logs, &["--pattern", "/aws/rds/{x}", "--destination-arn", FUNCTION]);
    assert_eq!(code, 2, "a usage error");
    assert!(stderr.contains("--pattern") && stderr.contains("'{'"), "{stderr}");
    let (code, _, stderr) = subscribe_cli(&logs, &["--pattern", "/aws/rds/*"]);
    assert_eq!(code, 2, "a usage error");
    assert!(stderr.contains("--destination-arn"), "{stderr}");
    let (code, _, stderr) = subscribe_cli(&logs, &["--destination-arn", FUNCTION]);
    assert_eq!(code, 2, "a usage error");
    assert!(stderr.contains("--log-group"), "{stderr}");
    let (code, _, stderr) = subscribe_cli(&logs, &["--log-group", A, "--apply", "--dry-run"]);
    assert_eq!(code, 2, "{stderr}");
    assert!(logs.calls().is_empty());
}
