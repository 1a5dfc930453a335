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
use crate::handler::{Handler, HandlerError, Sink, Summary};
use crate::metrics::emf_line;
use crate::setup;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};
use tracing::{info, warn};

/// Runs the runtime loop until the execution environment ends.
pub async fn run(config: Config) -> Result<(), lambda_runtime::Error> {
    let config = Arc::new(config);
    let sink = Destination::from_config(&config, std::io::stdout()).map_err(HandlerError::from)?;
    if sink.sends() {
        info!(destination = %sink.describe(), "ready");
    } else {
        warn!(destination = %sink.describe(), "no OPENSEARCH_ENDPOINT: each _bulk body goes to this log (a dry run)");
    }
    // With a webhook, alerts go to Slack; without one, to this log (so rules can be tried first).
    let output = if config.alerts.webhook.is_some() { Output::Slack } else { Output::Log };
    let notifier = Notifier::new(&config.alerts, config.redact_literals, output).map_err(|e| {
        lambda_runtime::Error::from(format!("cannot start alerting: {}", crate::handler::error_chain(&e)))
    })?;
    if notifier.output() == Output::Log {
        warn!("alert rules are set but no SLACK_WEBHOOK_URL / SLACK_WEBHOOK_SECRET_ARN / SLACK_WEBHOOK_PARAMETER: alerts go to this log only");
    }
    if let (true, Some(opensearch)) = (config.install_templates, &config.opensearch) {
        install_templates(&config, opensearch).await;
    }
    let handler = Arc::new(Handler::new(Arc::clone(&config), sink).with_notifier(notifier));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        let config = Arc::clone(&config);
        async move {
            let deadline = deadline_instant(event.context.deadline);
            let summary = handler.handle_event(event.payload, deadline).await?;
            print_metrics(&summary, &config);
            summary.into_response(config.report_batch_item_failures)
        }
    }))
    .await
}

/// `INSTALL_TEMPLATES=true`: the index templates, once per execution environment. A failure is
/// logged, not fatal: documents still index (dynamically mapped) and the next environment tries again.
async fn install_templates(config: &Config, opensearch: &crate::config::OpenSearchConfig) {
    let assets = setup::assets(&config.index_prefix, 30);
    let installed = match crate::delivery::transport(opensearch, None) {
        Ok(transport) => {
            setup::install_templates(&transport, &assets, opensearch.timeout).await.map_err(|e| e.to_string())
        }
        Err(e) => Err(crate::handler::error_chain(&e)),
    };
    match installed {
        Ok(done) => info!(installed = ?done, "index templates installed (INSTALL_TEMPLATES)"),
        Err(error) => {
            warn!(error = %error, "cannot install the index templates (INSTALL_TEMPLATES); documents are still sent")
        }
    }
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
