//! Settings from environment variables, read and validated once at start.
//!
//! Two stages: [`RawConfig`] holds the strings as found, [`Config`] the validated, typed values.
//! Variables are read through a lookup function, so tests pass a map and never touch the process
//! environment. Every error names the variable and the value it refused, except secrets, whose
//! values never appear in an error or a log line ([`Secret`]'s `Debug` is redacted).
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `INDEX_PREFIX` | `cwl` | first part of every index name (`cwl-aws-rds-…-2026.11.21`) |
//! | `INDEX_TYPE` | unset | legacy `_type` for Elasticsearch 6 domains; leave unset for OpenSearch and ES 7+ |
//! | `OPENSEARCH_ENDPOINT` | unset | where to send (`https://search-….es.amazonaws.com`); unset: print the `_bulk` body (dry run) |
//! | `OPENSEARCH_AUTH` | `sigv4` | `sigv4` (IAM), `basic` (user and password) or `none` |
//! | `OPENSEARCH_SERVICE` | `es` | SigV4 service: `es` for managed domains, `aoss` for OpenSearch Serverless |
//! | `OPENSEARCH_USERNAME`, `OPENSEARCH_PASSWORD` | unset | basic auth (`OPENSEARCH_AUTH=basic`) |
//! | `OPENSEARCH_DOCUMENT_IDS` | `true` (`false` with `aoss`) | `_id` = event id, so retries overwrite; Serverless time-series collections refuse ids |
//! | `OPENSEARCH_COMPRESSION` | `none` | `gzip`: compress request bodies (signed over the compressed bytes) |
//! | `OPENSEARCH_TIMEOUT_SECONDS` | `30` | one request's timeout (retries also stop at the invocation's deadline) |
//! | `BULK_MAX_BYTES` | `5242880` | largest `_bulk` request body; larger batches are split, larger documents truncated |
//! | `METRICS_NAMESPACE` | `LogsToOpenSearch` | CloudWatch namespace of the Embedded Metric Format line (Lambda only) |
//! | `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN` | set by Lambda | SigV4 credentials |
//! | `AWS_LAMBDA_FUNCTION_NAME` | set by Lambda | the metrics' `FunctionName` dimension |
//! | `SLOW_QUERY_ALERT_SECONDS` | unset | alert on slow queries whose `Query_time` is at or above this |
//! | `SLOW_QUERY_ALERT_MIN_ROWS_EXAMINED` | unset | … and whose `Rows_examined` is at or above this |
//! | `SLOW_QUERY_ALERT_IGNORE_USERS` | `rdsadmin` | users whose queries never alert (`,`-separated; `none` for none) |
//! | `SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS` | unset | `Fingerprint_id`s that never alert (`,`-separated) |
//! | `ALERT_MARKERS` | unset | alert on messages containing one of these (`,`-separated: `[CRITICAL],[ALERT]`) |
//! | `ALERT_WHEN` | unset | alert on field conditions (`status>=500 && path!=/health, level==FATAL`) |
//! | `ALERT_MAX_MESSAGES` | `5` | messages per invocation; the rest are summarised in the last one |
//! | `ALERT_COOLDOWN_SECONDS` | `300` | the same alert is not sent again from one execution environment within this; `0`: always |
//! | `SLACK_WEBHOOK_URL` | unset | the incoming webhook (a secret) … |
//! | `SLACK_WEBHOOK_SECRET_ARN` | unset | … or the Secrets Manager secret holding it … |
//! | `SLACK_WEBHOOK_PARAMETER` | unset | … or the SSM parameter holding it (both read through the Parameters and Secrets extension) |
//! | `SLACK_TIMEOUT_SECONDS` | `3` | one Slack request's timeout |
//! | `PARAMETERS_SECRETS_EXTENSION_HTTP_PORT` | `2773` | the extension's port (the extension's own variable) |
//! | `DASHBOARDS_URL` | unset | OpenSearch Dashboards / Kibana base URL, for the message's Discover button |
//! | `DIGEST_WINDOW_MINUTES` | `60` | the window a scheduled invocation digests (the template's `DigestSchedule` invokes it) |
//! | `DIGEST_TOP` | `10` | fingerprints in the scheduled digest's message |
//! | `SLACK_BOT_TOKEN` | unset | a bot token with `files:write` (a secret): the digest's chart is uploaded with it |
//! | `SLACK_CHANNEL_ID` | unset | the channel the chart goes to (`C0123456789`; needed with `SLACK_BOT_TOKEN`) |
//! | `SLACK_API_URL` | `https://slack.com/api` | Slack's Web API |
//! | `REDACT_QUERY_LITERALS` | `false` | `true`: mask literals and comments in `Query`, `Fingerprint`, `@message` and alerts |
//! | `FINGERPRINT_PRESERVE_EMBEDDED_NUMBERS` | `false` | `true`: numbers inside identifiers stay in fingerprints (pt-query-digest's `--preserve-embedded-numbers`) |
//! | `REDACT_PATTERNS` | unset | a JSON array of regular expressions whose matches become `?` in every document's text and alert |
//! | `INSTALL_TEMPLATES` | `false` | `true`: the Lambda function puts the index templates once per execution environment |
//! | `SUBSCRIPTION_DESTINATION_ARN` | unset | the function that log groups created later are subscribed to (auto-subscribe) |
//! | `SUBSCRIPTION_FILTER_NAME` | `logs-to-opensearch` | the name of the subscription filters this tool makes and removes |
//! | `SUBSCRIBE_LOG_GROUP_PATTERNS` | unset | log groups created later that match one of these (`,`-separated, `*` any run) are subscribed |
//! | `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` (or `AWS_ENDPOINT_URL`) | the region's | the CloudWatch Logs endpoint (a VPC endpoint) |
//! | `REPORT_BATCH_ITEM_FAILURES` | `false` | `true` (Kinesis, with `FunctionResponseTypes: [ReportBatchItemFailures]`): answer `batchItemFailures` instead of failing the invocation |

