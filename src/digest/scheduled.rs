//! The scheduled digest's edge: the three signed `_search` requests of [`super::window`] on the
//! `INDEX_PREFIX-*` indices, then the Slack message through the alerts' webhook, and with a bot
//! token the chart, uploaded with Slack's files API (`files.getUploadURLExternal`, the bytes to the
//! URL it gives, `files.completeUploadExternal` to the channel).
//!
//! One try per request: a digest that fails is reported in the invocation's result and logged, and
//! the next schedule makes the next one; nothing is retried into a storm. Neither the webhook URL
//! nor the bot token appears in an error or a log line.

use super::window::{self, Window, WindowDigest};
use crate::alert::notify::Notifier;
use crate::config::{Config, Secret};
use crate::text::{error_chain, quote};
use opensearch::http::headers::{HeaderMap, HeaderValue, CONTENT_TYPE};
use opensearch::http::transport::Transport;
use opensearch::http::Method;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

/// Why the digest could not be made or sent. No variant holds a secret.
#[derive(Debug, thiserror::Error)]
pub enum ScheduledError {
    #[error("the scheduled digest needs an OpenSearch endpoint (OPENSEARCH_ENDPOINT or --endpoint)")]
    NoEndpoint,
    #[error("cannot build the OpenSearch client: {0}")]
    Client(String),
    #[error("OpenSearch did not answer the digest's search {what}: {problem}")]
    Unreachable { what: &'static str, problem: String },
    #[error("OpenSearch refused the digest's search {what}: HTTP {status}: {body}")]
    Refused { what: &'static str, status: u16, body: String },
    #[error("the digest's search {what}: {problem}")]
    Answer { what: &'static str, problem: String },
}

/// How the message and the chart went.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    Sent,
    Skipped(String),
    Failed(String),
}

/// The scheduled invocation's result (its answer to Lambda, and the CLI's summary).
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct ScheduledReport {
    pub window_start: String,
    pub window_end: String,
    pub statements: u64,
    pub classes: usize,
    pub top: usize,
    pub new: usize,
    pub message: Outcome,
    pub chart: Outcome,
}

/// Asks the cluster for the digest of `window`.
pub async fn fetch(config: &Config, window: Window, deadline: Instant) -> Result<WindowDigest, ScheduledError> {
    let opensearch = config.opensearch.as_ref().ok_or(ScheduledError::NoEndpoint)?;
    let transport =
        crate::delivery::transport(opensearch, None).map_err(|e| ScheduledError::Client(error_chain(&e)))?;
    let index = format!("{}-*", config.index_prefix);
    let timeout = opensearch.timeout;
    let top = search(
        &transport,
        &index,
        "for the top fingerprints",
        &window::top_query(window, config.alerts.digest.top),
        timeout,
        deadline,
    )
    .await?;
    let mut digest = window::read_top(window, &top)
        .map_err(|e| ScheduledError::Answer { what: "for the top fingerprints", problem: e.to_string() })?;
    if !digest.top.is_empty() {
        let ids: Vec<String> = digest.top.iter().map(|c| c.fingerprint_id.clone()).collect();
        let answer = search(
            &transport,
            &index,
            "of the window before",
            &window::previous_query(window, &ids),
            timeout,
            deadline,
        )
        .await?;
        let previous = window::read_ids(&answer)
            .map_err(|e| ScheduledError::Answer { what: "of the window before", problem: e.to_string() })?;
        digest.set_previous(&previous);
    }
    if !digest.ids.is_empty() {
        let ids = digest.ids.clone();
        let answer = search(
            &transport,
            &index,
            "for new fingerprints",
            &window::seen_before_query(window, &ids),
            timeout,
            deadline,
        )
        .await?;
        let seen = window::read_ids(&answer)
            .map_err(|e| ScheduledError::Answer { what: "for new fingerprints", problem: e.to_string() })?;
        digest.set_seen_before(&seen);
    }
    Ok(digest)
}

async fn search(
    transport: &Transport,
    index: &str,
    what: &'static str,
    body: &Value,
    timeout: Duration,
    deadline: Instant,
) -> Result<Value, ScheduledError> {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let query = [("ignore_unavailable", "true"), ("allow_no_indices", "true")];
    let timeout = timeout.min(deadline.saturating_duration_since(Instant::now())).max(Duration::from_millis(100));
    let path = format!("/{index}/_search");
    let response = transport
        .send(Method::Post, &path, headers, Some(&query), Some(body.to_string().into_bytes()), Some(timeout))
        .await
        .map_err(|e| ScheduledError::Unreachable { what, problem: error_chain(&e) })?;
    let status = response.status_code().as_u16();
    let bytes = response.bytes().await.map_err(|e| ScheduledError::Unreachable { what, problem: error_chain(&e) })?;
    if !(200..300).contains(&status) {
        return Err(ScheduledError::Refused { what, status, body: quote(&String::from_utf8_lossy(&bytes)) });
    }
    serde_json::from_slice(&bytes).map_err(|e| ScheduledError::Answer { what, problem: format!("not JSON: {e}") })
}

/// Posts the message (and the chart, with a bot token); never fails, it reports.
pub async fn send(config: &Config, digest: &WindowDigest, deadline: Instant) -> ScheduledReport {
    let alerts = &config.alerts;
    let message = match (&alerts.webhook, Notifier::for_digest(alerts, config.redact_literals)) {
        (None, _) => Outcome::Skipped("no webhook (SLACK_WEBHOOK_URL, _SECRET_ARN or _PARAMETER)".to_owned()),
        (Some(_), Err(e)) => Outcome::Failed(e.to_string()),
        (Some(_), Ok(notifier)) => {
            let payload = digest.slack_payload(alerts.dashboards_url.as_ref());
            match notifier.post_payload(&payload, deadline).await {
                Ok(()) => Outcome::Sent,
                Err(e) => Outcome::Failed(e.to_string()),
            }
        }
    };
    let chart = match (&alerts.digest.bot_token, &alerts.digest.channel_id) {
        (Some(token), Some(channel)) if !digest.top.is_empty() => {
            let png = super::chart::render(&digest.chart());
            match upload(config, token, channel, &png, digest, deadline).await {
                Ok(()) => Outcome::Sent,
                Err(e) => Outcome::Failed(e),
            }
        }
        (Some(_), Some(_)) => Outcome::Skipped("no slow query in the window".to_owned()),
        _ => {
            Outcome::Skipped("no bot token (SLACK_BOT_TOKEN and SLACK_CHANNEL_ID): the message is text only".to_owned())
        }
    };
    ScheduledReport {
        window_start: super::report::time_text(digest.window.start_ms),
        window_end: super::report::time_text(digest.window.end_ms),
        statements: digest.statements,
        classes: digest.ids.len(),
        top: digest.top.len(),
        new: digest.new.len(),
        message,
        chart,
    }
}

/// Slack's three-step upload. The error says which step failed and what Slack said, never the token.
async fn upload(
    config: &Config,
    token: &Secret,
    channel: &str,
    png: &[u8],
    digest: &WindowDigest,
    deadline: Instant,
) -> Result<(), String> {
    let timeout = config.alerts.timeout.max(Duration::from_secs(5));
    let remaining = || timeout.min(deadline.saturating_duration_since(Instant::now())).max(Duration::from_millis(100));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .map_err(|e| format!("cannot build the HTTP client for Slack: {}", error_chain(&e.without_url())))?;
    let api = config.alerts.digest.slack_api.as_str().trim_end_matches('/').to_owned();
    let filename = format!("slow-query-digest-{}.png", digest.window.end_ms / 1000);
    let bearer = format!("Bearer {}", token.expose());
    let slack = |step: &'static str, e: reqwest::Error| format!("Slack {step}: {}", error_chain(&e.without_url()));

    let answer: Value = client
        .post(format!("{api}/files.getUploadURLExternal"))
        .timeout(remaining())
        .header("authorization", &bearer)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("filename={filename}&length={}", png.len()))
        .send()
        .await
        .map_err(|e| slack("files.getUploadURLExternal", e))?
        .json()
        .await
        .map_err(|e| slack("files.getUploadURLExternal", e))?;
    let refused = |step: &str, answer: &Value| {
        format!("Slack {step} refused: {}", quote(answer["error"].as_str().unwrap_or("no error given")))
    };
    if answer["ok"] != true {
        return Err(refused("files.getUploadURLExternal", &answer));
    }
    let (Some(upload_url), Some(file_id)) = (answer["upload_url"].as_str(), answer["file_id"].as_str()) else {
        return Err("Slack files.getUploadURLExternal: no upload_url or file_id in its answer".to_owned());
    };
    let uploaded = client
        .post(upload_url)
        .timeout(remaining())
        .header("content-type", "image/png")
        .body(png.to_vec())
        .send()
        .await
        .map_err(|e| slack("upload", e))?;
    if !uploaded.status().is_success() {
        return Err(format!("Slack upload: HTTP {}", uploaded.status().as_u16()));
    }
    let title = digest.chart().title;
    let complete = json!({
        "files": [{"id": file_id, "title": title}],
        "channel_id": channel,
        "initial_comment": format!("Query_time of the top {} fingerprints", digest.top.len().min(window::CHART_SERIES)),
    });
    let answer: Value = client
        .post(format!("{api}/files.completeUploadExternal"))
        .timeout(remaining())
        .header("authorization", &bearer)
        .header("content-type", "application/json; charset=utf-8")
        .body(complete.to_string())
        .send()
        .await
        .map_err(|e| slack("files.completeUploadExternal", e))?
        .json()
        .await
        .map_err(|e| slack("files.completeUploadExternal", e))?;
    if answer["ok"] != true {
        return Err(refused("files.completeUploadExternal", &answer));
    }
    Ok(())
}

/// Whether a Lambda payload is an EventBridge (CloudWatch Events) scheduled event.
pub fn is_scheduled_event(payload: &Value) -> bool {
    payload["source"] == "aws.events" && payload["detail-type"] == "Scheduled Event"
}
