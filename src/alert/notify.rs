//! Sending alerts: to a Slack incoming webhook, or printed (`--alerts print`, the CLI's default),
//! or logged (a Lambda without a webhook).
//!
//! The webhook URL is a secret: it comes from `SLACK_WEBHOOK_URL`, or from Secrets Manager /
//! Parameter Store through the AWS Parameters and Secrets Lambda Extension (an HTTP call to
//! `localhost:2773` with the session token; no AWS SDK), read at the first alert and cached for the
//! execution environment. It never appears in a log line or an error: reqwest's errors are
//! stripped of their URL, and the extension's answers are never echoed.
//!
//! Failure isolation: sending runs beside indexing and never fails the invocation. Each request
//! has a short timeout (`SLACK_TIMEOUT_SECONDS`); a timeout, a 5xx or an unreachable Slack stops
//! this invocation's remaining messages (counted as failed) instead of waiting for each; a 429 is
//! waited out (`Retry-After`) when the invocation has the time, else the rest are dropped and
//! counted. A webhook Slack no longer knows (403/404/410) is read again at the next invocation,
//! in case the secret was rotated.

use super::slack::{self, webhook_url, MessageOptions};
use super::{Collector, Group, RuleKind};
use crate::config::{AlertConfig, ExtensionConfig, Secret, WebhookSource};
use crate::text::{error_chain, quote};
use opensearch::http::Url;
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Time kept back before the invocation's deadline, so the summary is still reported.
const RESERVE: Duration = Duration::from_millis(500);
/// 429s waited out for one message before the rest are dropped.
const MAX_WAITS: u32 = 3;
/// Attempts to read the webhook from the extension (it refuses calls until it is ready).
const EXTENSION_ATTEMPTS: u32 = 3;
const EXTENSION_PAUSE: Duration = Duration::from_millis(200);

/// Where alerts go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Output {
    /// Not even collected.
    Off,
    /// Shown on standard error as text (the CLI's `--alerts print`).
    Stderr,
    /// Logged as text (a Lambda function without a webhook).
    Log,
    /// Posted to the Slack webhook.
    Slack,
}

/// What alerting did in one invocation (flattened into the invocation summary).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AlertReport {
    /// Entries that matched an alert rule.
    pub alert_entries: usize,
    /// Messages made from them (grouped and capped).
    pub alert_messages: usize,
    /// Messages Slack accepted.
    pub alerts_sent: usize,
    /// Messages not sent because of an error (timeout, 4xx, 5xx, webhook unreadable).
    pub alerts_failed: usize,
    /// Messages dropped because Slack rate-limited them and there was no time to wait.
    pub alerts_rate_limited: usize,
    /// Messages held back because the same alert went out less than `ALERT_COOLDOWN_SECONDS`
    /// ago from this execution environment (their entries are counted in the next one).
    pub alerts_held: usize,
    /// Time spent sending alerts (beside indexing, not part of its `duration_ms`).
    pub alert_ms: u64,
    /// Of `alert_ms`, time spent waiting out Slack's `Retry-After`.
    pub alert_wait_ms: u64,
}

impl AlertReport {
    pub fn add(&mut self, other: &AlertReport) {
        self.alert_ms += other.alert_ms;
        self.alert_wait_ms += other.alert_wait_ms;
        self.alert_entries += other.alert_entries;
        self.alert_messages += other.alert_messages;
        self.alerts_sent += other.alerts_sent;
        self.alerts_failed += other.alerts_failed;
        self.alerts_rate_limited += other.alerts_rate_limited;
        self.alerts_held += other.alerts_held;
    }
}