use crate::index_name::is_forbidden;

mod alerts;
mod opensearch;
mod subscriptions;
#[cfg(test)]
mod tests;

pub use alerts::{AlertConfig, DigestConfig, ExtensionConfig, WebhookSource};
use opensearch::parse_endpoint;
pub use opensearch::{Auth, Compression, OpenSearchConfig};
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;
pub use subscriptions::{check_filter_name, AwsAccess, SubscriptionsConfig, DEFAULT_FILTER_NAME};

/// The variables this module reads, in the order documented.
pub const VARIABLES: &[&str] = &[
    "INDEX_PREFIX",
    "INDEX_TYPE",
    "OPENSEARCH_ENDPOINT",
    "OPENSEARCH_AUTH",
    "OPENSEARCH_SERVICE",
    "OPENSEARCH_USERNAME",
    "OPENSEARCH_PASSWORD",
    "OPENSEARCH_DOCUMENT_IDS",
    "OPENSEARCH_COMPRESSION",
    "OPENSEARCH_TIMEOUT_SECONDS",
    "BULK_MAX_BYTES",
    "METRICS_NAMESPACE",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_FUNCTION_NAME",
    "SLOW_QUERY_ALERT_SECONDS",
    "SLOW_QUERY_ALERT_MIN_ROWS_EXAMINED",
    "SLOW_QUERY_ALERT_IGNORE_USERS",
    "SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS",
    "ALERT_MARKERS",
    "ALERT_WHEN",
    "ALERT_MAX_MESSAGES",
    "ALERT_COOLDOWN_SECONDS",
    "SLACK_WEBHOOK_URL",
    "SLACK_WEBHOOK_SECRET_ARN",
    "SLACK_WEBHOOK_PARAMETER",
    "SLACK_TIMEOUT_SECONDS",
    "PARAMETERS_SECRETS_EXTENSION_HTTP_PORT",
    "DASHBOARDS_URL",
    "DIGEST_WINDOW_MINUTES",
    "DIGEST_TOP",
    "SLACK_BOT_TOKEN",
    "SLACK_CHANNEL_ID",
    "SLACK_API_URL",
    "REDACT_QUERY_LITERALS",
    "FINGERPRINT_PRESERVE_EMBEDDED_NUMBERS",
    "REDACT_PATTERNS",
    "INSTALL_TEMPLATES",
    "REPORT_BATCH_ITEM_FAILURES",
    "SUBSCRIPTION_DESTINATION_ARN",
    "SUBSCRIPTION_FILTER_NAME",
    "SUBSCRIBE_LOG_GROUP_PATTERNS",
    "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
    "AWS_ENDPOINT_URL",
];

