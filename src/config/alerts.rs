//! The alert settings (`SLOW_QUERY_ALERT_*`, `ALERT_*`, `SLACK_*`, `DASHBOARDS_URL`, the
//! Parameters and Secrets extension): their types and how [`RawConfig`] reads them.

use super::{ConfigError, RawConfig, Secret};
use crate::alert::{self, Rules, SlowQueryRule};
use ::opensearch::http::Url;
use std::time::Duration;

const DEFAULT_ALERT_MAX_MESSAGES: usize = 5;
const DEFAULT_ALERT_COOLDOWN: Duration = Duration::from_secs(300);
const DEFAULT_SLACK_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_EXTENSION_PORT: u16 = 2773;
/// RDS's own maintenance user: its queries are not the application's.
const DEFAULT_IGNORED_USERS: &[&str] = &["rdsadmin"];

/// Alert rules and where messages go.
#[derive(Debug, Clone, PartialEq)]
pub struct AlertConfig {
    pub rules: Rules,
    /// Messages per invocation; the rest are summarised in the last one.
    pub max_messages: usize,
    /// An alert sent to Slack is not sent again (same rule, log group and fingerprint) from the
    /// same execution environment for this long; zero: no cooldown.
    pub cooldown: Duration,
    /// Where the Slack webhook URL comes from; `None`: alerts are printed or logged, not sent.
    pub webhook: Option<WebhookSource>,
    /// One Slack request's timeout.
    pub timeout: Duration,
    pub extension: ExtensionConfig,
    /// OpenSearch Dashboards / Kibana, for the message's "Open in Discover" button.
    pub dashboards_url: Option<Url>,
    /// The scheduled digest (`DIGEST_*`, `SLACK_BOT_TOKEN`, `SLACK_CHANNEL_ID`, `SLACK_API_URL`).
    pub digest: DigestConfig,
}

/// The scheduled digest's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct DigestConfig {
    /// The window a scheduled invocation digests, ending at the last whole minute.
    pub window_minutes: i64,
    /// Fingerprints in the message.
    pub top: usize,
    /// A bot token (`files:write`) for the chart; `None`: the message is text only.
    pub bot_token: Option<Secret>,
    /// The channel the chart goes to (needed with a bot token).
    pub channel_id: Option<String>,
    /// Slack's Web API (`https://slack.com/api`).
    pub slack_api: Url,
}

const DEFAULT_DIGEST_WINDOW_MINUTES: i64 = 60;
const DEFAULT_DIGEST_TOP: usize = 10;
const DEFAULT_SLACK_API: &str = "https://slack.com/api";

impl Default for DigestConfig {
    fn default() -> Self {
        DigestConfig {
            window_minutes: DEFAULT_DIGEST_WINDOW_MINUTES,
            top: DEFAULT_DIGEST_TOP,
            bot_token: None,
            channel_id: None,
            slack_api: Url::parse(DEFAULT_SLACK_API).expect("a valid URL"),
        }
    }
}

impl Default for AlertConfig {
    fn default() -> Self {
        AlertConfig {
            rules: Rules::default(),
            max_messages: DEFAULT_ALERT_MAX_MESSAGES,
            cooldown: DEFAULT_ALERT_COOLDOWN,
            webhook: None,
            timeout: DEFAULT_SLACK_TIMEOUT,
            extension: ExtensionConfig::default(),
            dashboards_url: None,
            digest: DigestConfig::default(),
        }
    }
}

/// Where the webhook URL (a secret) comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WebhookSource {
    /// `SLACK_WEBHOOK_URL`.
    Url(Secret),
    /// `SLACK_WEBHOOK_SECRET_ARN`: a Secrets Manager secret id, read through the extension.
    Secret(String),
    /// `SLACK_WEBHOOK_PARAMETER`: an SSM parameter name, read through the extension.
    Parameter(String),
}