/// Why the webhook could not be read or a message not sent. No variant holds the URL.
#[derive(Debug, thiserror::Error)]
pub enum AlertError {
    #[error("cannot build the HTTP client for Slack: {0}")]
    Client(String),
    #[error("AWS_SESSION_TOKEN is not set; the Parameters and Secrets extension needs it (Lambda sets it)")]
    NoSessionToken,
    #[error(
        "the AWS Parameters and Secrets extension on localhost:{port} did not answer for {what}: {problem} \
         (is the extension's layer added to the function?)"
    )]
    ExtensionUnreachable { port: u16, what: String, problem: String },
    #[error("the AWS Parameters and Secrets extension refused {what}: HTTP {status}: {body}")]
    ExtensionRefused { what: String, status: u16, body: String },
    #[error("the answer of the AWS Parameters and Secrets extension for {what} is not what it sends: {problem}")]
    ExtensionAnswer { what: String, problem: String },
    #[error(
        "{what} does not hold a webhook URL (an https:// URL, or JSON with a \"url\" key); \
         its value is not shown because it is a secret"
    )]
    NotAWebhook { what: String },
    #[error("Slack did not answer within {0:?}")]
    Timeout(Duration),
    #[error("cannot reach Slack: {0}")]
    Unreachable(String),
    #[error("Slack answered HTTP {status}: {body}")]
    Status { status: u16, body: String },
    #[error("Slack rate-limited the message (HTTP 429, Retry-After {0:?})")]
    RateLimited(Duration),
}

/// Sends (or prints) an invocation's alerts; built once per execution environment.
pub struct Notifier {
    output: Output,
    max_messages: usize,
    source: Option<WebhookSource>,
    extension: ExtensionConfig,
    timeout: Duration,
    dashboards_url: Option<Url>,
    redact: bool,
    /// Built only when alerts go to Slack: a TLS client costs cold-start time for nothing else.
    client: Option<reqwest::Client>,
    /// The webhook URL once read (Secrets Manager and Parameter Store are read once).
    cached: Mutex<Option<Secret>>,
    cooldown: Duration,
    /// When each alert (rule, log group, fingerprint) last went out, and entries held since.
    recent: Mutex<HashMap<CooldownKey, Recent>>,
}

type CooldownKey = (RuleKind, String, String);

#[derive(Debug, Clone, Copy)]
struct Recent {
    sent_at: Instant,
    held_entries: usize,
}

/// Alerts remembered for the cooldown, at most; beyond it, those whose cooldown is over are
/// forgotten first.
const MAX_REMEMBERED: usize = 10_000;

fn cooldown_key(group: &Group) -> CooldownKey {
    (group.rule.clone(), group.log_group.clone(), group.key.clone())
}

impl Notifier {
    /// Alerts off: nothing is collected or sent.
    pub fn off() -> Notifier {
        Notifier {
            output: Output::Off,
            max_messages: 0,
            source: None,
            extension: ExtensionConfig::default(),
            timeout: Duration::from_secs(1),
            dashboards_url: None,
            redact: false,
            client: None,
            cached: Mutex::new(None),
            cooldown: Duration::ZERO,
            recent: Mutex::new(HashMap::new()),
        }
    }

    /// `output` is [`Output::Slack`] only with a webhook source in `config` (the caller checks).
    pub fn new(config: &AlertConfig, redact: bool, output: Output) -> Result<Notifier, AlertError> {
        let output = if config.rules.is_empty() { Output::Off } else { output };
        Notifier::build(config, redact, output)
    }

    fn build(config: &AlertConfig, redact: bool, output: Output) -> Result<Notifier, AlertError> {
        let client = match output {
            Output::Slack => Some(
                reqwest::Client::builder()
                    // A webhook does not redirect; following one could hand the message to someone else.
                    .redirect(reqwest::redirect::Policy::none())
                    .no_proxy()
                    .connect_timeout(config.timeout)
                    .build()
                    .map_err(|e| AlertError::Client(error_chain(&e.without_url())))?,
            ),
            _ => None,
        };
        Ok(Notifier {
            output,
            max_messages: config.max_messages,
            source: config.webhook.clone(),
            extension: config.extension.clone(),
            timeout: config.timeout,
            dashboards_url: config.dashboards_url.clone(),
            redact,
            client,
            cached: Mutex::new(None),
            cooldown: config.cooldown,
            recent: Mutex::new(HashMap::new()),
        })
    }

    /// For the scheduled digest: sends to the webhook whatever the rules are.
    pub fn for_digest(config: &AlertConfig, redact: bool) -> Result<Notifier, AlertError> {
        Notifier::build(config, redact, Output::Slack)
    }

    /// Posts one message to the webhook (read once from its source), within `deadline`.
    pub async fn post_payload(&self, payload: &Value, deadline: Instant) -> Result<(), AlertError> {
        let client = self.client.as_ref().ok_or_else(|| AlertError::Client("alerts are not sent to Slack".into()))?;
        let url = self.webhook(client, deadline).await?;
        let timeout =
            self.timeout.min(deadline.saturating_duration_since(Instant::now())).max(Duration::from_millis(1));
        self.post(client, &url, payload, timeout).await
    }