const DEFAULT_INDEX_PREFIX: &str = "cwl";
const MAX_PREFIX_BYTES: usize = 100;
/// 5 MiB: Amazon OpenSearch Service refuses bodies over 10 MiB on small instance types.
pub const DEFAULT_BULK_MAX_BYTES: usize = 5 * 1024 * 1024;
/// Below this a single CloudWatch Logs event (256 KiB at most) could not fit with its fields.
pub const MIN_BULK_MAX_BYTES: usize = 64 * 1024;
/// The largest body any Amazon OpenSearch Service instance type accepts.
pub const MAX_BULK_MAX_BYTES: usize = 100 * 1024 * 1024;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const DEFAULT_METRICS_NAMESPACE: &str = "LogsToOpenSearch";

/// A value that must never be printed: `Debug` shows `<redacted>`, and there is no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Secret(value.into())
    }

    /// The value, for the one place that needs it (signing, the `Authorization` header).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// Validated settings.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    pub index_prefix: String,
    /// `_type` in every action line (Elasticsearch 6 only: OpenSearch 2 refuses it).
    pub index_type: Option<String>,
    /// Largest `_bulk` body; also the largest document (bigger ones are truncated).
    pub bulk_max_bytes: usize,
    /// `_id` = event id in action lines (retries overwrite instead of duplicating).
    pub document_ids: bool,
    /// Where to send; `None` is a dry run that prints the `_bulk` body.
    pub opensearch: Option<OpenSearchConfig>,
    pub metrics: MetricsConfig,
    pub alerts: AlertConfig,
    /// Mask literals and comments in `Query`, `Fingerprint`, `@message` and alert messages.
    pub redact_literals: bool,
    /// The user's patterns (`REDACT_PATTERNS`), masked in every document.
    pub redact_patterns: crate::redact::Patterns,
    /// pt-query-digest's fingerprint options (`FINGERPRINT_PRESERVE_EMBEDDED_NUMBERS`).
    pub fingerprint_rules: crate::fingerprint::Rules,
    /// The Lambda function installs the index templates at start (`INSTALL_TEMPLATES`).
    pub install_templates: bool,
    /// Kinesis records not delivered are named in `batchItemFailures` rather than failing the
    /// invocation (`REPORT_BATCH_ITEM_FAILURES`). Only safe when the event source mapping reports
    /// batch item failures: otherwise Lambda takes the answer as "all delivered".
    pub report_batch_item_failures: bool,
    /// Log-group subscriptions: the custom resource, auto-subscribe and `subscribe`.
    pub subscriptions: SubscriptionsConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            index_prefix: DEFAULT_INDEX_PREFIX.to_owned(),
            index_type: None,
            bulk_max_bytes: DEFAULT_BULK_MAX_BYTES,
            document_ids: true,
            opensearch: None,
            metrics: MetricsConfig::default(),
            alerts: AlertConfig::default(),
            redact_literals: false,
            redact_patterns: crate::redact::Patterns::default(),
            fingerprint_rules: crate::fingerprint::Rules::default(),
            install_templates: false,
            report_batch_item_failures: false,
            subscriptions: SubscriptionsConfig {
                filter_name: DEFAULT_FILTER_NAME.to_owned(),
                ..SubscriptionsConfig::default()
            },
        }
    }
}

/// The CloudWatch Embedded Metric Format line's namespace and dimension.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsConfig {
    pub namespace: String,
    pub function_name: Option<String>,
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig { namespace: DEFAULT_METRICS_NAMESPACE.to_owned(), function_name: None }
    }
}

