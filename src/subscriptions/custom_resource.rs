//! The template's `Custom::LogGroupSubscriptions` resource: CloudFormation sends Create, Update
//! and Delete requests; the function subscribes the listed log groups (and the existing ones a
//! pattern matches), unsubscribes those dropped from the list, and always answers on the
//! request's pre-signed `ResponseURL`, also when it fails or runs out of time, so a stack never
//! waits an hour for an answer that is not coming.
//!
//! The physical resource id is the filter name: a stack update that renames the filter is a
//! replacement (the new filters are made, then CloudFormation deletes the old resource and with it
//! the old filters). A failed Create still answers with that id, so the rollback's Delete removes
//! what the Create managed before it failed.

use super::pattern::{check_name, Pattern};
use super::{Logs, SubscriptionError, Target};
use crate::config::{check_filter_name, DEFAULT_FILTER_NAME};
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::time::{Duration, Instant};
use tracing::{info, warn};

/// Answered before the invocation's deadline by at least this (the answer itself needs time).
const ANSWER_MARGIN: Duration = Duration::from_secs(10);
/// CloudFormation reads at most 4 KiB of the answer; the reason is kept well under.
const MAX_REASON_BYTES: usize = 2048;
/// The id answered when a request could not be read: a Delete of it has nothing to remove.
const UNREADABLE_ID_PREFIX: &str = "logs-to-opensearch-unreadable-";

/// Whether `event` is a CloudFormation custom-resource request.
pub fn is_request(event: &Value) -> bool {
    event.get("RequestType").is_some_and(Value::is_string) && event.get("ResponseURL").is_some_and(Value::is_string)
}

#[derive(Debug, thiserror::Error)]
pub enum CustomResourceError {
    #[error("not a CloudFormation custom-resource request: {0}")]
    NotARequest(String),
    #[error("cannot send the answer ({status}) to CloudFormation's ResponseURL: {detail}; the stack waits until CloudFormation's own timeout")]
    Answer { status: &'static str, detail: String },
}

/// The request's fields this needs (CloudFormation sends more).
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Request {
    request_type: String,
    #[serde(rename = "ResponseURL")]
    response_url: String,
    #[serde(default)]
    stack_id: String,
    #[serde(default)]
    request_id: String,
    #[serde(default)]
    logical_resource_id: String,
    #[serde(default)]
    physical_resource_id: Option<String>,
    #[serde(default)]
    resource_properties: Value,
    #[serde(default)]
    old_resource_properties: Value,
}

/// The resource's properties, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct Properties {
    pub target: Target,
    pub log_groups: BTreeSet<String>,
    pub patterns: Vec<Pattern>,
}

/// A `CommaDelimitedList` arrives as a list; a plain string is split on commas too.
fn list(properties: &Value, key: &str) -> Result<Vec<String>, String> {
    let items: Vec<String> = match properties.get(key) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => s.split(',').map(str::to_owned).collect(),
        Some(Value::Array(values)) => {
            let mut items = Vec::with_capacity(values.len());
            for value in values {
                match value {
                    Value::String(s) => items.extend(s.split(',').map(str::to_owned)),
                    other => return Err(format!("{key} must be a list of strings; it holds {other}")),
                }
            }
            items
        }
        Some(other) => return Err(format!("{key} must be a list of strings; got {other}")),
    };
    Ok(items.into_iter().map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect())
}

