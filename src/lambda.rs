//! The Lambda face: the `lambda_runtime` loop around [`Handler`].
//!
//! Built once per execution environment (configuration, OpenSearch client with its connection
//! pool), reused by every invocation. Each invocation gets the runtime's deadline, so retries stop
//! in time to report; it logs one summary line, prints the same counts as a CloudWatch Embedded
//! Metric Format line, and answers with the [`Summary`], or fails with
//! an error whose `errorType` says whether a retry can help (`Retryable.…` / `NonRetryable.…`) when
//! documents were neither indexed nor dead-lettered. Without `OPENSEARCH_ENDPOINT`, documents are
//! written to the function's log as a `_bulk` body (a dry run), and a warning at start says so.

use crate::alert::notify::{Notifier, Output};
use crate::config::Config;
use crate::delivery::Destination;
use crate::handler::{Handler, Sink, Summary};
use crate::metrics::emf_line;
use crate::setup;
use crate::subscriptions::Service;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use serde_json::Value;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tracing::{info, warn};

/// Why the function cannot start: posted to the Runtime API's `/runtime/init/error`, so Lambda
/// reports it as the init failure it is (and logged), instead of a panic or a bare exit.
#[derive(Debug, thiserror::Error)]
pub enum InitError {
    #[error("{0}")]
    Environment(String),
    #[error("invalid configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("cannot make the OpenSearch client: {}", crate::text::error_chain(.0))]
    Client(#[from] crate::delivery::ClientError),
    #[error("cannot start alerting: {}", crate::text::error_chain(.0))]
    Alerting(#[from] crate::alert::notify::AlertError),
}

impl InitError {
    /// The `errorType` posted with it.
    pub fn error_type(&self) -> &'static str {
        match self {
            InitError::Environment(_) => "Runtime.InvalidEnvironment",
            InitError::Config(_) => "NonRetryable.Configuration",
            InitError::Client(_) => "NonRetryable.Client",
            InitError::Alerting(_) => "NonRetryable.Alerting",
        }
    }
}

/// What the runtime crate reads from the environment and panics without (it `expect`s them):
/// checked first, so a missing one is an init error that names it.
pub fn check_environment(lookup: impl Fn(&str) -> Option<String>) -> Result<(), InitError> {
    for name in ["AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] {
        let Some(value) = lookup(name) else {
            return Err(InitError::Environment(format!(
                "AWS_LAMBDA_RUNTIME_API is set, so this runs as a Lambda function, but {name} is not: \
                 Lambda sets it; an emulator must too (unset AWS_LAMBDA_RUNTIME_API to use the command line)"
            )));
        };
        if name == "AWS_LAMBDA_FUNCTION_MEMORY_SIZE" && value.parse::<i32>().is_err() {
            return Err(InitError::Environment(format!(
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE must be a number of megabytes; got {value:?}"
            )));
        }
    }
    Ok(())
}

/// Posts `error` to `http://<api>/2018-06-01/runtime/init/error` (best effort: a failure to post
/// is logged). Lambda then fails the init with this type and message.
pub async fn report_init_error(api: &str, error: &InitError) {
    let url = format!("http://{api}/2018-06-01/runtime/init/error");
    let body = serde_json::json!({"errorType": error.error_type(), "errorMessage": error.to_string()});
    tracing::error!(error_type = error.error_type(), error = %error, "the function cannot start");
    let client = reqwest::Client::new();
    let sent = client
        .post(&url)
        .header("Lambda-Runtime-Function-Error-Type", error.error_type())
        .header("content-type", "application/json")
        .body(body.to_string())
        .timeout(Duration::from_secs(5))
        .send()
        .await;
    if let Err(e) = sent {
        warn!(error = %crate::text::error_chain(&e), "cannot post the init error to the Runtime API");
    }
}

/// Runs the runtime loop until the execution environment ends. Configuration that does not
/// validate, an environment the runtime crate cannot start in, or a client that cannot be made
/// are posted as the init error. A panic inside the runtime crate (it panics on a Runtime API
/// answer without `Lambda-Runtime-Deadline-Ms`) is caught and reported as an error.
pub async fn run(config: Result<Config, crate::config::ConfigError>, api: String) -> Result<(), lambda_runtime::Error> {
    #[allow(clippy::disallowed_methods)] // the runtime crate reads these itself, from the process environment
    let checked = check_environment(|name| std::env::var(name).ok());
    let started = match (checked, config) {
        (Err(e), _) => Err(e),
        (Ok(()), Err(e)) => Err(InitError::from(e)),
        (Ok(()), Ok(config)) => init(config).await,
    };
    let (handler, config) = match started {
        Ok(ready) => ready,
        Err(e) => {
            report_init_error(&api, &e).await;
            return Err(e.into());
        }
    };
    let subscriptions = Arc::new(Service::new(config.subscriptions.clone()));
    let local = tokio::task::LocalSet::new();
    let loop_task = local.spawn_local(lambda_runtime::run(service_fn(move |event: LambdaEvent<Payload>| {
        let handler = Arc::clone(&handler);
        let config = Arc::clone(&config);
        let subscriptions = Arc::clone(&subscriptions);
        async move {
            let deadline = deadline_instant(event.context.deadline);
            let event = match event.payload {
                Payload::Json(payload) => LambdaEvent::new(payload, event.context),
                Payload::NotJson(problem) => {
                    return Err(Failure(Diagnostic {
                        error_type: "NonRetryable.Json".to_owned(),
                        error_message: format!("the invocation's payload is not JSON ({problem}): no Lambda event source sends that; a retry cannot help"),
                    }))
                }
            };
            // The template's DigestSchedule: the digest of the window just ended, to Slack.
            if crate::digest::scheduled::is_scheduled_event(&event.payload) {
                return Ok(scheduled_digest(&config, deadline).await);
            }
            // The template's custom resource and CloudTrail's CreateLogGroup events.
            if Service::recognises(&event.payload) {
                return subscriptions.handle(event.payload, deadline).await.map_err(Failure);
            }
            let summary = handler.handle_event(event.payload, deadline).await.map_err(|e| Failure(e.into()))?;
            print_metrics(&summary, &config);
            let summary = summary.into_response(config.report_batch_item_failures).map_err(|e| Failure(e.into()))?;
            serde_json::to_value(&summary).map_err(|e| {
                Failure(Diagnostic {
                    error_type: "NonRetryable.Response".to_owned(),
                    error_message: format!("cannot write the summary: {e}"),
                })
            })
        }
    })));
    match local.run_until(loop_task).await {
        Ok(result) => result,
        Err(join) if join.is_panic() => {
            let payload = join.into_panic();
            let what = payload
                .downcast_ref::<&str>()
                .map(|s| (*s).to_owned())
                .or_else(|| payload.downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "a panic".to_owned());
            Err(format!(
                "the Lambda runtime crate stopped on the Runtime API's answer ({what}); \
                 Lambda always sends the Lambda-Runtime-* headers, so the Runtime API here (an emulator?) is not Lambda's"
            )
            .into())
        }
        Err(join) => Err(format!("the runtime loop ended: {join}").into()),
    }
}

/// An invocation's payload as the runtime crate hands it over. The crate parses the payload before
/// the handler runs and, on bytes that are not JSON, answers with its own error type
/// (`&lambda_runtime::deserializer::DeserializeError`); reading it here keeps the error ours:
/// `NonRetryable.Json`, like every other error type this function reports.
enum Payload {
    Json(Value),
    /// The parser's message.
    NotJson(String),
}

impl<'de> serde::Deserialize<'de> for Payload {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer) {
            Ok(value) => Payload::Json(value),
            Err(e) => Payload::NotJson(e.to_string()),
        })
    }
}

