//! Log-group subscriptions: which log groups send their events to the function, made and removed
//! through the CloudWatch Logs API (the AWS SDK for Rust).
//!
//! Three callers share this: the template's custom resource ([`custom_resource`]: the stack's
//! list of log groups and patterns, on Create, Update and Delete), auto-subscribe ([`created`]: a
//! log group created later that matches a pattern, seen through CloudTrail and EventBridge), and
//! the `subscribe` command (a plan, then `--apply`). Only filters with our name are ever changed
//! or removed; a log group's other subscription filters are left alone.

pub mod created;
pub mod custom_resource;
pub mod pattern;

use crate::config::{AwsAccess, SubscriptionsConfig};
use aws_sdk_cloudwatchlogs as logs;
use logs::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use pattern::Pattern;
use std::collections::BTreeSet;
use std::fmt;
use std::time::{Duration, Instant};

/// CloudWatch Logs allows 5 `PutSubscriptionFilter` / `DeleteSubscriptionFilter` calls per
/// second per account and region; mutations are spaced by this so a long list is not throttled.
const MUTATION_INTERVAL: Duration = Duration::from_millis(210);

/// What a subscription points at, under which name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub filter_name: String,
    pub destination_arn: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SubscriptionError {
    /// CloudWatch Logs answered with an error.
    #[error("CloudWatch Logs {operation}{}: {code}: {message}{}", on(.log_group), hint(.code, .message))]
    Refused { operation: &'static str, log_group: Option<String>, code: String, message: String },
    /// No answer (connection, timeout, signing).
    #[error("CloudWatch Logs {operation}{}: no answer: {detail}", on(.log_group))]
    Unreachable { operation: &'static str, log_group: Option<String>, detail: String },
    #[error(
        "no AWS region and credentials: AWS_REGION, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (and AWS_SESSION_TOKEN) \
         are needed; Lambda sets them, in a shell export them (eval \"$(aws configure export-credentials --format env)\")"
    )]
    NoCredentials,
    #[error("{0}")]
    Invalid(String),
}

fn on(log_group: &Option<String>) -> String {
    log_group.as_deref().map(|g| format!(" on {g}")).unwrap_or_default()
}

/// What to do about the errors people meet.
fn hint(code: &str, message: &str) -> &'static str {
    match code {
        "LimitExceededException" => {
            " (a log group takes at most 2 subscription filters: remove one of its others, or subscribe it elsewhere)"
        }
        "InvalidParameterException" if message.contains("permission") => {
            " (the function must allow logs.amazonaws.com to invoke it: the template's LogsInvokePermission does; \
             by hand: aws lambda add-permission --principal logs.amazonaws.com --action lambda:InvokeFunction …)"
        }
        "AccessDeniedException" => {
            " (the caller's role needs logs:DescribeLogGroups, logs:DescribeSubscriptionFilters, \
             logs:PutSubscriptionFilter and logs:DeleteSubscriptionFilter)"
        }
        _ => "",
    }
}

impl SubscriptionError {
    /// CloudWatch Logs' error code, when it answered.
    pub fn code(&self) -> Option<&str> {
        match self {
            SubscriptionError::Refused { code, .. } => Some(code),
            _ => None,
        }
    }
}

fn sdk_error<E>(
    operation: &'static str,
    log_group: Option<&str>,
    error: SdkError<E, logs::config::http::HttpResponse>,
) -> SubscriptionError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let log_group = log_group.map(str::to_owned);
    match error.as_service_error() {
        Some(service) => SubscriptionError::Refused {
            operation,
            log_group,
            code: service.code().unwrap_or("UnknownError").to_owned(),
            message: service.message().unwrap_or("(no message)").to_owned(),
        },
        None => {
            SubscriptionError::Unreachable { operation, log_group, detail: DisplayErrorContext(&error).to_string() }
        }
    }
}

/// One subscription filter on a log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub destination_arn: String,
}

/// The CloudWatch Logs calls this module makes, paced.
pub struct Logs {
    client: logs::Client,
    last_mutation: std::sync::Mutex<Option<Instant>>,
}

impl Logs {
    /// A client for `aws`'s region and credentials; `endpoint` replaces the region's endpoint.
    pub fn new(aws: &AwsAccess, endpoint: Option<&str>) -> Logs {
        let credentials = logs::config::Credentials::new(
            aws.access_key_id.clone(),
            aws.secret_access_key.expose().to_owned(),
            aws.session_token.as_ref().map(|t| t.expose().to_owned()),
            None,
            "environment",
        );
        let mut builder = logs::Config::builder()
            .behavior_version(logs::config::BehaviorVersion::latest())
            .region(logs::config::Region::new(aws.region.clone()))
            .credentials_provider(credentials)
            .retry_config(logs::config::retry::RetryConfig::standard().with_max_attempts(5))
            .timeout_config(
                logs::config::timeout::TimeoutConfig::builder()
                    .operation_attempt_timeout(Duration::from_secs(10))
                    .build(),
            );
        if let Some(endpoint) = endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Logs { client: logs::Client::from_conf(builder.build()), last_mutation: std::sync::Mutex::new(None) }
    }

