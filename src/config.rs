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
//! | `REDACT_QUERY_LITERALS` | `false` | `true`: mask literals and comments in `Query`, `Fingerprint`, `@message` and alerts |
//! | `REDACT_PATTERNS` | unset | a JSON array of regular expressions whose matches become `?` in every document's text and alert |
//! | `INSTALL_TEMPLATES` | `false` | `true`: the Lambda function puts the index templates once per execution environment |
//! | `REPORT_BATCH_ITEM_FAILURES` | `false` | `true` (Kinesis, with `FunctionResponseTypes: [ReportBatchItemFailures]`): answer `batchItemFailures` instead of failing the invocation |

use crate::alert::{self, Rules, SlowQueryRule};
use crate::index_name::is_forbidden;
use opensearch::http::Url;
use std::collections::BTreeMap;
use std::fmt;
use std::time::Duration;

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
    "REDACT_QUERY_LITERALS",
    "REDACT_PATTERNS",
    "INSTALL_TEMPLATES",
    "REPORT_BATCH_ITEM_FAILURES",
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
const DEFAULT_ALERT_MAX_MESSAGES: usize = 5;
const DEFAULT_ALERT_COOLDOWN: Duration = Duration::from_secs(300);
const DEFAULT_SLACK_TIMEOUT: Duration = Duration::from_secs(3);
const DEFAULT_EXTENSION_PORT: u16 = 2773;
/// RDS's own maintenance user: its queries are not the application's.
const DEFAULT_IGNORED_USERS: &[&str] = &["rdsadmin"];

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
    /// The Lambda function installs the index templates at start (`INSTALL_TEMPLATES`).
    pub install_templates: bool,
    /// Kinesis records not delivered are named in `batchItemFailures` rather than failing the
    /// invocation (`REPORT_BATCH_ITEM_FAILURES`). Only safe when the event source mapping reports
    /// batch item failures: otherwise Lambda takes the answer as "all delivered".
    pub report_batch_item_failures: bool,
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
            install_templates: false,
            report_batch_item_failures: false,
        }
    }
}

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