/// The AWS Parameters and Secrets Lambda Extension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExtensionConfig {
    pub port: u16,
    /// `AWS_SESSION_TOKEN`, which the extension wants in `X-Aws-Parameters-Secrets-Token`.
    pub token: Option<Secret>,
}

impl Default for ExtensionConfig {
    fn default() -> Self {
        ExtensionConfig { port: DEFAULT_EXTENSION_PORT, token: None }
    }
}

impl RawConfig {
    pub(super) fn alert_config(&self) -> Result<AlertConfig, ConfigError> {
        let rule = |name: &'static str, problem| ConfigError::Rule { name, problem };
        let list = |name: &'static str| -> Vec<String> {
            self.get(name).map_or_else(Vec::new, |v| {
                v.split(',').map(str::trim).filter(|s| !s.is_empty()).map(str::to_owned).collect()
            })
        };
        // The refinements are checked even without the threshold, so a typo shows at once.
        let min_rows_examined =
            self.number::<i64>("SLOW_QUERY_ALERT_MIN_ROWS_EXAMINED", "a whole number of rows, 0 or more", |n| n >= 0)?;
        let ignore_users = match self.get("SLOW_QUERY_ALERT_IGNORE_USERS") {
            None => DEFAULT_IGNORED_USERS.iter().map(|u| (*u).to_owned()).collect(),
            Some(v) if v.trim().eq_ignore_ascii_case("none") => Vec::new(),
            Some(_) => list("SLOW_QUERY_ALERT_IGNORE_USERS"),
        };
        let mut ignore_fingerprints = Vec::new();
        for id in list("SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS") {
            let hex = id.strip_prefix("0x").or_else(|| id.strip_prefix("0X")).unwrap_or(&id);
            // 32 digits as pt-query-digest 3 prints them; 16, the ids of earlier releases (and of
            // pt 2), still match as the last 16.
            if !matches!(hex.len(), 16 | 32) || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
                return Err(ConfigError::Fingerprint { value: id });
            }
            ignore_fingerprints.push(hex.to_ascii_uppercase());
        }
        let slow_query = self
            .number::<f64>(
                "SLOW_QUERY_ALERT_SECONDS",
                "a positive number of seconds (Query_time at or above it alerts)",
                |s| s > 0.0 && s.is_finite(),
            )?
            .map(|seconds| SlowQueryRule { seconds, min_rows_examined, ignore_users, ignore_fingerprints });
        let markers = match self.get("ALERT_MARKERS") {
            None => Vec::new(),
            Some(value) => alert::parse_markers(value).map_err(|e| rule("ALERT_MARKERS", e))?,
        };
        let when = match self.get("ALERT_WHEN") {
            None => Vec::new(),
            Some(value) => alert::parse_when(value).map_err(|e| rule("ALERT_WHEN", e))?,
        };
        let max_messages = self
            .number::<usize>("ALERT_MAX_MESSAGES", "a number of messages per invocation from 1 to 50", |n| {
                (1..=50).contains(&n)
            })?
            .unwrap_or(DEFAULT_ALERT_MAX_MESSAGES);
        let cooldown = self
            .number::<u64>("ALERT_COOLDOWN_SECONDS", "a whole number of seconds from 0 (no cooldown) to 86400", |s| {
                s <= 86_400
            })?
            .map_or(DEFAULT_ALERT_COOLDOWN, Duration::from_secs);
        let sources: Vec<&'static str> = ["SLACK_WEBHOOK_URL", "SLACK_WEBHOOK_SECRET_ARN", "SLACK_WEBHOOK_PARAMETER"]
            .into_iter()
            .filter(|name| self.get(name).is_some())
            .collect();
        if sources.len() > 1 {
            return Err(ConfigError::WebhookSources { names: sources.join(" and ") });
        }
        let resource = |name: &'static str, value: &str| {
            let value = value.trim();
            if value.is_empty() || value.len() > 2048 || value.contains(char::is_whitespace) {
                Err(ConfigError::ResourceName { name, value: value.to_owned() })
            } else {
                Ok(value.to_owned())
            }
        };
        let webhook = match sources.first().copied() {
            None => None,
            Some("SLACK_WEBHOOK_URL") => {
                let value = self.get("SLACK_WEBHOOK_URL").unwrap_or_default();
                crate::alert::slack::webhook_url(value).map_err(|problem| ConfigError::WebhookUrl { problem })?;
                Some(WebhookSource::Url(Secret::new(value.trim())))
            }
            Some(name @ "SLACK_WEBHOOK_SECRET_ARN") => {
                Some(WebhookSource::Secret(resource(name, self.get(name).unwrap_or_default())?))
            }
            Some(name) => Some(WebhookSource::Parameter(resource(name, self.get(name).unwrap_or_default())?)),
        };
        let timeout = self
            .number::<f64>("SLACK_TIMEOUT_SECONDS", "a number of seconds above 0 and at most 30", |s| {
                s > 0.0 && s <= 30.0
            })?
            .map_or(DEFAULT_SLACK_TIMEOUT, Duration::from_secs_f64);
        let port = self
            .number::<u16>("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "a TCP port from 1 to 65535", |port| port > 0)?
            .unwrap_or(DEFAULT_EXTENSION_PORT);
        let dashboards_url = match self.get("DASHBOARDS_URL") {
            None => None,
            Some(value) => Some(parse_url("DASHBOARDS_URL", value)?),
        };
        let window_minutes = self
            .number::<i64>("DIGEST_WINDOW_MINUTES", "a whole number of minutes from 1 to 10080 (a week)", |m| {
                (1..=10_080).contains(&m)
            })?
            .unwrap_or(DEFAULT_DIGEST_WINDOW_MINUTES);
        let top = self
            .number::<usize>("DIGEST_TOP", "a whole number from 1 to 20", |n| (1..=20).contains(&n))?
            .unwrap_or(DEFAULT_DIGEST_TOP);
        let bot_token = self.get("SLACK_BOT_TOKEN").map(|t| Secret::new(t.trim()));
        let channel_id = self.get("SLACK_CHANNEL_ID").map(|c| c.trim().to_owned());
        if let Some(channel) = &channel_id {
            if !channel.chars().all(|c| c.is_ascii_alphanumeric()) || channel.len() > 32 {
                return Err(ConfigError::Number {
                    name: "SLACK_CHANNEL_ID",
                    rule: "a channel id (letters and digits, such as C0123456789; not a #name)",
                    value: channel.clone(),
                });
            }
        }
        if bot_token.is_some() && channel_id.is_none() {
            self.require("SLACK_CHANNEL_ID", "with SLACK_BOT_TOKEN: the channel the digest's chart is shared in")?;
        }
        let slack_api = match self.get("SLACK_API_URL") {
            None => DigestConfig::default().slack_api,
            Some(value) => parse_url("SLACK_API_URL", value)?,
        };
        Ok(AlertConfig {
            digest: DigestConfig { window_minutes, top, bot_token, channel_id, slack_api },
            rules: Rules { slow_query, markers, when },
            max_messages,
            cooldown,
            webhook,
            timeout,
            extension: ExtensionConfig { port, token: self.get("AWS_SESSION_TOKEN").map(Secret::new) },
            dashboards_url,
        })
    }
}

/// An `http://` or `https://` URL without user, query or fragment (`DASHBOARDS_URL`).
fn parse_url(name: &'static str, value: &str) -> Result<Url, ConfigError> {
    let problem = |problem: &str| ConfigError::Url { name, value: value.to_owned(), problem: problem.to_owned() };
    let url = Url::parse(value.trim()).map_err(|e| problem(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(problem("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(problem("there is no host"));
    }
    if !url.username().is_empty() || url.password().is_some() || url.query().is_some() || url.fragment().is_some() {
        return Err(problem("a user name, password, query string or fragment is not allowed"));
    }
    Ok(url)
}