    /// From the configuration; [`SubscriptionError::NoCredentials`] without them.
    pub fn from_config(config: &SubscriptionsConfig) -> Result<Logs, SubscriptionError> {
        let aws = config.aws.as_ref().ok_or(SubscriptionError::NoCredentials)?;
        Ok(Logs::new(aws, config.logs_endpoint.as_deref()))
    }

    async fn pace(&self) {
        let wait = {
            let mut last = self.last_mutation.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let next = last.map_or(now, |at| (at + MUTATION_INTERVAL).max(now));
            *last = Some(next);
            next - now
        };
        if !wait.is_zero() {
            tokio::time::sleep(wait).await;
        }
    }

    /// The existing log groups that match one of `patterns`, sorted, each listed once.
    pub async fn groups_matching(&self, patterns: &[Pattern]) -> Result<BTreeSet<String>, SubscriptionError> {
        let mut found = BTreeSet::new();
        // One listing per distinct prefix (two patterns under /aws/rds/ share it).
        let prefixes: BTreeSet<&str> = patterns.iter().map(Pattern::literal_prefix).collect();
        for prefix in prefixes {
            let mut token: Option<String> = None;
            loop {
                let mut request = self.client.describe_log_groups();
                if !prefix.is_empty() {
                    request = request.log_group_name_prefix(prefix);
                }
                let page = request
                    .set_next_token(token.take())
                    .send()
                    .await
                    .map_err(|e| sdk_error("DescribeLogGroups", None, e))?;
                for group in page.log_groups() {
                    if let Some(name) = group.log_group_name() {
                        if patterns.iter().any(|p| p.matches(name)) {
                            found.insert(name.to_owned());
                        }
                    }
                }
                match page.next_token() {
                    Some(next) if !next.is_empty() => token = Some(next.to_owned()),
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    /// The log group's subscription filters; `None` when there is no such log group.
    pub async fn filters(&self, log_group: &str) -> Result<Option<Vec<Filter>>, SubscriptionError> {
        let answer = self.client.describe_subscription_filters().log_group_name(log_group).send().await;
        match answer {
            Ok(page) => Ok(Some(
                page.subscription_filters()
                    .iter()
                    .map(|f| Filter {
                        name: f.filter_name().unwrap_or_default().to_owned(),
                        destination_arn: f.destination_arn().unwrap_or_default().to_owned(),
                    })
                    .collect(),
            )),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(None),
            Err(e) => Err(sdk_error("DescribeSubscriptionFilters", Some(log_group), e)),
        }
    }

    /// Subscribes `log_group` (every event: an empty filter pattern); replaces a filter of the
    /// same name.
    pub async fn put(&self, log_group: &str, target: &Target) -> Result<(), SubscriptionError> {
        self.pace().await;
        self.client
            .put_subscription_filter()
            .log_group_name(log_group)
            .filter_name(&target.filter_name)
            .filter_pattern("")
            .destination_arn(&target.destination_arn)
            .send()
            .await
            .map_err(|e| sdk_error("PutSubscriptionFilter", Some(log_group), e))?;
        Ok(())
    }

    /// Removes our filter from `log_group`; `false` when there was none (or no log group).
    pub async fn delete(&self, log_group: &str, filter_name: &str) -> Result<bool, SubscriptionError> {
        self.pace().await;
        let answer =
            self.client.delete_subscription_filter().log_group_name(log_group).filter_name(filter_name).send().await;
        match answer {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_resource_not_found_exception()) => Ok(false),
            Err(e) => Err(sdk_error("DeleteSubscriptionFilter", Some(log_group), e)),
        }
    }
}

/// What `subscribe` will do, or did, to one log group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Not subscribed by us: a filter will be added.
    Subscribe,
    /// Our filter points elsewhere: it will be pointed at the target.
    Redirect { from: String },
    /// Already subscribed to the target.
    Unchanged,
    /// Our filter will be removed (`--unsubscribe`).
    Unsubscribe,
    /// Nothing to remove.
    NotSubscribed,
    /// Cannot be done; the reason.
    Blocked(String),
    /// No such log group.
    Missing,
}

impl Step {
    /// Whether applying the plan calls CloudWatch Logs for it.
    pub fn changes(&self) -> bool {
        matches!(self, Step::Subscribe | Step::Redirect { .. } | Step::Unsubscribe)
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Step::Subscribe => f.write_str("subscribe"),
            Step::Redirect { from } => write!(f, "redirect (now to {from})"),
            Step::Unchanged => f.write_str("unchanged (already subscribed)"),
            Step::Unsubscribe => f.write_str("unsubscribe"),
            Step::NotSubscribed => f.write_str("unchanged (not subscribed)"),
            Step::Blocked(why) => write!(f, "blocked: {why}"),
            Step::Missing => f.write_str("missing (no such log group)"),
        }
    }
}

/// One line of a plan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Planned {
    pub log_group: String,
    pub step: Step,
}

