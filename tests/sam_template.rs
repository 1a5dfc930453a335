//! `template.yaml` passes every setting of the config module to the function, under the same
//! names, and builds the binary the way the README says.

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
];

fn template() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/template.yaml")).unwrap()
}

/// The names under the function's `Environment: Variables:`.
fn environment(template: &str) -> BTreeSet<String> {
    let mut lines = template.lines().skip_while(|l| l.trim() != "Variables:").skip(1);
    let indent = "          ";
    let mut names = BTreeSet::new();
    for line in lines.by_ref() {
        let Some(rest) = line.strip_prefix(indent).filter(|r| !r.starts_with(' ')) else { break };
        names.insert(rest.split(':').next().unwrap().to_owned());
    }
    names
}

#[test]
fn every_setting_reaches_the_function_under_its_own_name() {
    let names = environment(&template());
    assert!(names.len() > 10, "{names:?}");
    let expected: BTreeSet<String> =
        VARIABLES.iter().filter(|v| !NOT_IN_THE_TEMPLATE.iter().any(|(n, _)| n == *v)).map(|v| v.to_string()).collect();
    assert_eq!(names, expected, "template.yaml's environment and config::VARIABLES differ");
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