/// An invocation's error. The runtime crate logs it with `{:?}`: that reads as its message, not as
/// a struct dump.
struct Failure(Diagnostic);

impl std::fmt::Debug for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.error_message)
    }
}

impl From<Failure> for Diagnostic {
    fn from(failure: Failure) -> Diagnostic {
        failure.0
    }
}

type Ready = (Arc<Handler<Destination<std::io::Stdout>>>, Arc<Config>);

/// Everything made once per execution environment.
async fn init(config: Config) -> Result<Ready, InitError> {
    let config = Arc::new(config);
    let sink = Destination::from_config(&config, std::io::stdout())?;
    if sink.sends() {
        info!(destination = %sink.describe(), "ready");
    } else if config.subscriptions.destination_arn.is_some() {
        // The template's subscriptions function: it serves the custom resource and CreateLogGroup.
        info!(destination = %sink.describe(), "ready for subscription requests");
    } else {
        warn!(destination = %sink.describe(), "no OPENSEARCH_ENDPOINT: each _bulk body goes to this log (a dry run)");
    }
    // With a webhook, alerts go to Slack; without one, to this log (so rules can be tried first).
    let output = if config.alerts.webhook.is_some() { Output::Slack } else { Output::Log };
    let notifier = Notifier::new(&config.alerts, config.redact_literals, output)?;
    if notifier.output() == Output::Log {
        warn!("alert rules are set but no SLACK_WEBHOOK_URL / SLACK_WEBHOOK_SECRET_ARN / SLACK_WEBHOOK_PARAMETER: alerts go to this log only");
    }
    if let (true, Some(opensearch)) = (config.install_templates, &config.opensearch) {
        install_templates(&config, opensearch).await;
    }
    let handler = Arc::new(Handler::new(Arc::clone(&config), sink).with_notifier(notifier));
    Ok((handler, config))
}