impl Properties {
    pub fn read(properties: &Value) -> Result<Properties, String> {
        let destination_arn = match properties.get("DestinationArn") {
            Some(Value::String(arn)) if arn.starts_with("arn:") => arn.clone(),
            Some(other) => return Err(format!("DestinationArn must be the function's ARN; got {other}")),
            None => return Err("DestinationArn is missing: the function's ARN (!GetAtt Function.Arn)".to_owned()),
        };
        let filter_name = match properties.get("FilterName") {
            None | Some(Value::Null) => DEFAULT_FILTER_NAME.to_owned(),
            Some(Value::String(name)) => name.clone(),
            Some(other) => return Err(format!("FilterName must be a string; got {other}")),
        };
        check_filter_name(&filter_name).map_err(|e| format!("FilterName: {e}"))?;
        let mut log_groups = BTreeSet::new();
        for name in list(properties, "LogGroupNames")? {
            check_name(&name).map_err(|e| format!("LogGroupNames: {e}"))?;
            log_groups.insert(name);
        }
        let patterns = list(properties, "LogGroupPatterns")?
            .iter()
            .map(|p| Pattern::new(p).map_err(|e| format!("LogGroupPatterns: {e}")))
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Properties { target: Target { filter_name, destination_arn }, log_groups, patterns })
    }

    /// The listed log groups and the existing ones a pattern matches.
    async fn resolve(&self, logs: &Logs) -> Result<BTreeSet<String>, SubscriptionError> {
        let matched =
            if self.patterns.is_empty() { BTreeSet::new() } else { logs.groups_matching(&self.patterns).await? };
        Ok(self.with(matched))
    }

    /// The listed log groups and `matched` (the existing ones the patterns match).
    fn with(&self, mut matched: BTreeSet<String>) -> BTreeSet<String> {
        matched.extend(self.log_groups.iter().cloned());
        matched
    }
}

/// The answer to CloudFormation.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub success: bool,
    pub reason: String,
    pub physical_resource_id: String,
    pub subscribed: usize,
    pub unsubscribed: usize,
}

/// What was done, and the failures; each failure is kept, the other log groups still run.
#[derive(Default)]
struct Tally {
    subscribed: Vec<String>,
    unsubscribed: Vec<String>,
    failures: Vec<SubscriptionError>,
}

impl Tally {
    async fn subscribe(&mut self, logs: &Logs, groups: &BTreeSet<String>, target: &Target) {
        for group in groups {
            match logs.put(group, target).await {
                Ok(()) => self.subscribed.push(group.clone()),
                Err(e) => self.failures.push(e),
            }
        }
    }

    async fn unsubscribe(&mut self, logs: &Logs, groups: &BTreeSet<String>, filter_name: &str) {
        for group in groups {
            match logs.delete(group, filter_name).await {
                Ok(true) => self.unsubscribed.push(group.clone()),
                Ok(false) => {}
                Err(e) => self.failures.push(e),
            }
        }
    }

    fn outcome(self, physical_resource_id: String) -> Outcome {
        let success = self.failures.is_empty();
        let reason = if success {
            format!("{} log group(s) subscribed, {} unsubscribed", self.subscribed.len(), self.unsubscribed.len())
        } else {
            let listed: Vec<String> = self.failures.iter().map(ToString::to_string).collect();
            format!(
                "{} of {} log group change(s) failed: {}",
                listed.len(),
                listed.len() + self.subscribed.len() + self.unsubscribed.len(),
                listed.join("; ")
            )
        };
        Outcome {
            success,
            reason,
            physical_resource_id,
            subscribed: self.subscribed.len(),
            unsubscribed: self.unsubscribed.len(),
        }
    }
}

fn failed(physical_resource_id: String, reason: String) -> Outcome {
    Outcome { success: false, reason, physical_resource_id, subscribed: 0, unsubscribed: 0 }
}

