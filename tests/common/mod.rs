//! Helpers shared by the scenario tests: fixture paths, the shared corpus, building events.
#![allow(dead_code)] // each test crate uses a different subset

pub mod accounting;
pub mod http;
pub mod logs_api;
pub mod real;
pub mod runtime_api;
pub mod slack;
pub mod standin;

use base64::Engine;
use flate2::{write::GzEncoder, Compression};
use serde_json::{json, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// The binary as a user runs it from a shell: the CLI (not the Lambda runtime), every
/// configuration variable cleared so the machine's environment cannot leak in.
pub fn cli() -> std::process::Command {
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_logs-to-opensearch"));
    command.env_remove("AWS_LAMBDA_RUNTIME_API").env_remove("RUST_LOG");
    for var in logs_to_opensearch::config::VARIABLES {
        command.env_remove(var);
    }
    command
}

/// [`cli`] sending to `standin`, signed with its test credentials.
pub fn cli_signed_for(standin: &standin::StandIn) -> std::process::Command {
    let mut command = cli();
    command
        .env("AWS_REGION", standin::REGION)
        .env("AWS_ACCESS_KEY_ID", standin::ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", standin::SECRET_KEY)
        .args(["--endpoint", &standin.url]);
    command
}

/// A file under `index-templates/`, parsed.
pub fn index_templates_file(name: &str) -> Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("index-templates").join(name);
    serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap_or_else(|e| panic!("{name}: {e}"))
}

/// The `properties` of the main index template: the document contract's mapping.
pub fn template_properties() -> serde_json::Map<String, Value> {
    index_templates_file("cwl-slowquery.index-template.json")["template"]["mappings"]["properties"]
        .as_object()
        .unwrap()
        .clone()
}

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

pub fn fixture(relative: &str) -> PathBuf {
    fixtures().join(relative)
}

pub fn read_fixture(relative: &str) -> String {
    std::fs::read_to_string(fixture(relative)).unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// `../shared/corpus/percona-slowlogs`, when the shared folder is beside the repository.
pub fn percona_corpus() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/corpus/percona-slowlogs");
    dir.is_dir().then_some(dir)
}

/// The decoded payloads an event fixture was made from (`events/src/NAME.json`), resolved the
/// way `make_events.py` resolves them.
pub fn source_payloads(name: &str) -> Vec<Value> {
    let spec: Value = serde_json::from_str(&read_fixture(&format!("events/src/{name}"))).unwrap();
    spec["payloads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|payload| {
            let mut payload = payload.clone();
            if let Some(events) = payload["logEvents"].as_array_mut() {
                for (i, event) in events.iter_mut().enumerate() {
                    let event = event.as_object_mut().unwrap();
                    if let Some(file) = event.remove("message_file") {
                        event.insert("message".into(), json!(read_fixture(file.as_str().unwrap())));
                    }
                    if !event.contains_key("id") {
                        let ts = event["timestamp"].as_i64().unwrap();
                        event.insert("id".into(), json!(format!("{:056}", ts * 1000 + i as i64)));
                    }
                }
            }
            payload
        })
        .collect()
}

pub fn gzip_base64(bytes: &[u8]) -> String {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap())
}

/// A CloudWatch Logs subscription event around `payload`.
pub fn awslogs_event(payload: &Value) -> Value {
    json!({"awslogs": {"data": gzip_base64(payload.to_string().as_bytes())}})
}

/// A payload of slow-log entries from one log stream.
pub fn payload(log_group: &str, log_stream: &str, messages: &[&str]) -> Value {
    let events: Vec<Value> = messages
        .iter()
        .enumerate()
        .map(|(i, m)| json!({"id": format!("3700{i:052}"), "timestamp": 1_795_256_131_000i64 + i as i64, "message": m}))
        .collect();
    json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": log_group,
        "logStream": log_stream, "subscriptionFilters": ["f"], "logEvents": events
    })
}

/// Compares two NDJSON bodies line by line as JSON values, naming the first differing line.
pub fn assert_ndjson_eq(actual: &str, expected: &str) {
    let actual: Vec<&str> = actual.lines().collect();
    let expected: Vec<&str> = expected.lines().collect();
    for (i, (a, e)) in actual.iter().zip(&expected).enumerate() {
        let a: Value = serde_json::from_str(a).unwrap_or_else(|err| panic!("line {}: not JSON ({err}): {a}", i + 1));
        let e: Value = serde_json::from_str(e).unwrap();
        assert_eq!(a, e, "line {} differs", i + 1);
    }
    assert_eq!(actual.len(), expected.len(), "line counts differ");
}

/// The repository's README.md.
#[allow(dead_code)] // not every test binary uses it
pub fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

/// Whether the peer tool `program` runs (`program --version`). Absent, the caller skips, with a
/// note naming the Debian `package`; with `LTO_TOOLS_REQUIRED=1` (CI, which installs them) an
/// absent tool fails the test instead.
#[allow(dead_code)] // not every test binary uses it
pub fn peer_tool(program: &str, package: &str) -> bool {
    #[allow(clippy::disallowed_methods, reason = "a test's own switch")]
    let required = std::env::var("LTO_TOOLS_REQUIRED").is_ok_and(|v| v == "1");
    let found = std::process::Command::new(program).arg("--version").output().is_ok_and(|o| o.status.success());
    assert!(found || !required, "{program} is required (LTO_TOOLS_REQUIRED=1) but does not run");
    if !found {
        eprintln!("skipped: {program} is not installed (apt-get install {package})");
    }
    found
}
