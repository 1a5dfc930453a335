//! The real OpenSearch (or Elasticsearch) node of `scripts/real-node`, for `tests/real_cluster.rs`.
//!
//! `LTO_REAL_CLUSTER_URL` names the node (`http://127.0.0.1:9250`). Without it the real-cluster
//! tests say they were skipped and pass, so `cargo test` runs on a machine without Java;
//! `LTO_REAL_CLUSTER_REQUIRED=1` (set by `.ci/run`) turns a missing or unreachable node into a
//! failure. The tests share one node and its index templates (one name for every prefix), so
//! each takes [`Node::lock`] and works under an index prefix of its own.

use super::http::{self, Answer};
use serde_json::{json, Value};
use std::sync::{Mutex, MutexGuard};

pub const URL_VARIABLE: &str = "LTO_REAL_CLUSTER_URL";
pub const REQUIRED_VARIABLE: &str = "LTO_REAL_CLUSTER_REQUIRED";

static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// The node under test.
pub struct Node {
    pub url: String,
    /// `opensearch` or `elasticsearch`.
    pub distribution: String,
    /// `2.19.4`, `7.10.2`, …
    pub version: String,
    /// Whether the ISM plugin answers (`opensearch-index-management` installed).
    pub has_ism: bool,
}

/// The node, or `None` (after saying so) when none is configured and none is required.
#[allow(clippy::disallowed_methods)] // the test harness's own switch, not the tool's configuration
pub fn node(test: &str) -> Option<Node> {
    let required = std::env::var(REQUIRED_VARIABLE).is_ok_and(|v| v == "1" || v == "true");
    let Some(url) = std::env::var(URL_VARIABLE).ok().filter(|u| !u.is_empty()) else {
        assert!(!required, "{REQUIRED_VARIABLE} is set but {URL_VARIABLE} is not: start one with scripts/real-node up");
        // Written past the test harness's capture, so `cargo test` shows it.
        let said = format!("skipped {test}: no real node ({URL_VARIABLE} unset; scripts/real-node up starts one)\n");
        std::io::Write::write_all(&mut std::io::stderr(), said.as_bytes()).ok();
        return None;
    };
    let url = url.trim_end_matches('/').to_owned();
    let root = http::call(&url, "GET", "/", None, b"")
        .unwrap_or_else(|e| panic!("the real node at {url} does not answer: {e}"));
    let root = root.json();
    let distribution = root["version"]["distribution"].as_str().unwrap_or("elasticsearch").to_owned();
    let version = root["version"]["number"].as_str().unwrap_or_default().to_owned();
    let plugins = http::call(&url, "GET", "/_cat/plugins?h=component", None, b"").map(|a| a.body).unwrap_or_default();
    let has_ism = String::from_utf8_lossy(&plugins).contains("index-management");
    Some(Node { url, distribution, version, has_ism })
}

impl Node {
    /// The node to this test alone (see the module docs).
    pub fn lock(&self) -> MutexGuard<'static, ()> {
        ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// OpenSearch 2.x and later (which refuse `_type`, as Elasticsearch 8 does).
    pub fn is_opensearch_2_or_later(&self) -> bool {
        self.distribution == "opensearch"
            && self.version.split('.').next().and_then(|m| m.parse::<u32>().ok()) >= Some(2)
    }

    pub fn call(&self, method: &str, target: &str, body: Option<&Value>) -> Answer {
        let bytes = body.map(|b| b.to_string().into_bytes()).unwrap_or_default();
        let content_type = body.map(|_| "application/json");
        http::call(&self.url, method, target, content_type, &bytes)
            .unwrap_or_else(|e| panic!("{method} {target} on the real node: {e}"))
    }

    /// A request whose answer must be a 2xx: its JSON.
    pub fn ok(&self, method: &str, target: &str, body: Option<&Value>) -> Value {
        let answer = self.call(method, target, body);
        assert!(
            (200..300).contains(&answer.status),
            "{method} {target}: HTTP {}: {}",
            answer.status,
            String::from_utf8_lossy(&answer.body)
        );
        answer.json()
    }

    /// Deletes every index matching `pattern` (a clean start for a test's prefix).
    pub fn delete_indices(&self, pattern: &str) {
        let answer = self.call("DELETE", &format!("/{pattern}?allow_no_indices=true&ignore_unavailable=true"), None);
        assert!(matches!(answer.status, 200 | 404), "DELETE {pattern}: {}", String::from_utf8_lossy(&answer.body));
    }

    /// Documents in the indices matching `pattern`, after a refresh.
    pub fn count(&self, pattern: &str) -> u64 {
        self.ok("POST", &format!("/{pattern}/_refresh?allow_no_indices=true&ignore_unavailable=true"), None);
        let answer = self.ok("GET", &format!("/{pattern}/_count?allow_no_indices=true&ignore_unavailable=true"), None);
        answer["count"].as_u64().unwrap()
    }

    /// The `_source` of a document, or `None`.
    pub fn document(&self, index: &str, id: &str) -> Option<Value> {
        let answer = self.call("GET", &format!("/{index}/_doc/{id}"), None);
        (answer.status == 200).then(|| answer.json()["_source"].clone())
    }

    /// Which of `ids` exist in the indices matching `pattern` (one `_search` by id per 1,000).
    pub fn existing_ids(&self, pattern: &str, ids: &[String]) -> std::collections::BTreeMap<String, u64> {
        self.ok("POST", &format!("/{pattern}/_refresh?allow_no_indices=true&ignore_unavailable=true"), None);
        let mut found = std::collections::BTreeMap::new();
        for chunk in ids.chunks(1000) {
            let query =
                json!({"size": chunk.len(), "_source": false, "version": true, "query": {"ids": {"values": chunk}}});
            let answer = self.ok(
                "POST",
                &format!("/{pattern}/_search?allow_no_indices=true&ignore_unavailable=true"),
                Some(&query),
            );
            for hit in answer["hits"]["hits"].as_array().unwrap() {
                *found.entry(hit["_id"].as_str().unwrap().to_owned()).or_insert(0) += 1;
            }
        }
        found
    }

    /// The field's mapped type in `index`, as `GET <index>/_mapping` shows it.
    pub fn field_type(&self, index: &str, field: &str) -> Option<String> {
        let answer = self.ok("GET", &format!("/{index}/_mapping"), None);
        let properties = &answer[index]["mappings"]["properties"];
        let mut at = properties;
        let mut parts = field.split('.').peekable();
        while let Some(part) = parts.next() {
            at = &at[part];
            if parts.peek().is_some() {
                at = if at["properties"].is_object() { &at["properties"] } else { &at["fields"] };
            }
        }
        at["type"].as_str().map(str::to_owned)
    }
}