/// A variable that is set but unusable, or missing where another one needs it.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("REDACT_PATTERNS: {problem}")]
    RedactPatterns { problem: String },
    #[error("{name} is not valid UTF-8")]
    NotUnicode { name: &'static str },
    #[error(
        "INDEX_PREFIX must be lower case letters, digits, '-', '_' or '.', not start with '-', '_', '+' or '.', \
         and be at most {MAX_PREFIX_BYTES} bytes; got {value:?}"
    )]
    IndexPrefix { value: String },
    #[error("INDEX_TYPE must be a non-empty name without '#', ',' or whitespace, not starting with '_' (except \"_doc\"); got {value:?}")]
    IndexType { value: String },
    #[error("OPENSEARCH_ENDPOINT must be an http:// or https:// URL such as https://search-logs-abc123.eu-west-1.es.amazonaws.com: {problem}; got {value:?}")]
    Endpoint { value: String, problem: String },
    #[error("OPENSEARCH_ENDPOINT must not carry a user name or password (use OPENSEARCH_AUTH=basic with OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD)")]
    EndpointUserInfo,
    #[error("{name} must be one of {allowed}; got {value:?}")]
    OneOf { name: &'static str, allowed: &'static str, value: String },
    #[error("{name} must be {rule}; got {value:?}")]
    Number { name: &'static str, rule: &'static str, value: String },
    #[error("{name} is required {because}")]
    Missing { name: &'static str, because: &'static str },
    #[error("METRICS_NAMESPACE must be 1 to 255 characters without ':' ; got {value:?}")]
    MetricsNamespace { value: String },
    #[error("{name}: {problem}")]
    Rule { name: &'static str, problem: crate::alert::RuleError },
    #[error(
        "SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS must list Fingerprint_id values (32 hexadecimal digits, as in the documents and pt-query-digest's reports; 16, an id of earlier releases, matches its last 16); got {value:?}"
    )]
    Fingerprint { value: String },
    #[error("{name} must be an http:// or https:// URL: {problem}; got {value:?}")]
    Url { name: &'static str, value: String, problem: String },
    #[error(
        "SLACK_WEBHOOK_URL must be an incoming webhook URL (https://hooks.slack.com/services/…): {problem}; \
         the value is not shown because it is a secret"
    )]
    WebhookUrl { problem: &'static str },
    #[error(
        "set only one of SLACK_WEBHOOK_URL, SLACK_WEBHOOK_SECRET_ARN and SLACK_WEBHOOK_PARAMETER; {names} are set"
    )]
    WebhookSources { names: String },
    #[error("{name} must be a secret ARN, a name or a parameter path without spaces, at most 2048 characters; got {value:?}")]
    ResourceName { name: &'static str, value: String },
    #[error("{name}: {problem}")]
    Subscriptions { name: &'static str, problem: String },
}

/// The variables as found (empty counts as unset).
#[derive(Debug, Default, Clone)]
pub struct RawConfig {
    values: BTreeMap<&'static str, String>,
}

impl RawConfig {
    /// Reads every variable through `lookup`, which returns `Err(())` for a value that is not UTF-8.
    pub fn read(lookup: impl Fn(&str) -> Result<Option<String>, ()>) -> Result<RawConfig, ConfigError> {
        let mut values = BTreeMap::new();
        for &name in VARIABLES {
            match lookup(name) {
                Err(()) => return Err(ConfigError::NotUnicode { name }),
                Ok(Some(value)) if !value.is_empty() => {
                    values.insert(name, value);
                }
                Ok(_) => {}
            }
        }
        Ok(RawConfig { values })
    }

    /// Reads the process environment: the one place that does.
    #[allow(clippy::disallowed_methods, reason = "config is where environment variables are read")]
    pub fn from_env() -> Result<RawConfig, ConfigError> {
        RawConfig::read(|name| match std::env::var(name) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(()),
        })
    }

    /// Overrides one variable (the CLI's `--endpoint`); `name` must be one of [`VARIABLES`].
    pub fn set(&mut self, name: &'static str, value: impl Into<String>) {
        debug_assert!(VARIABLES.contains(&name), "{name} is not a configuration variable");
        let value = value.into();
        if value.is_empty() {
            self.values.remove(name);
        } else {
            self.values.insert(name, value);
        }
    }

    pub(super) fn get(&self, name: &'static str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    /// Validates and types the values.
    pub fn validate(self) -> Result<Config, ConfigError> {
        let index_prefix = match self.get("INDEX_PREFIX") {
            None => DEFAULT_INDEX_PREFIX.to_owned(),
            Some(value) if valid_prefix(value) => value.to_owned(),
            Some(value) => return Err(ConfigError::IndexPrefix { value: value.to_owned() }),
        };
        let index_type = match self.get("INDEX_TYPE") {
            None => None,
            Some(value) if valid_type(value) => Some(value.to_owned()),
            Some(value) => return Err(ConfigError::IndexType { value: value.to_owned() }),
        };
        let bulk_max_bytes = self
            .number::<usize>("BULK_MAX_BYTES", "a number of bytes from 65536 (64 KiB) to 104857600 (100 MiB)", |n| {
                (MIN_BULK_MAX_BYTES..=MAX_BULK_MAX_BYTES).contains(&n)
            })?
            .unwrap_or(DEFAULT_BULK_MAX_BYTES);
        // Validated even without an endpoint, so a typo shows before the endpoint is added.
        let auth_kind = one_of(&self, "OPENSEARCH_AUTH", &["sigv4", "basic", "none"], "sigv4, basic or none")?;
        let service =
            one_of(&self, "OPENSEARCH_SERVICE", &["es", "aoss"], "es (managed domains) or aoss (Serverless)")?;
        // Serverless time-series collections refuse `_id` (per-item 400), so `aoss` leaves it out
        // unless told otherwise (search collections accept it).
        let document_ids = match self.get("OPENSEARCH_DOCUMENT_IDS") {
            None => service != "aoss",
            Some(_) => one_of(&self, "OPENSEARCH_DOCUMENT_IDS", &["true", "false"], "true or false")? == "true",
        };
        let compression = match one_of(&self, "OPENSEARCH_COMPRESSION", &["none", "gzip"], "none or gzip")? {
            "gzip" => Compression::Gzip,
            _ => Compression::None,
        };
        let timeout = self
            .number::<f64>("OPENSEARCH_TIMEOUT_SECONDS", "a number of seconds above 0 and at most 900", |s| {
                s > 0.0 && s <= 900.0
            })?
            .map_or(DEFAULT_TIMEOUT, Duration::from_secs_f64);
        let metrics = MetricsConfig {
            namespace: match self.get("METRICS_NAMESPACE") {
                None => DEFAULT_METRICS_NAMESPACE.to_owned(),
                Some(value) if value.len() <= 255 && !value.contains(':') => value.to_owned(),
                Some(value) => return Err(ConfigError::MetricsNamespace { value: value.to_owned() }),
            },
            function_name: self.get("AWS_LAMBDA_FUNCTION_NAME").map(str::to_owned),
        };
        let opensearch = match self.get("OPENSEARCH_ENDPOINT") {
            None => None,
            Some(value) => {
                let endpoint = parse_endpoint(value)?;
                let auth = match auth_kind {
                    "none" => Auth::None,
                    "basic" => {
                        const BECAUSE: &str = "when OPENSEARCH_AUTH=basic";
                        let username = self.require("OPENSEARCH_USERNAME", BECAUSE)?.to_owned();
                        let password = Secret::new(self.require("OPENSEARCH_PASSWORD", BECAUSE)?);
                        Auth::Basic { username, password }
                    }
                    _ => {
                        const BECAUSE: &str = "when OPENSEARCH_AUTH=sigv4 (the default): Lambda sets it; \
                            in a shell, export the credentials (eval \"$(aws configure export-credentials --format env)\") \
                            or set OPENSEARCH_AUTH=none for a cluster without authentication";
                        let region = match self.get("AWS_REGION").or(self.get("AWS_DEFAULT_REGION")) {
                            Some(region) => region.to_owned(),
                            None => return Err(ConfigError::Missing { name: "AWS_REGION", because: BECAUSE }),
                        };
                        Auth::SigV4 {
                            service: service.to_owned(),
                            region,
                            access_key_id: self.require("AWS_ACCESS_KEY_ID", BECAUSE)?.to_owned(),
                            secret_access_key: Secret::new(self.require("AWS_SECRET_ACCESS_KEY", BECAUSE)?),
                            session_token: self.get("AWS_SESSION_TOKEN").map(Secret::new),
                        }
                    }
                };
                Some(OpenSearchConfig { endpoint, auth, compression, timeout })
            }
        };
        let redact_literals = one_of(&self, "REDACT_QUERY_LITERALS", &["false", "true"], "true or false")? == "true";
        let preserve_embedded_numbers =
            one_of(&self, "FINGERPRINT_PRESERVE_EMBEDDED_NUMBERS", &["false", "true"], "true or false")? == "true";
        let fingerprint_rules = crate::fingerprint::Rules { preserve_embedded_numbers };
        let install_templates = one_of(&self, "INSTALL_TEMPLATES", &["false", "true"], "true or false")? == "true";
        let redact_patterns = match self.get("REDACT_PATTERNS") {
            None => crate::redact::Patterns::default(),
            Some(value) => {
                let list: Vec<String> = serde_json::from_str(value).map_err(|e| ConfigError::RedactPatterns {
                    problem: format!("not a JSON array of strings ({e}); e.g. [\"sk_live_[0-9a-zA-Z]+\"]"),
                })?;
                crate::redact::Patterns::new(&list).map_err(|(pattern, problem)| ConfigError::RedactPatterns {
                    problem: format!("the pattern {pattern:?} is refused: {problem}"),
                })?
            }
        };
        let report_batch_item_failures =
            one_of(&self, "REPORT_BATCH_ITEM_FAILURES", &["false", "true"], "true or false")? == "true";
        let alerts = self.alert_config()?;
        let subscriptions = self.subscriptions_config()?;
        Ok(Config {
            subscriptions,
            install_templates,
            report_batch_item_failures,
            index_prefix,
            index_type,
            bulk_max_bytes,
            document_ids,
            opensearch,
            metrics,
            alerts,
            redact_literals,
            redact_patterns,
            fingerprint_rules,
        })
    }

    /// `name` parsed as `T` and accepted by `valid`; `None` when unset; else an error naming the
    /// variable, the `rule` and the value.
    pub(super) fn number<T: std::str::FromStr + Copy>(
        &self,
        name: &'static str,
        rule: &'static str,
        valid: impl Fn(T) -> bool,
    ) -> Result<Option<T>, ConfigError> {
        let Some(value) = self.get(name) else { return Ok(None) };
        match value.trim().parse::<T>() {
            Ok(number) if valid(number) => Ok(Some(number)),
            _ => Err(ConfigError::Number { name, rule, value: value.to_owned() }),
        }
    }

    pub(super) fn require(&self, name: &'static str, because: &'static str) -> Result<&str, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing { name, because })
    }
}

pub(super) fn one_of(
    raw: &RawConfig,
    name: &'static str,
    choices: &[&'static str],
    allowed: &'static str,
) -> Result<&'static str, ConfigError> {
    let Some(value) = raw.get(name) else { return Ok(choices[0]) };
    let lowered = value.trim().to_ascii_lowercase();
    choices.iter().copied().find(|c| *c == lowered).ok_or(ConfigError::OneOf { name, allowed, value: value.to_owned() })
}

impl Config {
    /// Reads and validates the process environment.
    pub fn from_env() -> Result<Config, ConfigError> {
        RawConfig::from_env()?.validate()
    }
}

fn valid_prefix(prefix: &str) -> bool {
    prefix.len() <= MAX_PREFIX_BYTES
        && !prefix.starts_with(['-', '_', '+', '.'])
        && prefix.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '-' | '_' | '.'))
        && !prefix.chars().any(is_forbidden)
}

fn valid_type(index_type: &str) -> bool {
    index_type.len() <= 255
        && (index_type == "_doc" || !index_type.starts_with('_'))
        && !index_type.contains(['#', ','])
        && !index_type.contains(char::is_whitespace)
}
