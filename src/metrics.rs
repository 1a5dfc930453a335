//! The invocation's counts as one CloudWatch Embedded Metric Format (EMF) line.
//!
//! Printed on its own line to the function's standard output, CloudWatch Logs turns it into
//! metrics (`Indexed`, `DeadLettered`, `Failed`, …) with no SDK and no API call; see
//! <https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/CloudWatch_Embedded_Metric_Format_Specification.html>.
//! Pure: the caller passes the time and prints the line.

use crate::config::MetricsConfig;
use crate::handler::Summary;
use serde_json::{json, Map, Value};

/// The metrics, their units and where each value comes from.
/// Name, unit, value.
type Metric = (&'static str, &'static str, fn(&Summary) -> u64);

const METRICS: &[Metric] = &[
    ("Events", "Count", |s| s.events as u64),
    ("Documents", "Count", |s| s.delivery.documents as u64),
    ("Indexed", "Count", |s| s.delivery.indexed as u64),
    ("Retried", "Count", |s| s.delivery.retried as u64),
    ("DeadLettered", "Count", |s| s.delivery.dead_lettered as u64),
    ("Failed", "Count", |s| s.delivery.failed as u64),
    ("Truncated", "Count", |s| s.truncated as u64),
    ("ParseWarnings", "Count", |s| s.with_warnings as u64),
    ("Requests", "Count", |s| s.delivery.requests as u64),
    ("BulkBytes", "Bytes", |s| s.delivery.bytes as u64),
    ("Duration", "Milliseconds", |s| s.duration_ms),
    ("AlertEntries", "Count", |s| s.alerts.alert_entries as u64),
    ("AlertsSent", "Count", |s| s.alerts.alerts_sent as u64),
    ("AlertsFailed", "Count", |s| s.alerts.alerts_failed as u64),
    ("AlertsRateLimited", "Count", |s| s.alerts.alerts_rate_limited as u64),
    ("AlertsHeld", "Count", |s| s.alerts.alerts_held as u64),
    ("AlertDuration", "Milliseconds", |s| s.alerts.alert_ms),
    ("AlertWait", "Milliseconds", |s| s.alerts.alert_wait_ms),
    ("UndecodableRecords", "Count", |s| s.undecodable_records as u64),
];

/// The EMF document for one invocation, as one line of JSON.
pub fn emf_line(summary: &Summary, config: &MetricsConfig, timestamp_ms: i64) -> String {
    let definitions: Vec<Value> = METRICS.iter().map(|(name, unit, _)| json!({"Name": name, "Unit": unit})).collect();
    let dimensions: Vec<Vec<&str>> = match &config.function_name {
        Some(_) => vec![vec!["FunctionName"]],
        None => vec![vec![]],
    };
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": config.namespace, "Dimensions": dimensions, "Metrics": definitions}]
        }),
    );
    if let Some(function_name) = &config.function_name {
        root.insert("FunctionName".into(), json!(function_name));
    }
    for (name, _, value) in METRICS {
        root.insert((*name).into(), json!(value(summary)));
    }
    Value::Object(root).to_string()
}

/// The EMF document for one scheduled digest: `DigestSent` or `DigestFailed` (1, the other 0).
pub fn digest_line(config: &MetricsConfig, timestamp_ms: i64, failed: bool) -> String {
    let dimensions: Vec<Vec<&str>> = match &config.function_name {
        Some(_) => vec![vec!["FunctionName"]],
        None => vec![vec![]],
    };
    let definitions = json!([{"Name": "DigestSent", "Unit": "Count"}, {"Name": "DigestFailed", "Unit": "Count"}]);
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{"Namespace": config.namespace, "Dimensions": dimensions, "Metrics": definitions}]
        }),
    );
    if let Some(function_name) = &config.function_name {
        root.insert("FunctionName".into(), json!(function_name));
    }
    root.insert("DigestSent".into(), json!(u8::from(!failed)));
    root.insert("DigestFailed".into(), json!(u8::from(failed)));
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::SinkReport;

    #[test]
    fn every_metric_has_a_definition_and_a_value_under_the_function_dimension() {
        let delivery =
            SinkReport { documents: 7, indexed: 5, dead_lettered: 1, failed: 1, bytes: 4096, ..SinkReport::default() };
        let summary = Summary { events: 7, delivery, ..Summary::default() };
        let config = MetricsConfig { namespace: "LogsToOpenSearch".into(), function_name: Some("rds-slowlogs".into()) };
        let line = emf_line(&summary, &config, 1_795_255_200_000);
        assert!(!line.contains('\n'), "one line");
        let emf: Value = serde_json::from_str(&line).unwrap();
        let directive = &emf["_aws"]["CloudWatchMetrics"][0];
        assert_eq!(emf["_aws"]["Timestamp"], 1_795_255_200_000i64);
        assert_eq!(directive["Namespace"], "LogsToOpenSearch");
        assert_eq!(directive["Dimensions"], json!([["FunctionName"]]));
        assert_eq!(emf["FunctionName"], "rds-slowlogs");
        let names: Vec<&str> =
            directive["Metrics"].as_array().unwrap().iter().map(|m| m["Name"].as_str().unwrap()).collect();
        for name in &names {
            assert!(emf[name].is_u64(), "{name} has a value");
        }
        assert_eq!(
            (emf["Indexed"].as_u64(), emf["DeadLettered"].as_u64(), emf["Failed"].as_u64()),
            (Some(5), Some(1), Some(1))
        );
        assert_eq!(emf["BulkBytes"], 4096);
    }

    #[test]
    fn without_a_function_name_the_metrics_have_no_dimension() {
        let line = emf_line(&Summary::default(), &MetricsConfig::default(), 0);
        let emf: Value = serde_json::from_str(&line).unwrap();
        assert_eq!(emf["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([[]]));
        assert!(emf.get("FunctionName").is_none());
    }
}
