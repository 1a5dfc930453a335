//! The configuration's tests: defaults, every refusal naming its variable, secrets never shown.

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
            assert_eq!((service.as_str(), region.as_str(), access_key_id.as_str()), ("es", "eu-west-1", "AKIDEXAMPLE"));
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
        &[("OPENSEARCH_SERVICE", "aoss"), ("OPENSEARCH_COMPRESSION", "GZIP"), ("OPENSEARCH_TIMEOUT_SECONDS", "2.5")],
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
    let c = config(&[("OPENSEARCH_ENDPOINT", "http://127.0.0.1:9200/search"), ("OPENSEARCH_AUTH", "none")]).unwrap();
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
        ("SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS", "0x9c2f6b0e1d3a4b5c, 0xC893BEA04602018D5146D415A8F6BAA2"),
        ("REDACT_QUERY_LITERALS", "TRUE"),
        ("FINGERPRINT_PRESERVE_EMBEDDED_NUMBERS", "true"),
        ("PARAMETERS_SECRETS_EXTENSION_HTTP_PORT", "2999"),
        ("AWS_SESSION_TOKEN", "token"),
    ])
    .unwrap();
    let rule = c.alerts.rules.slow_query.unwrap();
    assert!(rule.ignore_users.is_empty());
    assert_eq!(rule.min_rows_examined, Some(100_000));
    assert_eq!(rule.ignore_fingerprints, ["9C2F6B0E1D3A4B5C", "C893BEA04602018D5146D415A8F6BAA2"]);
    assert!(c.redact_literals);
    assert!(c.fingerprint_rules.preserve_embedded_numbers);
    assert!(!config(&[]).unwrap().fingerprint_rules.preserve_embedded_numbers, "pt's default");
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
    assert_eq!(c.alerts.webhook, Some(WebhookSource::Secret("arn:aws:secretsmanager:eu-west-1:1:secret:slack".into())));
    let c = config(&[("SLACK_WEBHOOK_PARAMETER", "/alerts/slack")]).unwrap();
    assert_eq!(c.alerts.webhook, Some(WebhookSource::Parameter("/alerts/slack".into())));

    let message = config(&[("SLACK_WEBHOOK_URL", url), ("SLACK_WEBHOOK_PARAMETER", "/p")]).unwrap_err().to_string();
    assert_eq!(
        message,
        "set only one of SLACK_WEBHOOK_URL, SLACK_WEBHOOK_SECRET_ARN and SLACK_WEBHOOK_PARAMETER; \
         SLACK_WEBHOOK_URL and SLACK_WEBHOOK_PARAMETER are set"
    );
    for bad in ["ftp://hooks.slack.com/very-secret-hook", "very-secret-hook", "http://hooks.slack.com/very-secret-hook"]
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
        ("FINGERPRINT_PRESERVE_EMBEDDED_NUMBERS", "1"),
        ("SLOW_QUERY_ALERT_IGNORE_FINGERPRINTS", "C893BEA04602018D5146D415A8F6BAA"),
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
