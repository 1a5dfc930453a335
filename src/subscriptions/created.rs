//! Auto-subscribe: CloudTrail records CloudWatch Logs' `CreateLogGroup`, EventBridge passes it to
//! the function, and a new log group whose name matches `SUBSCRIBE_LOG_GROUP_PATTERNS` is
//! subscribed at once, so a new RDS instance's slow log flows in without a redeploy.

use super::pattern::check_name;
use super::{Logs, SubscriptionError, Target};
use crate::config::SubscriptionsConfig;
use serde_json::{json, Value};
use tracing::info;

/// Whether `event` is an EventBridge event for a CloudWatch Logs API call recorded by CloudTrail.
pub fn is_log_api_call(event: &Value) -> bool {
    event.get("source").and_then(Value::as_str) == Some("aws.logs")
        && event.get("detail-type").and_then(Value::as_str) == Some("AWS API Call via CloudTrail")
}

/// What the event asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// A new log group that matches: subscribe it.
    Subscribe(String),
    /// Nothing to do, and why.
    Ignore(String),
}

/// Reads the event against the patterns (no call made).
pub fn decide(event: &Value, config: &SubscriptionsConfig) -> Result<Decision, SubscriptionError> {
    let detail = event.get("detail").unwrap_or(&Value::Null);
    let call = detail.get("eventName").and_then(Value::as_str).unwrap_or("(none)");
    if call != "CreateLogGroup" {
        return Ok(Decision::Ignore(format!("the call is {call}, not CreateLogGroup")));
    }
    if let Some(code) = detail.get("errorCode").and_then(Value::as_str) {
        return Ok(Decision::Ignore(format!("the CreateLogGroup call failed ({code}): there is no new log group")));
    }
    let Some(name) = detail.pointer("/requestParameters/logGroupName").and_then(Value::as_str) else {
        return Err(SubscriptionError::Invalid(
            "a CreateLogGroup event without detail.requestParameters.logGroupName".to_owned(),
        ));
    };
    check_name(name).map_err(|e| SubscriptionError::Invalid(format!("CreateLogGroup event: {e}")))?;
    if !config.patterns.iter().any(|p| p.matches(name)) {
        let patterns: Vec<&str> = config.patterns.iter().map(|p| p.as_str()).collect();
        return Ok(Decision::Ignore(format!(
            "{name} matches none of SUBSCRIBE_LOG_GROUP_PATTERNS ({})",
            if patterns.is_empty() { "unset".to_owned() } else { patterns.join(", ") }
        )));
    }
    Ok(Decision::Subscribe(name.to_owned()))
}

/// Handles one event; the answer says what was done. A failed subscription is an error, so
/// Lambda retries the event (asynchronous invocation).
pub async fn handle(
    event: &Value,
    config: &SubscriptionsConfig,
    logs: Result<&Logs, &SubscriptionError>,
) -> Result<Value, SubscriptionError> {
    let name = match decide(event, config)? {
        Decision::Ignore(why) => {
            info!(reason = %why, "log group event ignored");
            return Ok(json!({"ignored": why}));
        }
        Decision::Subscribe(name) => name,
    };
    let Some(destination_arn) = config.destination_arn.clone() else {
        return Err(SubscriptionError::Invalid(format!(
            "{name} matches SUBSCRIBE_LOG_GROUP_PATTERNS but SUBSCRIPTION_DESTINATION_ARN is unset: there is nothing to subscribe it to"
        )));
    };
    let logs = logs.map_err(Clone::clone)?;
    let target = Target { filter_name: config.filter_name.clone(), destination_arn };
    logs.put(&name, &target).await?;
    info!(log_group = %name, filter = %target.filter_name, destination = %target.destination_arn, "new log group subscribed");
    Ok(json!({"subscribed": name, "filterName": target.filter_name, "destinationArn": target.destination_arn}))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::subscriptions::pattern::Pattern;

    fn config() -> SubscriptionsConfig {
        SubscriptionsConfig {
            patterns: Pattern::list("/aws/rds/*/slowquery").unwrap(),
            filter_name: "f".into(),
            ..Default::default()
        }
    }

    fn event(detail: Value) -> Value {
        json!({"source": "aws.logs", "detail-type": "AWS API Call via CloudTrail", "detail": detail})
    }

    #[test]
    fn subscribes_a_matching_new_group_and_ignores_the_rest_saying_why() {
        let e = event(
            json!({"eventName": "CreateLogGroup", "requestParameters": {"logGroupName": "/aws/rds/instance/db2/slowquery"}}),
        );
        assert!(is_log_api_call(&e));
        assert_eq!(decide(&e, &config()).unwrap(), Decision::Subscribe("/aws/rds/instance/db2/slowquery".into()));
        let other = event(
            json!({"eventName": "CreateLogGroup", "requestParameters": {"logGroupName": "/aws/rds/instance/db2/error"}}),
        );
        assert!(matches!(decide(&other, &config()).unwrap(), Decision::Ignore(w) if w.contains("matches none")));
        let failed = event(json!({"eventName": "CreateLogGroup", "errorCode": "ResourceAlreadyExistsException",
            "requestParameters": {"logGroupName": "/aws/rds/instance/db2/slowquery"}}));
        assert!(matches!(decide(&failed, &config()).unwrap(), Decision::Ignore(w) if w.contains("failed")));
        let delete = event(json!({"eventName": "DeleteLogGroup"}));
        assert!(matches!(decide(&delete, &config()).unwrap(), Decision::Ignore(_)));
        let nameless = event(json!({"eventName": "CreateLogGroup"}));
        assert!(decide(&nameless, &config()).is_err());
    }
}
