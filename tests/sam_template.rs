//! `template.yaml` passes every setting of the config module to its functions, under the same
//! names, builds the binary the way the README says, and gives the subscriptions custom resource
//! the properties the code reads, with nothing `sam build` cannot process.

use logs_to_opensearch::config::VARIABLES;
use std::collections::BTreeSet;

/// Set by Lambda itself, secrets that do not belong in a template, or the extension's own.
const NOT_IN_THE_TEMPLATE: &[(&str, &str)] = &[
    ("AWS_REGION", "set by Lambda"),
    ("AWS_DEFAULT_REGION", "set by Lambda"),
    ("AWS_ACCESS_KEY_ID", "set by Lambda"),
    ("AWS_SECRET_ACCESS_KEY", "set by Lambda"),
    ("AWS_SESSION_TOKEN", "set by Lambda"),
    ("AWS_LAMBDA_FUNCTION_NAME", "set by Lambda"),
    ("OPENSEARCH_USERNAME", "basic auth: the template uses the function's role (SigV4)"),
    ("OPENSEARCH_PASSWORD", "a secret: never a template parameter"),
    ("SLACK_WEBHOOK_URL", "a secret: the template takes SLACK_WEBHOOK_SECRET_ARN"),
    ("SLACK_WEBHOOK_PARAMETER", "the template takes SLACK_WEBHOOK_SECRET_ARN"),
    ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "the extension's own variable"),
    ("REPORT_BATCH_ITEM_FAILURES", "Kinesis only: the template subscribes log groups to the function directly"),
    ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", "the region's endpoint is the right one in Lambda"),
    ("AWS_ENDPOINT_URL", "the region's endpoint is the right one in Lambda"),
];

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap()
}

/// The lines of the resource `name` (under `Resources:`, indented by two).
fn resource<'t>(template: &'t str, name: &str) -> Vec<&'t str> {
    let header = format!("  {name}:");
    let mut lines = template.lines().skip_while(|l| *l != header);
    assert!(lines.next().is_some(), "template.yaml has no resource {name}");
    lines.take_while(|l| l.is_empty() || l.starts_with("   ")).collect()
}

/// The names under a function's `Environment: Variables:`.
fn environment(lines: &[&str]) -> BTreeSet<String> {
    let indent = "          ";
    let mut names = BTreeSet::new();
    for line in lines.iter().skip_while(|l| l.trim() != "Variables:").skip(1) {
        let Some(rest) = line.strip_prefix(indent).filter(|r| !r.starts_with(' ')) else { break };
        names.insert(rest.split(':').next().unwrap().to_owned());
    }
    names
}

#[test]
fn every_setting_reaches_the_functions_under_its_own_name() {
    let template = template();
    let function = environment(&resource(&template, "Function"));
    let subscriber = environment(&resource(&template, "Subscriber"));
    assert!(function.len() > 10, "{function:?}");
    assert_eq!(
        subscriber,
        ["SUBSCRIBE_LOG_GROUP_PATTERNS", "SUBSCRIPTION_DESTINATION_ARN", "SUBSCRIPTION_FILTER_NAME"]
            .map(String::from)
            .into(),
        "the subscriptions function gets what it serves with, nothing of the log path"
    );
    let names: BTreeSet<String> = function.union(&subscriber).cloned().collect();
    let expected: BTreeSet<String> =
        VARIABLES.iter().filter(|v| !NOT_IN_THE_TEMPLATE.iter().any(|(n, _)| n == *v)).map(|v| v.to_string()).collect();
    assert_eq!(names, expected, "template.yaml's environment and config::VARIABLES differ");
}

/// The custom resource's properties are those `Properties::read` takes, from the parameters, with
/// the same filter name the subscriptions function uses for auto-subscribe; each property read
/// from the template's text is accepted by the code.
#[test]
fn the_subscriptions_resource_passes_what_the_code_reads() {
    use logs_to_opensearch::subscriptions::custom_resource::Properties;
    let template = template();
    let lines = resource(&template, "Subscriptions");
    let text = lines.join("\n");
    for expected in [
        "Type: Custom::LogGroupSubscriptions",
        "DependsOn: LogsInvokePermission",
        "ServiceToken: !GetAtt Subscriber.Arn",
        "DestinationArn: !GetAtt Function.Arn",
        "LogGroupNames: !Ref SlowQueryLogGroupNames",
        "LogGroupPatterns: !Ref LogGroupPatterns",
    ] {
        assert!(text.contains(expected), "Subscriptions lacks {expected:?}:\n{text}");
    }
    let filter = |lines: &[&str], key: &str| {
        lines.iter().find_map(|l| l.trim().strip_prefix(key)).map(str::trim).map(str::to_owned).unwrap()
    };
    let subscriber = resource(&template, "Subscriber");
    assert_eq!(filter(&lines, "FilterName:"), filter(&subscriber, "SUBSCRIPTION_FILTER_NAME:"));
    // The property names, with sample values, are what the code accepts.
    let sample = serde_json::json!({
        "ServiceToken": "arn:aws:lambda:eu-west-1:1:function:s",
        "ServiceTimeout": "960",
        "DestinationArn": "arn:aws:lambda:eu-west-1:1:function:f",
        "FilterName": "stack-logs-to-opensearch",
        "LogGroupNames": ["/aws/rds/instance/db/slowquery"],
        "LogGroupPatterns": "/aws/rds/*/slowquery",
    });
    for line in &lines {
        let Some(key) = line.strip_prefix("      ").and_then(|l| l.split(':').next()) else { continue };
        if !key.starts_with(' ') && !key.is_empty() {
            assert!(sample.get(key).is_some(), "the template passes {key}, which the code does not read");
        }
    }
    let read = Properties::read(&sample).unwrap();
    assert_eq!(read.log_groups.len(), 1);
    assert_eq!(read.patterns.len(), 1);
    // The parameter the environment and the resource share is the same one.
    assert!(filter(&subscriber, "SUBSCRIBE_LOG_GROUP_PATTERNS:").contains("LogGroupPatterns"));
}

/// sam build (SAM CLI 1.170) fails on a template with Fn::ForEach in its resources; cfn-lint
/// does not notice. `.ci/run` runs the real sam build; this fails fast, before it.
#[test]
fn nothing_sam_build_cannot_process() {
    let template = template();
    let code: String = template.lines().filter(|l| !l.trim_start().starts_with('#')).collect::<Vec<_>>().join("\n");
    assert!(!code.contains("Fn::ForEach"), "Fn::ForEach in template.yaml: sam build cannot process it");
    assert!(!code.contains("AWS::LanguageExtensions"));
}

#[test]
fn builds_the_binary_with_cargo_lambda_for_provided_al2023() {
    let template = template();
    for expected in [
        "BuildMethod: rust-cargolambda",
        "Binary: logs-to-opensearch",
        "Handler: bootstrap",
        "Runtime: provided.al2023",
        "Default: arm64",
        "AllowedValues: [arm64, x86_64]",
    ] {
        assert!(template.contains(expected), "template.yaml lacks {expected:?}");
    }
}
