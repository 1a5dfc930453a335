//! `logs-to-opensearch setup`: installs what the documents rely on, through the same signed
//! client as `_bulk`. Idempotent: running it again replaces each piece with the same content.
//!
//! 1. three index templates: the generic one (`_index_template/logs-to-opensearch-logs`, for
//!    `<INDEX_PREFIX>-*`, priority 50: meta fields typed, nothing guessed), the slow-query one
//!    (`_index_template/logs-to-opensearch`, for `<INDEX_PREFIX>-*slowquery*`, priority 100: the
//!    typed contract) and the dead-letter one (`_index_template/logs-to-opensearch-deadletter`,
//!    for `<INDEX_PREFIX>-_deadletter-*`, priority 200); where patterns overlap, the higher wins;
//! 2. the ISM retention policy (`_plugins/_ism/policies/logs-to-opensearch-retention`), which
//!    deletes daily indices N days after their creation (not on OpenSearch Serverless, which has
//!    no ISM: its data lifecycle policies do this);
//! 3. the OpenSearch Dashboards saved objects (index pattern, "Slow queries" dashboard, saved
//!    search), imported through `<dashboards>/api/saved_objects/_import?overwrite=true`.
//!
//! The bodies are the files under `index-templates/`, compiled in; [`assets`] adapts them to the
//! index prefix and retention (pure). With `INSTALL_TEMPLATES=true` the Lambda function installs
//! the three templates once per execution environment, before its first batch.

use crate::text::{error_chain, quote};
use bytes::Bytes;
use opensearch::http::headers::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use opensearch::http::transport::Transport;
use opensearch::http::Method;
use serde_json::Value;
use std::time::Duration;

pub const TEMPLATE_NAME: &str = "logs-to-opensearch";
pub const LOGS_TEMPLATE_NAME: &str = "logs-to-opensearch-logs";
pub const DEAD_LETTER_TEMPLATE_NAME: &str = "logs-to-opensearch-deadletter";
pub const POLICY_ID: &str = "logs-to-opensearch-retention";
/// The prefix the files under `index-templates/` are written for.
const FILE_PREFIX: &str = "cwl";

const TEMPLATE: &str = include_str!("../index-templates/cwl-slowquery.index-template.json");
const LOGS_TEMPLATE: &str = include_str!("../index-templates/cwl-logs.index-template.json");
const DEAD_LETTER_TEMPLATE: &str = include_str!("../index-templates/cwl-deadletter.index-template.json");
const POLICY: &str = include_str!("../index-templates/cwl-retention.ism-policy.json");
/// The Dashboards saved objects (NDJSON).
pub const DASHBOARDS: &str = include_str!("../index-templates/dashboards.ndjson");

/// The bodies to install, adapted to one index prefix and retention.
#[derive(Debug, Clone, PartialEq)]
pub struct Assets {
    /// Slow-query indices (`<prefix>-*slowquery*`).
    pub template: Value,
    /// Every other index of the prefix.
    pub logs_template: Value,
    pub dead_letter_template: Value,
    pub policy: Value,
    pub dashboards: String,
}

/// The files under `index-templates/` for `index_prefix`, with indices deleted after
/// `retention_days` (pure).
pub fn assets(index_prefix: &str, retention_days: u32) -> Assets {
    let parse =
        |text: &str| serde_json::from_str::<Value>(text).expect("index-templates/ files are valid JSON (tested)");
    let mut template = parse(TEMPLATE);
    template["index_patterns"] = serde_json::json!([format!("{index_prefix}-*slowquery*")]);
    let mut logs_template = parse(LOGS_TEMPLATE);
    logs_template["index_patterns"] = serde_json::json!([format!("{index_prefix}-*")]);
    let mut dead_letter_template = parse(DEAD_LETTER_TEMPLATE);
    dead_letter_template["index_patterns"] =
        serde_json::json!([format!("{index_prefix}-{}-*", crate::index_name::DEAD_LETTER_PART)]);
    let mut policy = parse(POLICY);
    policy["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"] =
        Value::String(format!("{retention_days}d"));
    policy["policy"]["ism_template"][0]["index_patterns"] = serde_json::json!([format!("{index_prefix}-*")]);
    // The saved objects name the index pattern `cwl-*` in their titles and ids.
    let dashboards = DASHBOARDS.replace(&format!("\"{FILE_PREFIX}-*\""), &format!("\"{index_prefix}-*\""));
    Assets { template, logs_template, dead_letter_template, policy, dashboards }
}

/// A piece that could not be installed.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("{what}: no answer from the cluster: {problem}")]
    Unreachable { what: String, problem: String },
    #[error("{what}: the cluster answered HTTP {status}: {body}")]
    Refused { what: String, status: u16, body: String },
    /// The cluster has no handler for the piece's API: the plugin that serves it is not
    /// installed (ISM on a self-managed OpenSearch without `opensearch-index-management`, or on
    /// Elasticsearch).
    #[error("{what}: this cluster has no {plugin} plugin (it answered: {body})")]
    NoPlugin { what: String, plugin: &'static str, body: String },
}

/// What [`install_templates`] did, one line per piece.
pub type Done = Vec<String>;

/// Installs the three index templates, lowest priority first.
pub async fn install_templates(transport: &Transport, assets: &Assets, timeout: Duration) -> Result<Done, SetupError> {
    let cluster = Cluster { transport, timeout };
    let mut done = Vec::new();
    for (name, body) in [
        (LOGS_TEMPLATE_NAME, &assets.logs_template),
        (TEMPLATE_NAME, &assets.template),
        (DEAD_LETTER_TEMPLATE_NAME, &assets.dead_letter_template),
    ] {
        let what = format!("index template {name}");
        let path = format!("_index_template/{name}");
        let answer = cluster.request(&what, Method::Put, &path, &[], json_headers(), Some(body.to_string().into()));
        succeeded(&what, answer.await?)?;
        done.push(format!("{what} for {}", body["index_patterns"]));
    }
    Ok(done)
}