    pub fn output(&self) -> Output {
        self.output
    }

    /// Whether documents need to be checked against the rules at all.
    pub fn is_off(&self) -> bool {
        self.output == Output::Off
    }

    /// Sends, prints or logs the messages of what `collector` gathered; gives up in time to
    /// report before `deadline`. Never fails: what went wrong is logged (without the URL) and
    /// counted. Sent to Slack, an alert is not sent again from this execution environment for
    /// `ALERT_COOLDOWN_SECONDS`; the entries held meanwhile are counted in its next message.
    pub async fn deliver(&self, collector: Collector<'_>, deadline: Instant) -> AlertReport {
        let now = Instant::now();
        let alerts = if self.output == Output::Slack && !self.cooldown.is_zero() {
            let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            if recent.len() > MAX_REMEMBERED {
                recent.retain(|_, r| now.duration_since(r.sent_at) < self.cooldown);
            }
            collector.finish_admitting(self.max_messages, |group| match recent.get_mut(&cooldown_key(group)) {
                Some(r) if now.duration_since(r.sent_at) < self.cooldown => {
                    r.held_entries += group.count;
                    false
                }
                Some(r) => {
                    group.held_before = r.held_entries;
                    true
                }
                None => true,
            })
        } else {
            collector.finish(self.max_messages)
        };
        let mut report = AlertReport {
            alert_entries: alerts.entries,
            alert_messages: alerts.messages.len(),
            alerts_held: alerts.held_groups,
            ..AlertReport::default()
        };
        if alerts.held_groups > 0 {
            info!(
                held = alerts.held_groups,
                "alerts held back: the same alert went out less than ALERT_COOLDOWN_SECONDS ago"
            );
        }
        if alerts.messages.is_empty() {
            return report;
        }
        let options = MessageOptions { dashboards_url: self.dashboards_url.as_ref(), redact: self.redact };
        let payloads = slack::payloads(&alerts, &options);
        match self.output {
            Output::Off => {}
            Output::Stderr => {
                for (i, payload) in payloads.iter().enumerate() {
                    eprintln!(
                        "logs-to-opensearch: alert {}/{} (not sent; --alerts send sends it):\n{}",
                        i + 1,
                        payloads.len(),
                        slack::render_text(payload)
                    );
                }
            }
            Output::Log => {
                for payload in &payloads {
                    info!(alert = %slack::render_text(payload), "alert (no Slack webhook configured: not sent)");
                }
            }
            Output::Slack => {
                let started = Instant::now();
                let sent = self.send(&payloads, deadline.checked_sub(RESERVE).unwrap_or(deadline), &mut report).await;
                report.alert_ms = u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                let mut recent = self.recent.lock().unwrap_or_else(|p| p.into_inner());
                for (group, _) in alerts.messages.iter().zip(sent).filter(|(_, sent)| *sent) {
                    recent.insert(cooldown_key(group), Recent { sent_at: Instant::now(), held_entries: 0 });
                }
            }
        }
        report
    }