/// What subscribing `log_groups` to `target` would change, read from their filters.
pub async fn plan_subscribe(
    logs: &Logs,
    log_groups: &BTreeSet<String>,
    target: &Target,
) -> Result<Vec<Planned>, SubscriptionError> {
    let mut plan = Vec::with_capacity(log_groups.len());
    for group in log_groups {
        let step = match logs.filters(group).await? {
            None => Step::Missing,
            Some(filters) => match filters.iter().find(|f| f.name == target.filter_name) {
                Some(ours) if ours.destination_arn == target.destination_arn => Step::Unchanged,
                Some(ours) => Step::Redirect { from: ours.destination_arn.clone() },
                None if filters.len() >= 2 => Step::Blocked(format!(
                    "it already has 2 subscription filters ({}), the most CloudWatch Logs allows",
                    filters.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
                )),
                None => Step::Subscribe,
            },
        };
        plan.push(Planned { log_group: group.clone(), step });
    }
    Ok(plan)
}

/// What removing our filter (`filter_name`) from `log_groups` would change.
pub async fn plan_unsubscribe(
    logs: &Logs,
    log_groups: &BTreeSet<String>,
    filter_name: &str,
) -> Result<Vec<Planned>, SubscriptionError> {
    let mut plan = Vec::with_capacity(log_groups.len());
    for group in log_groups {
        let step = match logs.filters(group).await? {
            None => Step::Missing,
            Some(filters) if filters.iter().any(|f| f.name == filter_name) => Step::Unsubscribe,
            Some(_) => Step::NotSubscribed,
        };
        plan.push(Planned { log_group: group.clone(), step });
    }
    Ok(plan)
}

/// Carries out the plan's changes; every failure is kept (the others still run).
pub async fn apply(logs: &Logs, plan: &[Planned], target: &Target) -> Vec<(String, Result<(), SubscriptionError>)> {
    let mut done = Vec::new();
    for planned in plan.iter().filter(|p| p.step.changes()) {
        let result = match planned.step {
            Step::Unsubscribe => logs.delete(&planned.log_group, &target.filter_name).await.map(|_| ()),
            _ => logs.put(&planned.log_group, target).await,
        };
        done.push((planned.log_group.clone(), result));
    }
    done
}

/// The Lambda side: recognises the custom-resource requests and CloudTrail events this module
/// serves, and handles them. The CloudWatch Logs and HTTP clients are made on first use, so the
/// log-processing path never pays for them.
pub struct Service {
    config: SubscriptionsConfig,
    logs: std::sync::OnceLock<Result<Logs, SubscriptionError>>,
    http: std::sync::OnceLock<reqwest::Client>,
}

impl Service {
    pub fn new(config: SubscriptionsConfig) -> Service {
        Service { config, logs: std::sync::OnceLock::new(), http: std::sync::OnceLock::new() }
    }

    /// Whether `event` is one of ours (and not log data).
    pub fn recognises(event: &serde_json::Value) -> bool {
        custom_resource::is_request(event) || created::is_log_api_call(event)
    }

    fn logs(&self) -> Result<&Logs, &SubscriptionError> {
        self.logs.get_or_init(|| Logs::from_config(&self.config)).as_ref()
    }

    /// Handles a recognised event; the error's type says whether Lambda's retry can help.
    pub async fn handle(
        &self,
        event: serde_json::Value,
        deadline: Instant,
    ) -> Result<serde_json::Value, lambda_runtime::Diagnostic> {
        if custom_resource::is_request(&event) {
            let http = self.http.get_or_init(reqwest::Client::new);
            return custom_resource::handle(event, self.logs(), deadline, http).await.map_err(|e| {
                let retryable = matches!(e, custom_resource::CustomResourceError::Answer { .. });
                diagnostic(retryable, "CustomResource", &e)
            });
        }
        created::handle(&event, &self.config, self.logs()).await.map_err(|e| {
            tracing::error!(error = %e, "cannot subscribe the new log group; Lambda retries the event, or run `logs-to-opensearch subscribe --apply`");
            let retryable = matches!(&e, SubscriptionError::Unreachable { .. })
                || e.code().is_some_and(|c| c.contains("Throttl") || c == "ServiceUnavailableException" || c == "OperationAbortedException");
            diagnostic(retryable, "Subscription", &e)
        })
    }
}

fn diagnostic(retryable: bool, what: &str, error: &dyn std::error::Error) -> lambda_runtime::Diagnostic {
    lambda_runtime::Diagnostic {
        error_type: format!("{}.{what}", if retryable { "Retryable" } else { "NonRetryable" }),
        error_message: crate::text::error_chain(error),
    }
}