/// Installs (or replaces) the ISM policy.
pub async fn install_policy(transport: &Transport, assets: &Assets, timeout: Duration) -> Result<String, SetupError> {
    let cluster = Cluster { transport, timeout };
    let what = format!("ISM policy {POLICY_ID}");
    let path = format!("_plugins/_ism/policies/{POLICY_ID}");
    // An existing policy is only replaced with the sequence number of the version read.
    let current = cluster.request(&what, Method::Get, &path, &[], HeaderMap::new(), None).await?;
    let version = match current {
        (200, answer) => {
            let answer: Value = serde_json::from_slice(&answer).unwrap_or_default();
            let number = |key: &str, default: u64| answer[key].as_u64().unwrap_or(default).to_string();
            vec![("if_seq_no", number("_seq_no", 0)), ("if_primary_term", number("_primary_term", 1))]
        }
        (404, _) => Vec::new(),
        // OpenSearch and Elasticsearch answer an API nobody serves with 400 "no handler found".
        (400 | 405, answer) if String::from_utf8_lossy(&answer).contains("no handler found") => {
            let body = quote(&String::from_utf8_lossy(&answer));
            return Err(SetupError::NoPlugin {
                what,
                plugin: "Index State Management (opensearch-index-management)",
                body,
            });
        }
        (status, answer) => return Err(refused(&what, status, &answer)),
    };
    let body = Some(assets.policy.to_string().into());
    succeeded(&what, cluster.request(&what, Method::Put, &path, &version, json_headers(), body).await?)?;
    let age = &assets.policy["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"];
    Ok(format!("{what}: delete indices after {}", age.as_str().unwrap_or("?")))
}

/// Imports the saved objects into Dashboards at `dashboards_path` on the same endpoint
/// (`_dashboards` on Amazon OpenSearch Service).
pub async fn import_dashboards(
    transport: &Transport,
    assets: &Assets,
    dashboards_path: &str,
    timeout: Duration,
) -> Result<String, SetupError> {
    let cluster = Cluster { transport, timeout };
    let what = "Dashboards saved objects".to_owned();
    let boundary = "logs-to-opensearch-7d4f0c2a9b";
    let mut body = Vec::with_capacity(assets.dashboards.len() + 256);
    body.extend_from_slice(
        format!(
            "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"logs-to-opensearch.ndjson\"\r\n\
             Content-Type: application/ndjson\r\n\r\n"
        )
        .as_bytes(),
    );
    body.extend_from_slice(assets.dashboards.as_bytes());
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let mut headers = HeaderMap::new();
    let content_type = format!("multipart/form-data; boundary={boundary}");
    headers.insert(CONTENT_TYPE, HeaderValue::from_str(&content_type).expect("an ASCII header value"));
    headers.insert(HeaderName::from_static("osd-xsrf"), HeaderValue::from_static("true"));
    let path = format!("{}/api/saved_objects/_import", dashboards_path.trim_matches('/'));
    let overwrite = [("overwrite", "true".to_owned())];
    let answer = cluster.request(&what, Method::Post, &path, &overwrite, headers, Some(body.into()));
    let answer = succeeded(&what, answer.await?)?;
    let answer: Value = serde_json::from_slice(&answer).unwrap_or_default();
    if answer["success"] != true {
        return Err(SetupError::Refused { what, status: 200, body: quote(&answer["errors"].to_string()) });
    }
    Ok(format!("{what}: {} imported", answer["successCount"]))
}

fn json_headers() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers
}

/// A 2xx answer's body, else the cluster's refusal naming `what`.
fn succeeded(what: &str, (status, answer): (u16, Bytes)) -> Result<Bytes, SetupError> {
    match status {
        200..=299 => Ok(answer),
        _ => Err(refused(what, status, &answer)),
    }
}

fn refused(what: &str, status: u16, answer: &[u8]) -> SetupError {
    SetupError::Refused { what: what.to_owned(), status, body: quote(&String::from_utf8_lossy(answer)) }
}

/// The cluster and how long one request may take.
struct Cluster<'a> {
    transport: &'a Transport,
    timeout: Duration,
}

impl Cluster<'_> {
    /// One signed request (the transport signs, query string included): the status and the body.
    async fn request(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<(u16, Bytes), SetupError> {
        let unreachable =
            |e: opensearch::Error| SetupError::Unreachable { what: what.to_owned(), problem: error_chain(&e) };
        let query = (!query.is_empty()).then_some(query);
        let response = self
            .transport
            .send(method, path, headers, query.as_ref(), body, Some(self.timeout))
            .await
            .map_err(unreachable)?;
        let status = response.status_code().as_u16();
        let answer = response.bytes().await.map_err(unreachable)?;
        Ok((status, answer))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_follow_the_index_prefix_and_retention() {
        let assets = assets("rds-slow", 14);
        assert_eq!(assets.template["index_patterns"], serde_json::json!(["rds-slow-*slowquery*"]));
        assert_eq!(assets.logs_template["index_patterns"], serde_json::json!(["rds-slow-*"]));
        assert_eq!(assets.dead_letter_template["index_patterns"], serde_json::json!(["rds-slow-_deadletter-*"]));
        assert_eq!(assets.policy["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"], "14d");
        assert_eq!(assets.policy["policy"]["ism_template"][0]["index_patterns"], serde_json::json!(["rds-slow-*"]));
        assert!(assets.dashboards.contains("\"rds-slow-*\"") && !assets.dashboards.contains("\"cwl-*\""));
    }
}