    /// Posts `payloads` in order; returns which went out.
    async fn send(&self, payloads: &[Value], deadline: Instant, report: &mut AlertReport) -> Vec<bool> {
        let mut sent = vec![false; payloads.len()];
        // Present whenever the output is Slack (see `new`).
        let Some(client) = &self.client else { return sent };
        let url = match self.webhook(client, deadline).await {
            Ok(url) => url,
            Err(e) => {
                report.alerts_failed += payloads.len();
                warn!(error = %error_chain(&e), not_sent = payloads.len(), "cannot read the Slack webhook; alerts not sent");
                return sent;
            }
        };
        let mut waits = 0;
        let mut i = 0;
        while i < payloads.len() {
            let rest = payloads.len() - i;
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                report.alerts_failed += rest;
                warn!(not_sent = rest, "no time left in the invocation to send the remaining alerts");
                return sent;
            }
            match self.post(client, &url, &payloads[i], self.timeout.min(left)).await {
                Ok(()) => {
                    report.alerts_sent += 1;
                    sent[i] = true;
                    i += 1;
                    waits = 0;
                }
                Err(AlertError::RateLimited(wait)) => {
                    if waits < MAX_WAITS && Instant::now() + wait < deadline {
                        waits += 1;
                        info!(
                            retry_after_ms = wait.as_millis() as u64,
                            waiting = rest,
                            "Slack rate-limited the alerts (HTTP 429): waiting Retry-After before sending again"
                        );
                        tokio::time::sleep(wait).await;
                        report.alert_wait_ms += u64::try_from(wait.as_millis()).unwrap_or(u64::MAX);
                    } else {
                        report.alerts_rate_limited += rest;
                        warn!(
                            retry_after_ms = wait.as_millis() as u64,
                            dropped = rest,
                            "Slack rate-limited the alerts and the invocation has no time to wait; dropped"
                        );
                        return sent;
                    }
                }
                Err(e @ AlertError::Status { status: 403 | 404 | 410, .. }) => {
                    report.alerts_failed += rest;
                    // Rotated or revoked: read the secret again next time.
                    *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = None;
                    warn!(error = %e, not_sent = rest, "Slack refused the webhook; alerts not sent");
                    return sent;
                }
                Err(e @ AlertError::Status { status: 400..=499, .. }) => {
                    report.alerts_failed += 1;
                    i += 1;
                    warn!(error = %e, "Slack refused an alert message");
                }
                Err(e) => {
                    report.alerts_failed += rest;
                    warn!(error = %e, not_sent = rest, "Slack alert failed; the remaining alerts of this invocation are not sent");
                    return sent;
                }
            }
        }
        sent
    }

    async fn post(
        &self,
        client: &reqwest::Client,
        url: &Secret,
        payload: &Value,
        timeout: Duration,
    ) -> Result<(), AlertError> {
        let request = client
            .post(url.expose())
            .timeout(timeout)
            .header("content-type", "application/json")
            .body(payload.to_string());
        let response = request.send().await.map_err(|e| transport_error(e, timeout))?;
        let status = response.status().as_u16();
        if status == 429 {
            let wait = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map_or(Duration::from_secs(1), Duration::from_secs);
            return Err(AlertError::RateLimited(wait));
        }
        let body = response.text().await.unwrap_or_default();
        if (200..300).contains(&status) {
            Ok(())
        } else {
            Err(AlertError::Status { status, body: quote(&body) })
        }
    }

    /// The webhook URL: from the configuration, or read once through the extension.
    async fn webhook(&self, client: &reqwest::Client, deadline: Instant) -> Result<Secret, AlertError> {
        if let Some(url) = self.cached.lock().unwrap_or_else(|p| p.into_inner()).clone() {
            return Ok(url);
        }
        let url = match &self.source {
            Some(WebhookSource::Url(url)) => url.clone(),
            Some(WebhookSource::Secret(id)) => {
                let what = format!("secret {id}");
                let query = [("secretId", id.as_str())];
                let answer = self.extension_get(client, "secretsmanager/get", &query, &what, deadline).await?;
                let value = answer["SecretString"].as_str().ok_or_else(|| AlertError::ExtensionAnswer {
                    what: what.clone(),
                    problem: "no SecretString (a binary secret cannot hold a webhook URL)".into(),
                })?;
                webhook_in(value).ok_or(AlertError::NotAWebhook { what })?
            }
            Some(WebhookSource::Parameter(name)) => {
                let what = format!("parameter {name}");
                let query = [("name", name.as_str()), ("withDecryption", "true")];
                let answer =
                    self.extension_get(client, "systemsmanager/parameters/get", &query, &what, deadline).await?;
                let value = answer["Parameter"]["Value"].as_str().ok_or_else(|| AlertError::ExtensionAnswer {
                    what: what.clone(),
                    problem: "no Parameter.Value".into(),
                })?;
                webhook_in(value).ok_or(AlertError::NotAWebhook { what })?
            }
            None => return Err(AlertError::NotAWebhook { what: "the configuration".into() }),
        };
        *self.cached.lock().unwrap_or_else(|p| p.into_inner()) = Some(url.clone());
        Ok(url)
    }

    /// `GET http://localhost:<port>/<path>` with the session token, a few attempts while the
    /// extension is starting.
    async fn extension_get(
        &self,
        client: &reqwest::Client,
        path: &str,
        query: &[(&str, &str)],
        what: &str,
        deadline: Instant,
    ) -> Result<Value, AlertError> {
        let token = self.extension.token.as_ref().ok_or(AlertError::NoSessionToken)?;
        let url = format!("http://localhost:{}/{path}", self.extension.port);
        let mut last = String::new();
        for attempt in 1..=EXTENSION_ATTEMPTS {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            // `query` is percent-encoded by reqwest: secret ARNs hold `:` and `/`.
            let sent = client
                .get(&url)
                .query(query)
                .timeout(self.timeout.min(left))
                .header("X-Aws-Parameters-Secrets-Token", token.expose())
                .send()
                .await;
            match sent {
                Ok(response) if response.status().is_success() => {
                    let bytes = response.bytes().await.map_err(|e| AlertError::ExtensionUnreachable {
                        port: self.extension.port,
                        what: what.to_owned(),
                        problem: error_chain(&e.without_url()),
                    })?;
                    return serde_json::from_slice(&bytes).map_err(|e| AlertError::ExtensionAnswer {
                        what: what.to_owned(),
                        problem: format!("not JSON ({e})"),
                    });
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let body = quote(&response.text().await.unwrap_or_default());
                    // 400 while the extension starts ("not ready to serve traffic"); 5xx when
                    // Secrets Manager has a bad moment. Anything else will not change.
                    if status != 400 && status < 500 || attempt == EXTENSION_ATTEMPTS {
                        return Err(AlertError::ExtensionRefused { what: what.to_owned(), status, body });
                    }
                    last = format!("HTTP {status}: {body}");
                }
                Err(e) => last = error_chain(&e.without_url()),
            }
            if attempt < EXTENSION_ATTEMPTS {
                tokio::time::sleep(EXTENSION_PAUSE.min(deadline.saturating_duration_since(Instant::now()))).await;
            }
        }
        Err(AlertError::ExtensionUnreachable { port: self.extension.port, what: what.to_owned(), problem: last })
    }
}