async fn work(request: &Request, logs: Result<&Logs, &SubscriptionError>) -> Outcome {
    let unreadable_id = || {
        request.physical_resource_id.clone().unwrap_or_else(|| format!("{UNREADABLE_ID_PREFIX}{}", request.request_id))
    };
    let properties = Properties::read(&request.resource_properties);
    if request.request_type == "Delete" {
        let physical = request.physical_resource_id.clone().unwrap_or_default();
        // Nothing was made for a request that could not be read: its rollback has nothing to undo.
        let properties = match properties {
            Ok(p) if !physical.starts_with(UNREADABLE_ID_PREFIX) => p,
            _ => {
                let reason = "nothing to remove: the resource was never made".to_owned();
                return Outcome {
                    success: true,
                    reason,
                    physical_resource_id: physical,
                    subscribed: 0,
                    unsubscribed: 0,
                };
            }
        };
        let logs = match logs {
            Ok(logs) => logs,
            Err(e) => return failed(physical, e.to_string()),
        };
        // The filters carry the name the resource was made with: its physical id.
        let filter_name =
            if check_filter_name(&physical).is_ok() { physical.clone() } else { properties.target.filter_name.clone() };
        let groups = match properties.resolve(logs).await {
            Ok(groups) => groups,
            Err(e) => return failed(physical, e.to_string()),
        };
        let mut tally = Tally::default();
        tally.unsubscribe(logs, &groups, &filter_name).await;
        return tally.outcome(physical);
    }
    let properties = match properties {
        Ok(p) => p,
        Err(problem) => return failed(unreadable_id(), format!("invalid properties: {problem}")),
    };
    let physical = properties.target.filter_name.clone();
    let logs = match logs {
        Ok(logs) => logs,
        Err(e) => return failed(physical, e.to_string()),
    };
    let matched = if properties.patterns.is_empty() {
        Ok(BTreeSet::new())
    } else {
        logs.groups_matching(&properties.patterns).await
    };
    let matched = match matched {
        Ok(groups) => groups,
        Err(e) => return failed(physical, e.to_string()),
    };
    let wanted = properties.with(matched.clone());
    let mut tally = Tally::default();
    // Every wanted group is put, not only new ones: a changed destination is applied, and a filter
    // removed by hand comes back.
    tally.subscribe(logs, &wanted, &properties.target).await;
    match request.request_type.as_str() {
        "Create" => {}
        "Update" => {
            let same_name = request.physical_resource_id.as_deref() == Some(physical.as_str());
            // A renamed filter is a replacement: CloudFormation deletes the old resource next.
            if same_name {
                if let Ok(old) = Properties::read(&request.old_resource_properties) {
                    // The same patterns: their listing is the one just made.
                    let before = if old.patterns == properties.patterns {
                        Ok(old.with(matched))
                    } else {
                        old.resolve(logs).await
                    };
                    match before {
                        Ok(before) => {
                            let dropped: BTreeSet<String> = before.difference(&wanted).cloned().collect();
                            tally.unsubscribe(logs, &dropped, &physical).await;
                        }
                        Err(e) => tally.failures.push(e),
                    }
                }
            }
        }
        other => return failed(physical, format!("unknown RequestType {other:?} (Create, Update or Delete)")),
    }
    tally.outcome(physical)
}

fn truncate(mut reason: String) -> String {
    if reason.len() > MAX_REASON_BYTES {
        let mut end = MAX_REASON_BYTES - 40;
        while !reason.is_char_boundary(end) {
            end -= 1;
        }
        reason.truncate(end);
        reason.push_str(" … (the function's log has it all)");
    }
    reason
}

