//! The Lambda face: the `lambda_runtime` loop around [`Handler`].
//!
//! Built once per execution environment (configuration, sink), reused by every invocation. The
//! response is the invocation's [`Summary`](crate::handler::Summary); a failure becomes a Lambda
//! error whose `errorType` says whether a retry can help (`Retryable.…` / `NonRetryable.…`).
//! Until the delivery layer adds an OpenSearch sink, documents are written to the function's log
//! as a `_bulk` body, and a warning at start says so.

use crate::config::Config;
use crate::handler::{Handler, PrintSink, Sink};
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::Value;
use std::sync::Arc;
use tracing::warn;

/// Runs the runtime loop until the execution environment ends.
pub async fn run(config: Config) -> Result<(), lambda_runtime::Error> {
    let config = Arc::new(config);
    let sink = PrintSink::new(std::io::stdout());
    warn!(destination = %sink.describe(), "no OpenSearch endpoint: each _bulk body goes to this log (a dry run)");
    let handler = Arc::new(Handler::new(config, sink));
    lambda_runtime::run(service_fn(move |event: LambdaEvent<Value>| {
        let handler = Arc::clone(&handler);
        async move { handler.handle_event(event.payload).await }
    }))
    .await
}
