//! The README's re-drive loop, run as it is written (the ```sh block after "Re-driving
//! failures"), by bash, with the real binary and a stand-in for the `aws` CLI
//! (`tests/redrive/aws`, an SQS queue with a redrive policy in a JSON file): it ends, deletes what
//! replays, and a message that keeps failing is moved to the poison queue, not retried forever.
//! Needs bash and jq (skips without jq unless `LTO_TOOLS_REQUIRED=1`, as in CI).

mod common;

use serde_json::{json, Value};
use std::process::Command;

fn readme_loop() -> String {
    let readme = common::readme();
    let block: Vec<&str> = readme
        .lines()
        .skip_while(|l| !l.starts_with("**Re-driving failures.**"))
        .skip_while(|l| *l != "```sh")
        .skip(1)
        .take_while(|l| *l != "```")
        .collect();
    assert!(block.iter().any(|l| l.contains("receive-message")), "no re-drive loop in README.md: {block:?}");
    block.join("\n")
}

#[test]
fn the_readme_redrive_loop_ends_and_moves_a_poison_message_aside() {
    if !common::peer_tool("jq", "jq") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("lto-redrive-{}", std::process::id()));
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    std::fs::copy(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/redrive/aws"), bin.join("aws")).unwrap();
    std::os::unix::fs::symlink(env!("CARGO_BIN_EXE_logs-to-opensearch"), bin.join("logs-to-opensearch")).unwrap();
    let body = |name: &str| std::fs::read_to_string(common::fixture(&format!("events/{name}"))).unwrap();
    let url = "https://sqs.eu-west-1.amazonaws.com/123456789012/logs-to-opensearch-FailedEvents";
    let state = dir.join("sqs.json");
    let messages = [
        ("m1", body("on-failure-destination.json")),
        ("m2", body("broken-gzip.json")), // fails every time: poison
        ("m3", body("rds-mysql80-slowquery.json")),
    ];
    let initial = json!({
        "url": url, "max_receive_count": 3, "poison": [], "calls": [],
        "messages": messages.iter().map(|(id, body)| json!({"id": id, "body": body, "receives": 0, "visible": true})).collect::<Vec<_>>(),
    });
    std::fs::write(&state, initial.to_string()).unwrap();

    let mut bash = Command::new("bash");
    for var in logs_to_opensearch::config::VARIABLES {
        bash.env_remove(var);
    }
    #[allow(clippy::disallowed_methods, reason = "the test's PATH, extended")]
    let path = format!("{}:{}", bin.display(), std::env::var("PATH").unwrap_or_default());
    let out = bash
        .args(["-euo", "pipefail", "-c", &readme_loop()])
        .current_dir(&dir)
        .env("PATH", path)
        .env("FAKE_SQS_STATE", &state)
        // No endpoint: each replay is a dry run (the loop's logic is what is under test).
        .env("ENDPOINT", "")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "the loop failed: {stderr}");

    let end: Value = serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    assert_eq!(end["messages"], json!([]), "every message left the queue: {end}");
    let poison = end["poison"].as_array().unwrap();
    assert_eq!(poison.len(), 1, "{end}");
    assert_eq!(poison[0]["id"], "m2");
    assert_eq!(poison[0]["receives"], 4, "tried three times, moved on the fourth receive");
    let calls: Vec<&str> = end["calls"].as_array().unwrap().iter().map(|c| c.as_str().unwrap()).collect();
    let receives = calls.iter().filter(|c| **c == "sqs receive-message").count();
    assert!(receives <= 3 * 4, "bounded: {receives} receives");
    assert_eq!(calls.iter().filter(|c| **c == "sqs delete-message").count(), 2, "{calls:?}");
    assert_eq!(stderr.matches("cannot decode the event").count(), 3, "the poison replay's error, each try: {stderr}");
    std::fs::remove_dir_all(&dir).ok();
}
