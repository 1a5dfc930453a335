//! What the subscriptions side needs (`SUBSCRIPTION_DESTINATION_ARN`, `SUBSCRIPTION_FILTER_NAME`,
//! `SUBSCRIBE_LOG_GROUP_PATTERNS`, the CloudWatch Logs endpoint) and the AWS credentials it signs
//! with. Nothing here is required at start: the log-processing function never subscribes, and a
//! subscription request without what it needs fails with an error naming the variable.

use super::{ConfigError, RawConfig, Secret};
use crate::subscriptions::pattern::Pattern;

/// The filter name used when `SUBSCRIPTION_FILTER_NAME` is unset (and by `subscribe`).
pub const DEFAULT_FILTER_NAME: &str = "logs-to-opensearch";

#[derive(Debug, Clone, PartialEq, Default)]
pub struct SubscriptionsConfig {
    /// The function new log groups are subscribed to (auto-subscribe).
    pub destination_arn: Option<String>,
    /// The subscription filter's name: ours are told from other filters by it.
    pub filter_name: String,
    /// Log groups created later that match one of these are subscribed (auto-subscribe).
    pub patterns: Vec<Pattern>,
    /// `AWS_ENDPOINT_URL_CLOUDWATCH_LOGS` (or `AWS_ENDPOINT_URL`), the SDK's own names: a
    /// CloudWatch Logs endpoint other than the region's (a VPC endpoint, a stand-in).
    pub logs_endpoint: Option<String>,
    pub aws: Option<AwsAccess>,
}

/// A region and credentials, from the variables Lambda sets (or a shell exports).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsAccess {
    pub region: String,
    pub access_key_id: String,
    pub secret_access_key: Secret,
    pub session_token: Option<Secret>,
}

/// A filter name as CloudWatch Logs allows it (1–512 characters, no `:` or `*`).
pub fn check_filter_name(name: &str) -> Result<(), String> {
    if name.is_empty() || name.len() > 512 || name.contains([':', '*']) || name.chars().any(char::is_control) {
        return Err(format!("{name:?} is not a subscription filter name (1 to 512 characters, no ':' or '*')"));
    }
    Ok(())
}

impl RawConfig {
    pub(super) fn subscriptions_config(&self) -> Result<SubscriptionsConfig, ConfigError> {
        let destination_arn = match self.get("SUBSCRIPTION_DESTINATION_ARN") {
            None => None,
            Some(arn) if arn.starts_with("arn:") && !arn.contains(char::is_whitespace) => Some(arn.to_owned()),
            Some(arn) => {
                return Err(ConfigError::Subscriptions {
                    name: "SUBSCRIPTION_DESTINATION_ARN",
                    problem: format!("not a function ARN; it must be the function's ARN (arn:aws:lambda:REGION:ACCOUNT:function:NAME); got {arn:?}"),
                })
            }
        };
        let filter_name = self.get("SUBSCRIPTION_FILTER_NAME").unwrap_or(DEFAULT_FILTER_NAME).to_owned();
        check_filter_name(&filter_name)
            .map_err(|problem| ConfigError::Subscriptions { name: "SUBSCRIPTION_FILTER_NAME", problem })?;
        let patterns = Pattern::list(self.get("SUBSCRIBE_LOG_GROUP_PATTERNS").unwrap_or_default())
            .map_err(|problem| ConfigError::Subscriptions { name: "SUBSCRIBE_LOG_GROUP_PATTERNS", problem })?;
        let logs_endpoint =
            self.get("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS").or(self.get("AWS_ENDPOINT_URL")).map(str::to_owned);
        if let Some(url) = &logs_endpoint {
            if !(url.starts_with("https://") || url.starts_with("http://")) || url.contains(char::is_whitespace) {
                return Err(ConfigError::Subscriptions {
                    name: "AWS_ENDPOINT_URL_CLOUDWATCH_LOGS",
                    problem: format!("not an http:// or https:// URL; got {url:?}"),
                });
            }
        }
        let region = self.get("AWS_REGION").or(self.get("AWS_DEFAULT_REGION"));
        let aws = match (region, self.get("AWS_ACCESS_KEY_ID"), self.get("AWS_SECRET_ACCESS_KEY")) {
            (Some(region), Some(key), Some(secret)) => Some(AwsAccess {
                region: region.to_owned(),
                access_key_id: key.to_owned(),
                secret_access_key: Secret::new(secret),
                session_token: self.get("AWS_SESSION_TOKEN").map(Secret::new),
            }),
            _ => None,
        };
        Ok(SubscriptionsConfig { destination_arn, filter_name, patterns, logs_endpoint, aws })
    }
}