/// The webhook URL in a secret's value: the value itself, or the `url` (`webhook_url`,
/// `webhookUrl`, `SLACK_WEBHOOK_URL`) key of a JSON object, or its only string.
fn webhook_in(value: &str) -> Option<Secret> {
    let value = value.trim();
    if value.starts_with('{') {
        let object: serde_json::Map<String, Value> = serde_json::from_str(value).ok()?;
        let named = ["url", "webhook_url", "webhookUrl", "SLACK_WEBHOOK_URL"].iter().find_map(|k| object.get(*k));
        let only = || {
            let mut strings = object.values().filter(|v| v.is_string());
            strings.next().filter(|_| strings.next().is_none())
        };
        let url = named.or_else(only)?.as_str()?;
        return webhook_url(url).ok().map(|_| Secret::new(url.trim()));
    }
    webhook_url(value).ok().map(|_| Secret::new(value))
}

fn transport_error(error: reqwest::Error, timeout: Duration) -> AlertError {
    if error.is_timeout() {
        AlertError::Timeout(timeout)
    } else {
        AlertError::Unreachable(error_chain(&error.without_url()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_webhook_must_be_https_except_on_loopback() {
        assert!(webhook_url("https://hooks.slack.com/services/T0/B0/x").is_ok());
        assert!(webhook_url("http://127.0.0.1:8080/hook").is_ok());
        assert_eq!(webhook_url("http://hooks.slack.com/services/T0/B0/x").unwrap_err(), "it must start with https://");
        assert_eq!(webhook_url("hooks.slack.com/services").unwrap_err(), "it is not a URL");
    }

    #[test]
    fn finds_the_webhook_in_plain_and_json_secrets() {
        let url = "https://hooks.slack.com/services/T0/B0/abc";
        for value in [
            url.to_owned(),
            format!("  {url}\n"),
            format!(r#"{{"url": "{url}"}}"#),
            format!(r#"{{"webhook_url": "{url}", "channel": "x"}}"#),
            format!(r#"{{"anything": "{url}"}}"#),
        ] {
            assert_eq!(webhook_in(&value).map(|s| s.expose().to_owned()).as_deref(), Some(url), "{value}");
        }
        for value in ["not a url", r#"{"a": "https://x.example/1", "b": "https://x.example/2"}"#, "{broken"] {
            assert!(webhook_in(value).is_none(), "{value}");
        }
    }
}