/// `INSTALL_TEMPLATES=true`: the index templates, once per execution environment. A failure is
/// logged, not fatal: documents still index (dynamically mapped) and the next environment tries again.
async fn install_templates(config: &Config, opensearch: &crate::config::OpenSearchConfig) {
    let assets = setup::assets(&config.index_prefix, 30);
    let installed = match crate::delivery::transport(opensearch, None) {
        Ok(transport) => {
            // A few seconds for a cluster that is briefly busy: the first batch is waiting.
            let patience = setup::Patience::new(opensearch.timeout, std::time::Duration::from_secs(5));
            setup::install_templates(&transport, &assets, patience).await.map_err(|e| e.to_string())
        }
        Err(e) => Err(crate::text::error_chain(&e)),
    };
    match installed {
        Ok(done) => info!(installed = ?done, "index templates installed (INSTALL_TEMPLATES)"),
        Err(error) => {
            warn!(error = %error, "cannot install the index templates (INSTALL_TEMPLATES); documents are still sent")
        }
    }
}

/// A scheduled invocation: the digest of the `DIGEST_WINDOW_MINUTES` just ended, posted. Always
/// an answer, never an error: EventBridge invokes asynchronously and Lambda would retry a failure
/// twice, three digests of one window; the next schedule is the retry. What failed is in the
/// answer, the log line and the `DigestFailed` metric.
async fn scheduled_digest(config: &Config, deadline: Instant) -> Value {
    use crate::digest::scheduled::{self, Outcome};
    use crate::digest::window::Window;
    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let window = Window::ending_at(now_ms, config.alerts.digest.window_minutes);
    let (answer, failed) = match scheduled::fetch(config, window, deadline).await {
        Err(e) => {
            warn!(error = %e, "the scheduled digest failed: no message this time");
            (serde_json::json!({"digest": "failed", "error": e.to_string()}), true)
        }
        Ok(digest) => {
            let report = scheduled::send(config, &digest, deadline).await;
            let failed = matches!(report.message, Outcome::Failed(_)) || matches!(report.chart, Outcome::Failed(_));
            if failed {
                warn!(message = ?report.message, chart = ?report.chart, "the scheduled digest was not all sent");
            } else {
                info!(statements = report.statements, top = report.top, new = report.new, "scheduled digest sent");
            }
            (serde_json::to_value(&report).unwrap_or(Value::Null), failed)
        }
    };
    let line = crate::metrics::digest_line(&config.metrics, now_ms, failed);
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = writeln!(stdout, "{line}").and_then(|()| stdout.flush()) {
        warn!(error = %e, "cannot write the metrics line");
    }
    answer
}

/// The runtime's deadline (milliseconds since the epoch) as an `Instant`.
fn deadline_instant(deadline_ms: u64) -> Instant {
    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as u64);
    Instant::now() + Duration::from_millis(deadline_ms.saturating_sub(now_ms))
}

/// The EMF line goes to stdout on a line of its own: CloudWatch Logs extracts the metrics from it.
fn print_metrics(summary: &Summary, config: &Config) {
    let now_ms = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64);
    let mut line = emf_line(summary, &config.metrics, now_ms);
    line.push('\n');
    let mut stdout = std::io::stdout().lock();
    if let Err(e) = stdout.write_all(line.as_bytes()).and_then(|()| stdout.flush()) {
        warn!(error = %e, "cannot write the metrics line");
    }
}
