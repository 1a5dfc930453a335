//! `logs-to-opensearch setup`: installs what the documents rely on, through the same signed
//! client as `_bulk`. Idempotent: running it again replaces each piece with the same content.
//!
//! 1. three index templates: the generic one (`_index_template/logs-to-opensearch-logs`, for
//!    `<INDEX_PREFIX>-*`, priority 50: meta fields typed, nothing guessed), the slow-query one
//!    (`_index_template/logs-to-opensearch`, for `<INDEX_PREFIX>-*slowquery*` and
//!    `<INDEX_PREFIX>-*postgresql*`, priority 100: the
//!    typed contract) and the dead-letter one (`_index_template/logs-to-opensearch-deadletter`,
//!    for `<INDEX_PREFIX>-_deadletter-*`, priority 200); where patterns overlap, the higher wins;
//! 2. the ISM retention policy (`_plugins/_ism/policies/logs-to-opensearch-retention`), which
//!    deletes daily indices N days after their creation (not on OpenSearch Serverless, which has
//!    no ISM: its data lifecycle policies do this); ISM gives it to indices created after it, so
//!    [`existing_indices`] counts (and on request attaches it to) the indices already there;
//! 3. the OpenSearch Dashboards saved objects (index pattern, "Slow queries" dashboard, saved
//!    search), imported through `<dashboards>/api/saved_objects/_import?overwrite=true`.
//!
//! The bodies are the files under `index-templates/`, compiled in; [`assets`] adapts them to the
//! index prefix and retention (pure). With `INSTALL_TEMPLATES=true` the Lambda function installs
//! the three templates once per execution environment, before its first batch.
//!
//! Every request waits out a busy cluster ([`Patience`]: no answer, 408, 429 and 5xx are retried
//! with delivery's backoff); each piece succeeds or fails on its own.

use crate::delivery::RetryPolicy;
use crate::text::{error_chain, quote};
use bytes::Bytes;
use opensearch::http::headers::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use opensearch::http::transport::Transport;
use opensearch::http::Method;
use serde_json::Value;
use std::time::{Duration, Instant};

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
    template["index_patterns"] =
        serde_json::json!([format!("{index_prefix}-*slowquery*"), format!("{index_prefix}-*postgresql*")]);
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
    #[error("{what}: no answer from the cluster{}: {problem}", tries_note(*.tries))]
    Unreachable { what: String, problem: String, tries: u32 },
    #[error("{what}: the cluster answered HTTP {status}{}: {body}", tries_note(*.tries))]
    Refused { what: String, status: u16, body: String, tries: u32 },
    /// An answer of the right status that is not what the API answers: a login page, a proxy's
    /// page, the wrong service at that path.
    #[error("{what}: an unexpected answer (HTTP {status}, {expected}): {body}{hint}")]
    Unexpected { what: String, status: u16, expected: &'static str, body: String, hint: &'static str },
    /// The cluster has no handler for the piece's API: the plugin that serves it is not
    /// installed (ISM on a self-managed OpenSearch without `opensearch-index-management`, or on
    /// Elasticsearch).
    #[error("{what}: this cluster has no {plugin} plugin (it answered: {body})")]
    NoPlugin { what: String, plugin: &'static str, body: String },
}

fn tries_note(tries: u32) -> String {
    if tries > 1 {
        format!(" (tried {tries} times)")
    } else {
        String::new()
    }
}

/// How setup waits for a cluster that is briefly unable to answer: each request's timeout, and a
/// deadline for retrying transient failures (no answer, 408, 429, 5xx), with delivery's backoff.
#[derive(Debug, Clone, Copy)]
pub struct Patience {
    pub timeout: Duration,
    pub deadline: Instant,
    pub policy: RetryPolicy,
}

impl Patience {
    /// Retry transient failures for `retry_for`, each request at most `timeout`.
    pub fn new(timeout: Duration, retry_for: Duration) -> Self {
        Patience { timeout, deadline: Instant::now() + retry_for, policy: RetryPolicy::default() }
    }
}