/// Handles one request: does the work within the deadline, answers CloudFormation, and returns
/// the answer it sent (the invocation's result). `logs` is the CloudWatch Logs client, or why
/// there is none (the answer is then FAILED with that reason).
pub async fn handle(
    event: Value,
    logs: Result<&Logs, &SubscriptionError>,
    deadline: Instant,
    http: &reqwest::Client,
) -> Result<Value, CustomResourceError> {
    let request: Request =
        serde_json::from_value(event).map_err(|e| CustomResourceError::NotARequest(e.to_string()))?;
    info!(
        request_type = %request.request_type,
        stack = %request.stack_id,
        resource = %request.logical_resource_id,
        "custom resource request"
    );
    let budget = deadline.checked_duration_since(Instant::now()).unwrap_or_default().saturating_sub(ANSWER_MARGIN);
    let outcome = match tokio::time::timeout(budget, work(&request, logs)).await {
        Ok(outcome) => outcome,
        Err(_) => failed(
            request
                .physical_resource_id
                .clone()
                .or_else(|| Properties::read(&request.resource_properties).ok().map(|p| p.target.filter_name))
                .unwrap_or_else(|| format!("{UNREADABLE_ID_PREFIX}{}", request.request_id)),
            format!(
                "ran out of time after {} s (the function's Timeout); the log groups done so far keep their filters; \
                 raise the Timeout or list fewer log groups, then update the stack again",
                budget.as_secs()
            ),
        ),
    };
    let status = if outcome.success { "SUCCESS" } else { "FAILED" };
    let reason = truncate(outcome.reason.clone());
    if outcome.success {
        info!(status, reason = %outcome.reason, "custom resource answer");
    } else {
        warn!(status, reason = %outcome.reason, "custom resource answer");
    }
    let answer = json!({
        "Status": status,
        "Reason": reason,
        "PhysicalResourceId": outcome.physical_resource_id,
        "StackId": request.stack_id,
        "RequestId": request.request_id,
        "LogicalResourceId": request.logical_resource_id,
        "Data": {"Subscribed": outcome.subscribed, "Unsubscribed": outcome.unsubscribed},
    });
    send(http, &request.response_url, &answer, status).await?;
    Ok(answer)
}

/// PUTs the answer; the pre-signed URL is signed without a content type, so none is sent.
/// A few tries, since an unanswered stack waits an hour.
async fn send(
    http: &reqwest::Client,
    url: &str,
    answer: &Value,
    status: &'static str,
) -> Result<(), CustomResourceError> {
    let body = answer.to_string();
    let mut last = String::new();
    for attempt in 0..4u32 {
        if attempt > 0 {
            tokio::time::sleep(Duration::from_millis(250 << attempt)).await;
        }
        match http.put(url).body(body.clone()).timeout(Duration::from_secs(5)).send().await {
            Ok(response) if response.status().is_success() => return Ok(()),
            Ok(response) => last = format!("HTTP {}", response.status().as_u16()),
            // Without the URL: its query string is a signature.
            Err(e) => last = crate::text::error_chain(&e.without_url()),
        }
    }
    Err(CustomResourceError::Answer { status, detail: last })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_take_lists_and_comma_strings_and_refuse_bad_names() {
        let p = Properties::read(&json!({
            "ServiceToken": "arn:aws:lambda:eu-west-1:1:function:s",
            "DestinationArn": "arn:aws:lambda:eu-west-1:1:function:f",
            "LogGroupNames": ["/aws/rds/instance/a/slowquery", "", " /aws/rds/instance/b/slowquery"],
            "LogGroupPatterns": "/aws/rds/cluster/*/slowquery"
        }))
        .unwrap();
        assert_eq!(p.target.filter_name, DEFAULT_FILTER_NAME);
        assert_eq!(p.log_groups.len(), 2);
        assert_eq!(p.patterns, vec![Pattern::new("/aws/rds/cluster/*/slowquery").unwrap()]);
        let e = Properties::read(&json!({"DestinationArn": "arn:x", "LogGroupNames": ["/a b"]})).unwrap_err();
        assert!(e.contains("LogGroupNames") && e.contains("' '"), "{e}");
        let e = Properties::read(&json!({"LogGroupNames": []})).unwrap_err();
        assert!(e.contains("DestinationArn"), "{e}");
        let e = Properties::read(&json!({"DestinationArn": "arn:x", "FilterName": "a:b"})).unwrap_err();
        assert!(e.contains("FilterName"), "{e}");
    }

    #[test]
    fn a_long_reason_is_cut_on_a_character_boundary() {
        let cut = truncate("é".repeat(3000));
        assert!(cut.len() <= MAX_REASON_BYTES, "{}", cut.len());
        assert!(cut.ends_with("has it all)"));
    }
}
