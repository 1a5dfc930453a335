//! `logs-to-opensearch setup` against the OpenSearch stand-in: the templates, the ISM policy and
//! the Dashboards objects are installed (signed), a second run replaces them, and documents
//! indexed afterwards are typed by the template, dead letters by theirs.

mod common;

use common::standin::{Auth, Fault, FieldType, StandIn};
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
    assert!(
        stderr.contains("installed index template logs-to-opensearch for [\"cwl-*slowquery*\",\"cwl-*postgresql*\"]"),
        "{stderr}"
    );
    assert!(stderr.contains("installed index template logs-to-opensearch-logs for [\"cwl-*\"]"), "{stderr}");
    assert!(stderr.contains("installed ISM policy logs-to-opensearch-retention: delete indices after 14d"), "{stderr}");
    assert!(stderr.contains("imported Dashboards saved objects: 10 imported"), "{stderr}");

    let template = standin.template("logs-to-opensearch").unwrap();
    assert_eq!(template["index_patterns"], serde_json::json!(["cwl-*slowquery*", "cwl-*postgresql*"]));
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

/// A single 503 (and a dropped connection, and a 429) is what a busy domain answers now and then:
/// setup waits and tries again, as delivery does, and installs everything.
#[test]
fn setup_retries_a_busy_cluster() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    standin.script_path("/_index_template/logs-to-opensearch-logs", Fault::Status(503));
    standin.script_path("/_index_template/logs-to-opensearch-logs", Fault::DropConnection);
    standin.script_path("/_plugins/_ism/policies/", Fault::Status(429));
    standin.script_path("/_dashboards/", Fault::HtmlBadGateway);
    let out = common::cli_signed_for(&standin).args(["setup"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(standin.template("logs-to-opensearch-logs").is_some());
    assert!(standin.policy("logs-to-opensearch-retention").is_some());
    assert!(text(&out).contains("imported Dashboards saved objects: 10 imported"), "{}", text(&out));

    // A cluster that stays unavailable: given up at --retry-for, with the number of tries.
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    for _ in 0..100 {
        standin.script_path("/_index_template/logs-to-opensearch-deadletter", Fault::Status(503));
    }
    let out = common::cli_signed_for(&standin).args(["--retry-for", "2", "setup", "--no-dashboards"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = text(&out);
    let line = stderr.lines().find(|l| l.contains("FAILED: index template logs-to-opensearch-deadletter")).unwrap();
    assert!(line.contains("HTTP 503 (tried ") && line.contains("no cluster-manager"), "{line}");
    // The others went on.
    assert!(
        standin.template("logs-to-opensearch").is_some() && standin.policy("logs-to-opensearch-retention").is_some()
    );
}

/// One piece refused (an ISM 403 from the security plugin) does not skip the others; each is
/// reported, and the exit status says something failed.
#[test]
fn setup_goes_on_after_a_piece_fails_and_reports_each() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let denied = r#"{"error":{"root_cause":[{"type":"security_exception","reason":"no permissions for [cluster:admin/opendistro/ism/policy/get] and User [name=arn:aws:iam::123456789012:role/setup]"}],"type":"security_exception","reason":"no permissions for [cluster:admin/opendistro/ism/policy/get]"},"status":403}"#;
    standin.script_path("/_plugins/_ism/", Fault::Answer(403, "application/json", denied.to_owned()));
    let out = common::cli_signed_for(&standin).args(["setup"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = text(&out);
    assert!(
        stderr.contains("FAILED: ISM policy logs-to-opensearch-retention: the cluster answered HTTP 403")
            && stderr.contains("no permissions for [cluster:admin/opendistro/ism/policy/get]"),
        "{stderr}"
    );
    assert!(stderr.contains("imported Dashboards saved objects: 10 imported"), "the dashboards still: {stderr}");
    assert!(stderr.contains("1 piece(s) failed"), "{stderr}");
    assert!(standin.policy("logs-to-opensearch-retention").is_none());
    assert!(standin.saved_objects().len() == 10);

    // --no-ism: no policy asked for, nothing failed.
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    standin.script_path("/_plugins/_ism/", Fault::Answer(403, "application/json", denied.to_owned()));
    let out = common::cli_signed_for(&standin).args(["setup", "--no-ism"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("skipped the ISM policy (--no-ism)"), "{}", text(&out));
}

/// An answer that is not the API's (a login page with 200, the wrong path) is described, with the
/// body and a hint, never as `HTTP 200: null`.
#[test]
fn an_unexpected_dashboards_answer_is_shown_with_a_hint() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let login = "<html><head><title>Log in</title></head><body>Please log in</body></html>";
    standin.script_path("/_dashboards/", Fault::Answer(200, "text/html", login.to_owned()));
    let out = common::cli_signed_for(&standin).args(["setup"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let stderr = text(&out);
    let line = stderr.lines().find(|l| l.contains("FAILED: Dashboards saved objects")).unwrap();
    assert!(line.contains("an unexpected answer (HTTP 200") && line.contains("Please log in"), "{line}");
    assert!(line.contains("is --dashboards-path right?") && !line.contains("null"), "{line}");

    let out = common::cli_signed_for(&standin).args(["setup", "--dashboards-path", "kibana"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let line = text(&out).lines().find(|l| l.contains("FAILED: Dashboards")).unwrap().to_owned();
    assert!(line.contains("HTTP 404") && line.contains("is --dashboards-path right?"), "{line}");
}

/// ISM gives the policy to new indices only: setup counts the indices already there without
/// one, `--attach-existing` attaches it to them, and an index under another policy is left alone.
#[test]
fn setup_offers_and_attaches_the_retention_policy_to_existing_indices() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    standin.create_index("cwl-aws-rds-instance-db-1-slowquery-2026.11.20", None);
    standin.create_index("cwl-aws-rds-instance-db-1-slowquery-2026.11.21", None);
    standin.create_index("cwl-aws-lambda-api-2026.11.21", Some("keep-forever"));
    standin.create_index("other-2026.11.21", None);
    let out = common::cli_signed_for(&standin).args(["setup", "--no-dashboards"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    let stderr = text(&out);
    assert!(
        stderr.contains("checked existing indices cwl-*: 2 without a policy, kept until deleted")
            && stderr.contains("`setup --attach-existing` attaches it")
            && stderr.contains("1 managed by another policy"),
        "{stderr}"
    );
    assert_eq!(standin.index_policy("cwl-aws-rds-instance-db-1-slowquery-2026.11.20"), None, "only offered");

    let out =
        common::cli_signed_for(&standin).args(["setup", "--no-dashboards", "--attach-existing"]).output().unwrap();
    assert!(out.status.success(), "{}", text(&out));
    assert!(text(&out).contains("attached the retention policy to 2 without one"), "{}", text(&out));
    for index in ["cwl-aws-rds-instance-db-1-slowquery-2026.11.20", "cwl-aws-rds-instance-db-1-slowquery-2026.11.21"] {
        assert_eq!(standin.index_policy(index).as_deref(), Some("logs-to-opensearch-retention"), "{index}");
    }
    assert_eq!(standin.index_policy("cwl-aws-lambda-api-2026.11.21").as_deref(), Some("keep-forever"));
    assert_eq!(standin.index_policy("other-2026.11.21"), None, "not of the prefix");

    // New indices get it from the policy's ism_template; nothing is left to attach.
    standin.create_index("cwl-aws-rds-instance-db-1-slowquery-2026.11.22", None);
    assert_eq!(
        standin.index_policy("cwl-aws-rds-instance-db-1-slowquery-2026.11.22").as_deref(),
        Some("logs-to-opensearch-retention")
    );
    let out = common::cli_signed_for(&standin).args(["setup", "--no-dashboards"]).output().unwrap();
    assert!(text(&out).contains("3 under the retention policy, 1 managed by another policy"), "{}", text(&out));
    assert!(text(&out).contains("none without a policy"), "{}", text(&out));
}