/// Installs one index template.
pub async fn install_template(
    transport: &Transport,
    name: &str,
    body: &Value,
    patience: Patience,
) -> Result<String, SetupError> {
    let cluster = Cluster::new(transport, patience);
    let what = format!("index template {name}");
    let path = format!("_index_template/{name}");
    let answer = cluster.request(&what, Method::Put, &path, &[], json_headers(), Some(body.to_string().into()));
    succeeded(&what, answer.await?)?;
    Ok(format!("{what} for {}", body["index_patterns"]))
}

/// The three index templates, lowest priority first: (name, body).
pub fn templates(assets: &Assets) -> [(&'static str, &Value); 3] {
    [
        (LOGS_TEMPLATE_NAME, &assets.logs_template),
        (TEMPLATE_NAME, &assets.template),
        (DEAD_LETTER_TEMPLATE_NAME, &assets.dead_letter_template),
    ]
}

/// What [`install_templates`] did, one line per piece.
pub type Done = Vec<String>;

/// Installs the three index templates, lowest priority first; stops at the first that fails.
pub async fn install_templates(transport: &Transport, assets: &Assets, patience: Patience) -> Result<Done, SetupError> {
    let mut done = Vec::new();
    for (name, body) in templates(assets) {
        done.push(install_template(transport, name, body, patience).await?);
    }
    Ok(done)
}

/// Installs (or replaces) the ISM policy.
pub async fn install_policy(transport: &Transport, assets: &Assets, patience: Patience) -> Result<String, SetupError> {
    let cluster = Cluster::new(transport, patience);
    let what = format!("ISM policy {POLICY_ID}");
    let path = format!("_plugins/_ism/policies/{POLICY_ID}");
    // An existing policy is only replaced with the sequence number of the version read.
    let current = cluster.request(&what, Method::Get, &path, &[], HeaderMap::new(), None).await?;
    let version = match current {
        (200, answer) => {
            let Ok(answer) = serde_json::from_slice::<Value>(&answer) else {
                return Err(unexpected(&what, 200, "the policy as JSON", &answer, ""));
            };
            let number = |key: &str, default: u64| answer[key].as_u64().unwrap_or(default).to_string();
            vec![("if_seq_no", number("_seq_no", 0)), ("if_primary_term", number("_primary_term", 1))]
        }
        (404, _) => Vec::new(),
        (status, answer) => return Err(no_plugin_or_refused(&what, status, &answer)),
    };
    let body = Some(assets.policy.to_string().into());
    succeeded(&what, cluster.request(&what, Method::Put, &path, &version, json_headers(), body).await?)?;
    let age = &assets.policy["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"];
    Ok(format!("{what}: delete indices after {}", age.as_str().unwrap_or("?")))
}

/// ISM applies a policy's `ism_template` to indices created after it, not to those already there.
/// Counts the indices of the prefix that no policy manages and, with `attach`, attaches the
/// retention policy to them (`_plugins/_ism/add`); indices another policy manages are left alone.
pub async fn existing_indices(
    transport: &Transport,
    index_prefix: &str,
    attach: bool,
    patience: Patience,
) -> Result<String, SetupError> {
    const OPENSEARCH_KEY: &str = "index.plugins.index_state_management.policy_id";
    const OPENDISTRO_KEY: &str = "index.opendistro.index_state_management.policy_id";
    let cluster = Cluster::new(transport, patience);
    let pattern = format!("{index_prefix}-*");
    let what = format!("existing indices {pattern}");
    let path = format!("_plugins/_ism/explain/{pattern}");
    let answer = match cluster.request(&what, Method::Get, &path, &[], HeaderMap::new(), None).await? {
        (200, answer) => answer,
        (status, answer) => return Err(no_plugin_or_refused(&what, status, &answer)),
    };
    let Ok(Value::Object(explained)) = serde_json::from_slice::<Value>(&answer) else {
        return Err(unexpected(&what, 200, "ISM's explain answer as a JSON object", &answer, ""));
    };
    let (mut ours, mut others, mut unmanaged) = (0, 0, Vec::new());
    for (index, state) in explained.iter().filter(|(_, state)| state.is_object()) {
        match state[OPENSEARCH_KEY].as_str().or_else(|| state[OPENDISTRO_KEY].as_str()) {
            Some(POLICY_ID) => ours += 1,
            Some(_) => others += 1,
            None => unmanaged.push(index.as_str()),
        }
    }
    let others_note =
        if others > 0 { format!(", {others} managed by another policy (left as they are)") } else { String::new() };
    if unmanaged.is_empty() {
        return Ok(format!("{what}: {ours} under the retention policy{others_note}, none without a policy"));
    }
    if !attach {
        return Ok(format!(
            "{what}: {} without a policy, kept until deleted (ISM gives the policy to new indices only; \
             `setup --attach-existing` attaches it to these){others_note}; {ours} under the retention policy",
            unmanaged.len()
        ));
    }
    // On the pattern, not a list of names (a URL has a length limit): ISM attaches the policy to
    // each index without one and names those that have one as failures, which they are not here.
    let body = serde_json::json!({ "policy_id": POLICY_ID }).to_string();
    let path = format!("_plugins/_ism/add/{pattern}");
    let answer = cluster.request(&what, Method::Post, &path, &[], json_headers(), Some(body.into()));
    let answer = succeeded(&what, answer.await?)?;
    let Ok(added) = serde_json::from_slice::<Value>(&answer) else {
        return Err(unexpected(&what, 200, "ISM's add answer as JSON", &answer, ""));
    };
    let Some(updated) = added["updated_indices"].as_u64() else {
        return Err(unexpected(&what, 200, "ISM's add answer with updated_indices", &answer, ""));
    };
    let failed: Vec<String> = added["failed_indices"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|f| !f["reason"].as_str().is_some_and(|r| r.contains("already has a policy")))
        .map(|f| format!("{}: {}", f["index_name"].as_str().unwrap_or("?"), f["reason"].as_str().unwrap_or("?")))
        .collect();
    if !failed.is_empty() {
        return Err(SetupError::Refused {
            what,
            status: 200,
            body: format!("attached the retention policy to {updated}, not to {}: {}", failed.len(), failed.join("; ")),
            tries: 1,
        });
    }
    Ok(format!("{what}: attached the retention policy to {updated} without one{others_note}; {ours} had it already"))
}

/// Imports the saved objects into Dashboards at `dashboards_path` on the same endpoint
/// (`_dashboards` on Amazon OpenSearch Service).
pub async fn import_dashboards(
    transport: &Transport,
    assets: &Assets,
    dashboards_path: &str,
    patience: Patience,
) -> Result<String, SetupError> {
    let cluster = Cluster::new(transport, patience);
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
    const HINT: &str = "; is --dashboards-path right? (`_dashboards` on Amazon OpenSearch Service; a \
                        Dashboards of its own answers on its own URL: --endpoint it with --dashboards-path /)";
    let (status, answer) = answer.await?;
    if status == 404 {
        return Err(SetupError::Unexpected {
            what,
            status,
            expected: "Dashboards' saved-objects import",
            body: quote(&String::from_utf8_lossy(&answer)),
            hint: HINT,
        });
    }
    let answer = succeeded(&what, (status, answer))?;
    let parsed = serde_json::from_slice::<Value>(&answer).ok().filter(|a| a["success"].is_boolean());
    let Some(result) = parsed else {
        return Err(unexpected(&what, status, "Dashboards' import result, JSON with \"success\"", &answer, HINT));
    };
    if result["success"] != true {
        // Each object's own error: {"id", "type", "error": {"type": "conflict" | "missing_references" | …}}.
        let errors: Vec<String> = result["errors"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| {
                format!("{} {}: {}", e["type"].as_str().unwrap_or("?"), e["id"].as_str().unwrap_or("?"), e["error"])
            })
            .collect();
        let body = match errors.is_empty() {
            true => quote(&String::from_utf8_lossy(&answer)),
            false => format!("{} imported, {} refused: {}", result["successCount"], errors.len(), errors.join("; ")),
        };
        return Err(SetupError::Refused { what, status, body, tries: 1 });
    }
    Ok(format!("{what}: {} imported", result["successCount"]))
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
    SetupError::Refused { what: what.to_owned(), status, body: quote(&String::from_utf8_lossy(answer)), tries: 1 }
}

fn unexpected(what: &str, status: u16, expected: &'static str, answer: &[u8], hint: &'static str) -> SetupError {
    let body = match answer.is_empty() {
        true => "an empty body".to_owned(),
        false => quote(&String::from_utf8_lossy(answer)),
    };
    SetupError::Unexpected { what: what.to_owned(), status, expected, body, hint }
}

/// OpenSearch and Elasticsearch answer an API nobody serves with 400 (or 405) "no handler found":
/// the ISM plugin is not installed. Anything else is the cluster's refusal.
fn no_plugin_or_refused(what: &str, status: u16, answer: &[u8]) -> SetupError {
    let text = String::from_utf8_lossy(answer);
    if matches!(status, 400 | 405) && text.contains("no handler found") {
        return SetupError::NoPlugin {
            what: what.to_owned(),
            plugin: "Index State Management (opensearch-index-management)",
            body: quote(&text),
        };
    }
    refused(what, status, answer)
}

/// An answer worth waiting for: the cluster may give another one soon.
fn is_transient(status: u16) -> bool {
    matches!(status, 408 | 429 | 500..=599)
}

/// The cluster, with the patience for its transient failures.
struct Cluster<'a> {
    transport: &'a Transport,
    patience: Patience,
    random: std::cell::Cell<u64>,
}