/// How to reach the cluster.
#[derive(Debug, Clone, PartialEq)]
pub struct OpenSearchConfig {
    /// Base URL, path ending in `/`.
    pub endpoint: Url,
    pub auth: Auth,
    pub compression: Compression,
    /// One request's timeout.
    pub timeout: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// AWS Signature Version 4 with the function role's credentials.
    SigV4 {
        service: String,
        region: String,
        access_key_id: String,
        secret_access_key: Secret,
        session_token: Option<Secret>,
    },
    Basic {
        username: String,
        password: Secret,
    },
    None,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
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
    Rule { name: &'static str, problem: alert::RuleError },
    #[error(
        "SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS must list Fingerprint_id values (16 hexadecimal digits, as in the documents); got {value:?}"
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

    fn get(&self, name: &'static str) -> Option<&str> {
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
        Ok(Config {
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
        })
    }

    fn alert_config(&self) -> Result<AlertConfig, ConfigError> {
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
            if hex.len() != 16 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
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
        Ok(AlertConfig {
            rules: Rules { slow_query, markers, when },
            max_messages,
            cooldown,
            webhook,
            timeout,
            extension: ExtensionConfig { port, token: self.get("AWS_SESSION_TOKEN").map(Secret::new) },
            dashboards_url,
        })
    }

    /// `name` parsed as `T` and accepted by `valid`; `None` when unset; else an error naming the
    /// variable, the `rule` and the value.
    fn number<T: std::str::FromStr + Copy>(
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

    fn require(&self, name: &'static str, because: &'static str) -> Result<&str, ConfigError> {
        self.get(name).ok_or(ConfigError::Missing { name, because })
    }
}

fn one_of(
    raw: &RawConfig,
    name: &'static str,
    choices: &[&'static str],
    allowed: &'static str,
) -> Result<&'static str, ConfigError> {
    let Some(value) = raw.get(name) else { return Ok(choices[0]) };
    let lowered = value.trim().to_ascii_lowercase();
    choices.iter().copied().find(|c| *c == lowered).ok_or(ConfigError::OneOf { name, allowed, value: value.to_owned() })
}

/// `https://host[:port][/path]`; a bare host name gets `https://` (the original Node.js function
/// took its endpoint without a scheme).
fn parse_endpoint(value: &str) -> Result<Url, ConfigError> {
    let trimmed = value.trim();
    let with_scheme = if trimmed.contains("://") { trimmed.to_owned() } else { format!("https://{trimmed}") };
    let problem = |problem: &str| ConfigError::Endpoint { value: value.to_owned(), problem: problem.to_owned() };
    let mut url = match Url::parse(&with_scheme) {
        Ok(url) => url,
        // Don't echo a value that failed to parse and might hold a password.
        Err(_) if with_scheme.contains('@') => return Err(ConfigError::EndpointUserInfo),
        Err(e) => return Err(problem(&e.to_string())),
    };
    if !url.username().is_empty() || url.password().is_some() {
        return Err(ConfigError::EndpointUserInfo);
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(problem("the scheme must be http or https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(problem("there is no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(problem("a query string or fragment is not allowed"));
    }
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        RawConfig::read(|name| Ok(map.get(name).cloned()))?.validate()
    }

    const SIGV4_ENV: &[(&str, &str)] = &[
        ("OPENSEARCH_ENDPOINT", "https://search-logs-abc.eu-west-1.es.amazonaws.com"),
        ("AWS_REGION", "eu-west-1"),
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        ("AWS_SECRET_ACCESS_KEY", "very-secret-key"),
        ("AWS_SESSION_TOKEN", "very-secret-token"),
    ];

    fn with(
        base: &[(&'static str, &'static str)],
        extra: &[(&'static str, &'static str)],
    ) -> Vec<(&'static str, &'static str)> {
        let mut vars: Vec<_> = base.iter().filter(|(k, _)| !extra.iter().any(|(e, _)| e == k)).copied().collect();
        vars.extend_from_slice(extra);
        vars
    }

    #[test]
    fn defaults_when_nothing_is_set() {
        let c = config(&[]).unwrap();
        assert_eq!(c, Config::default());
        assert_eq!(c.index_prefix, "cwl");
        assert_eq!(c.bulk_max_bytes, 5 * 1024 * 1024);
        assert!(c.opensearch.is_none(), "no endpoint: dry run");
    }

    #[test]
    fn empty_values_count_as_unset() {
        assert_eq!(
            config(&[("INDEX_PREFIX", ""), ("INDEX_TYPE", ""), ("OPENSEARCH_ENDPOINT", "")]).unwrap(),
            Config::default()
        );
    }

    #[test]
    fn accepts_a_custom_prefix_and_legacy_type() {
        let c = config(&[("INDEX_PREFIX", "rds-slow.v2"), ("INDEX_TYPE", "_doc")]).unwrap();
        assert_eq!(c.index_prefix, "rds-slow.v2");
        assert_eq!(c.index_type.as_deref(), Some("_doc"));
    }

    #[test]
    fn refuses_bad_prefixes_naming_the_variable_and_value() {
        for bad in ["CWL", "-cwl", "_cwl", "+cwl", ".cwl", "c w l", "cwl:x", "cwl*", "cwl/x"] {
            let err = config(&[("INDEX_PREFIX", bad)]).unwrap_err();
            let message = err.to_string();
            assert!(message.starts_with("INDEX_PREFIX"), "{message}");
            assert!(message.contains(&format!("{bad:?}")), "{message}");
        }
    }

    #[test]
    fn refuses_bad_index_types() {
        for bad in ["_type", "a b", "a#b"] {
            let message = config(&[("INDEX_TYPE", bad)]).unwrap_err().to_string();
            assert!(message.starts_with("INDEX_TYPE") && message.contains(bad), "{message}");
        }
    }

    #[test]
    fn names_a_variable_that_is_not_utf8() {
        let err = RawConfig::read(|name| if name == "INDEX_TYPE" { Err(()) } else { Ok(None) }).unwrap_err();
        assert_eq!(err.to_string(), "INDEX_TYPE is not valid UTF-8");
    }

    #[test]
    fn sigv4_is_the_default_and_takes_the_lambda_credentials() {
        let c = config(SIGV4_ENV).unwrap();
        let os = c.opensearch.unwrap();
        assert_eq!(os.endpoint.as_str(), "https://search-logs-abc.eu-west-1.es.amazonaws.com/");
        assert_eq!(os.compression, Compression::None);
        assert_eq!(os.timeout, Duration::from_secs(30));
        match os.auth {
            Auth::SigV4 { service, region, access_key_id, secret_access_key, session_token } => {
                assert_eq!(
                    (service.as_str(), region.as_str(), access_key_id.as_str()),
                    ("es", "eu-west-1", "AKIDEXAMPLE")
                );
                assert_eq!(secret_access_key.expose(), "very-secret-key");
                assert_eq!(session_token.unwrap().expose(), "very-secret-token");
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn serverless_gzip_and_timeouts_are_read() {
        let c = config(&with(
            SIGV4_ENV,
            &[
                ("OPENSEARCH_SERVICE", "aoss"),
                ("OPENSEARCH_COMPRESSION", "GZIP"),
                ("OPENSEARCH_TIMEOUT_SECONDS", "2.5"),
            ],
        ))
        .unwrap();
        assert!(!c.document_ids, "Serverless time-series collections refuse ids");
        let os = c.opensearch.unwrap();
        assert!(matches!(os.auth, Auth::SigV4 { ref service, .. } if service == "aoss"));
        assert_eq!(os.compression, Compression::Gzip);
        assert_eq!(os.timeout, Duration::from_millis(2500));
    }

    #[test]
    fn document_ids_default_on_except_for_serverless_and_can_be_set() {
        assert!(config(SIGV4_ENV).unwrap().document_ids);
        assert!(
            config(&with(SIGV4_ENV, &[("OPENSEARCH_SERVICE", "aoss"), ("OPENSEARCH_DOCUMENT_IDS", "true")]))
                .unwrap()
                .document_ids
        );
        assert!(!config(&with(SIGV4_ENV, &[("OPENSEARCH_DOCUMENT_IDS", "FALSE")])).unwrap().document_ids);
        let message = config(&[("OPENSEARCH_DOCUMENT_IDS", "yes")]).unwrap_err().to_string();
        assert_eq!(message, "OPENSEARCH_DOCUMENT_IDS must be one of true or false; got \"yes\"");
    }

    #[test]
    fn a_bare_host_gets_https_and_a_path_keeps_its_slash() {
        let c = config(&with(SIGV4_ENV, &[("OPENSEARCH_ENDPOINT", "vpc-logs.eu-west-1.es.amazonaws.com")])).unwrap();
        assert_eq!(c.opensearch.unwrap().endpoint.as_str(), "https://vpc-logs.eu-west-1.es.amazonaws.com/");
        let c =
            config(&[("OPENSEARCH_ENDPOINT", "http://127.0.0.1:9200/search"), ("OPENSEARCH_AUTH", "none")]).unwrap();
        assert_eq!(c.opensearch.unwrap().endpoint.as_str(), "http://127.0.0.1:9200/search/");
    }

    #[test]
    fn refuses_bad_endpoints_naming_the_variable() {
        for bad in ["ftp://host", "https://", "https://host/?x=1", "https://host/#top", "http://[::1"] {
            let message = config(&[("OPENSEARCH_ENDPOINT", bad), ("OPENSEARCH_AUTH", "none")]).unwrap_err().to_string();
            assert!(message.starts_with("OPENSEARCH_ENDPOINT") && message.contains(bad), "{message}");
        }
    }

    #[test]
    fn an_endpoint_with_a_password_is_refused_without_echoing_it() {
        for bad in ["https://admin:hunter2@host", "https://admin:hunter2@[::1"] {
            let message = config(&[("OPENSEARCH_ENDPOINT", bad), ("OPENSEARCH_AUTH", "none")]).unwrap_err().to_string();
            assert!(message.starts_with("OPENSEARCH_ENDPOINT"), "{message}");
            assert!(!message.contains("hunter2"), "{message}");
        }
    }

    #[test]
    fn sigv4_without_credentials_says_which_variable_and_how_to_fix_it() {
        for missing in ["AWS_REGION", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
            let vars: Vec<_> = SIGV4_ENV.iter().filter(|(k, _)| *k != missing).copied().collect();
            let message = config(&vars).unwrap_err().to_string();
            assert!(message.starts_with(&format!("{missing} is required when OPENSEARCH_AUTH=sigv4")), "{message}");
        }
        let c = config(&with(SIGV4_ENV, &[("AWS_REGION", ""), ("AWS_DEFAULT_REGION", "us-east-2")])).unwrap();
        assert!(matches!(c.opensearch.unwrap().auth, Auth::SigV4 { ref region, .. } if region == "us-east-2"));
    }

    #[test]
    fn basic_auth_needs_user_and_password() {
        let base = [("OPENSEARCH_ENDPOINT", "https://logs.example.com:9200"), ("OPENSEARCH_AUTH", "basic")];
        let message = config(&base).unwrap_err().to_string();
        assert!(message.starts_with("OPENSEARCH_USERNAME is required when OPENSEARCH_AUTH=basic"), "{message}");
        let c = config(&with(&base, &[("OPENSEARCH_USERNAME", "logs"), ("OPENSEARCH_PASSWORD", "pw")])).unwrap();
        assert!(
            matches!(c.opensearch.unwrap().auth, Auth::Basic { ref username, ref password } if username == "logs" && password.expose() == "pw")
        );
    }

    #[test]
    fn refuses_unknown_choices_and_bad_numbers() {
        let cases = [
            ("OPENSEARCH_AUTH", "iam", "OPENSEARCH_AUTH must be one of sigv4, basic or none; got \"iam\""),
            (
                "OPENSEARCH_SERVICE",
                "opensearch",
                "OPENSEARCH_SERVICE must be one of es (managed domains) or aoss (Serverless); got \"opensearch\"",
            ),
            ("OPENSEARCH_COMPRESSION", "zstd", "OPENSEARCH_COMPRESSION must be one of none or gzip; got \"zstd\""),
            (
                "BULK_MAX_BYTES",
                "5MB",
                "BULK_MAX_BYTES must be a number of bytes from 65536 (64 KiB) to 104857600 (100 MiB); got \"5MB\"",
            ),
            (
                "BULK_MAX_BYTES",
                "1000",
                "BULK_MAX_BYTES must be a number of bytes from 65536 (64 KiB) to 104857600 (100 MiB); got \"1000\"",
            ),
            (
                "OPENSEARCH_TIMEOUT_SECONDS",
                "0",
                "OPENSEARCH_TIMEOUT_SECONDS must be a number of seconds above 0 and at most 900; got \"0\"",
            ),
            (
                "OPENSEARCH_TIMEOUT_SECONDS",
                "NaN",
                "OPENSEARCH_TIMEOUT_SECONDS must be a number of seconds above 0 and at most 900; got \"NaN\"",
            ),
        ];
        for (name, value, expected) in cases {
            assert_eq!(config(&[(name, value)]).unwrap_err().to_string(), expected);
        }
        assert_eq!(config(&[("BULK_MAX_BYTES", "65536")]).unwrap().bulk_max_bytes, 65536);
    }

    #[test]
    fn secrets_never_show_in_debug_output() {
        let c = config(&with(SIGV4_ENV, &[])).unwrap();
        let debug = format!("{c:?}");
        assert!(!debug.contains("very-secret"), "{debug}");
        assert!(debug.contains("<redacted>"), "{debug}");
    }

    #[test]
    fn alert_rules_are_read_with_their_defaults() {
        let c = config(&[("SLOW_QUERY_ALERT_SECONDS", "2.5"), ("ALERT_MARKERS", "[CRITICAL],[ALERT]")]).unwrap();
        let rule = c.alerts.rules.slow_query.unwrap();
        assert_eq!(rule.seconds, 2.5);
        assert_eq!(rule.ignore_users, ["rdsadmin"], "RDS's own user is ignored by default");
        assert_eq!(rule.min_rows_examined, None);
        assert_eq!(c.alerts.rules.markers, ["[CRITICAL]", "[ALERT]"]);
        assert_eq!((c.alerts.max_messages, c.alerts.timeout), (5, Duration::from_secs(3)));
        assert_eq!(c.alerts.extension.port, 2773);
        assert_eq!(c.alerts.cooldown, Duration::from_secs(300));
        assert!(c.alerts.webhook.is_none() && !c.redact_literals);

        let c = config(&[
            ("SLOW_QUERY_ALERT_SECONDS", "10"),
            ("SLOW_QUERY_ALERT_MIN_ROWS_EXAMINED", "100000"),
            ("SLOW_QUERY_ALERT_IGNORE_USERS", "none"),
            ("SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS", "0x9c2f6b0e1d3a4b5c, 77D6859F540DE899"),
            ("REDACT_QUERY_LITERALS", "TRUE"),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2999"),
            ("AWS_SESSION_TOKEN", "token"),
        ])
        .unwrap();
        let rule = c.alerts.rules.slow_query.unwrap();
        assert!(rule.ignore_users.is_empty());
        assert_eq!(rule.min_rows_examined, Some(100_000));
        assert_eq!(rule.ignore_fingerprints, ["9C2F6B0E1D3A4B5C", "77D6859F540DE899"]);
        assert!(c.redact_literals);
        assert_eq!(c.alerts.extension.port, 2999);
        assert_eq!(c.alerts.extension.token.unwrap().expose(), "token");
    }

    #[test]
    fn the_webhook_comes_from_one_source_and_is_never_echoed() {
        let url = "https://hooks.slack.com/services/T0/B0/very-secret-hook";
        let c = config(&[("SLACK_WEBHOOK_URL", url)]).unwrap();
        assert_eq!(c.alerts.webhook, Some(WebhookSource::Url(Secret::new(url))));
        assert!(!format!("{c:?}").contains("very-secret-hook"));
        let c = config(&[("SLACK_WEBHOOK_SECRET_ARN", "arn:aws:secretsmanager:eu-west-1:1:secret:slack")]).unwrap();
        assert_eq!(
            c.alerts.webhook,
            Some(WebhookSource::Secret("arn:aws:secretsmanager:eu-west-1:1:secret:slack".into()))
        );
        let c = config(&[("SLACK_WEBHOOK_PARAMETER", "/alerts/slack")]).unwrap();
        assert_eq!(c.alerts.webhook, Some(WebhookSource::Parameter("/alerts/slack".into())));

        let message = config(&[("SLACK_WEBHOOK_URL", url), ("SLACK_WEBHOOK_PARAMETER", "/p")]).unwrap_err().to_string();
        assert_eq!(
            message,
            "set only one of SLACK_WEBHOOK_URL, SLACK_WEBHOOK_SECRET_ARN and SLACK_WEBHOOK_PARAMETER; \
             SLACK_WEBHOOK_URL and SLACK_WEBHOOK_PARAMETER are set"
        );
        for bad in
            ["ftp://hooks.slack.com/very-secret-hook", "very-secret-hook", "http://hooks.slack.com/very-secret-hook"]
        {
            let message = config(&[("SLACK_WEBHOOK_URL", bad)]).unwrap_err().to_string();
            assert!(message.starts_with("SLACK_WEBHOOK_URL must be an incoming webhook URL"), "{message}");
            assert!(!message.contains("very-secret-hook"), "{message}");
        }
    }

    #[test]
    fn refuses_bad_alert_numbers_and_fingerprints() {
        let cases = [
            ("SLOW_QUERY_ALERT_SECONDS", "0"),
            ("SLOW_QUERY_ALERT_SECONDS", "-1"),
            ("SLOW_QUERY_ALERT_SECONDS", "inf"),
            ("SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS", "ABC"),
            ("ALERT_MAX_MESSAGES", "51"),
            ("ALERT_COOLDOWN_SECONDS", "1.5"),
            ("SLACK_TIMEOUT_SECONDS", "31"),
            ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "0"),
            ("REDACT_QUERY_LITERALS", "yes"),
        ];
        for (name, value) in cases {
            let message = config(&[(name, value)]).unwrap_err().to_string();
            assert!(message.starts_with(name) && message.contains(value), "{message}");
        }
    }

    #[test]
    fn cli_overrides_replace_or_clear_a_variable() {
        let mut raw = RawConfig::read(|_| Ok(None)).unwrap();
        raw.set("OPENSEARCH_ENDPOINT", "http://127.0.0.1:9200");
        raw.set("OPENSEARCH_AUTH", "none");
        assert!(raw.clone().validate().unwrap().opensearch.is_some());
        raw.set("OPENSEARCH_ENDPOINT", "");
        assert!(raw.validate().unwrap().opensearch.is_none());
    }
}