impl<'a> Cluster<'a> {
    fn new(transport: &'a Transport, patience: Patience) -> Self {
        let seed =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(1, |d| d.as_nanos() as u64);
        Cluster { transport, patience, random: std::cell::Cell::new(seed | 1) }
    }

    /// For the backoff's jitter.
    fn next_random(&self) -> u64 {
        let x = crate::delivery::xorshift(self.random.get());
        self.random.set(x);
        x
    }

    /// One signed request (the transport signs, query string included): the status and the body.
    /// No answer, 408, 429 and 5xx are tried again with backoff until the patience's deadline;
    /// the last answer (or failure) is returned, with the number of tries in a failure.
    async fn request(
        &self,
        what: &str,
        method: Method,
        path: &str,
        query: &[(&str, String)],
        headers: HeaderMap,
        body: Option<Bytes>,
    ) -> Result<(u16, Bytes), SetupError> {
        let query = (!query.is_empty()).then_some(query);
        let mut tries = 0;
        loop {
            tries += 1;
            let attempt = async {
                let response = self
                    .transport
                    .send(method, path, headers.clone(), query.as_ref(), body.clone(), Some(self.patience.timeout))
                    .await?;
                let status = response.status_code().as_u16();
                Ok::<_, opensearch::Error>((status, response.bytes().await?))
            };
            let outcome = attempt.await;
            let transient = match &outcome {
                Ok((status, _)) => is_transient(*status),
                Err(_) => true,
            };
            let wait = self.patience.policy.backoff(tries, self.next_random());
            if transient && Instant::now() + wait + self.patience.policy.min_attempt < self.patience.deadline {
                tokio::time::sleep(wait).await;
                continue;
            }
            return match outcome {
                Ok((status, answer)) if is_transient(status) && tries > 1 => Err(SetupError::Refused {
                    what: what.to_owned(),
                    status,
                    body: quote(&String::from_utf8_lossy(&answer)),
                    tries,
                }),
                Ok(answer) => Ok(answer),
                Err(e) => Err(SetupError::Unreachable { what: what.to_owned(), problem: error_chain(&e), tries }),
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_follow_the_index_prefix_and_retention() {
        let assets = assets("rds-slow", 14);
        assert_eq!(
            assets.template["index_patterns"],
            serde_json::json!(["rds-slow-*slowquery*", "rds-slow-*postgresql*"])
        );
        assert_eq!(assets.logs_template["index_patterns"], serde_json::json!(["rds-slow-*"]));
        assert_eq!(assets.dead_letter_template["index_patterns"], serde_json::json!(["rds-slow-_deadletter-*"]));
        assert_eq!(assets.policy["policy"]["states"][0]["transitions"][0]["conditions"]["min_index_age"], "14d");
        assert_eq!(assets.policy["policy"]["ism_template"][0]["index_patterns"], serde_json::json!(["rds-slow-*"]));
        assert!(assets.dashboards.contains("\"rds-slow-*\"") && !assets.dashboards.contains("\"cwl-*\""));
    }
}
