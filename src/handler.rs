//! One invocation, end to end: event → CloudWatch Logs batches → documents → a [`Sink`].
//!
//! The Lambda runtime and the CLI's `replay` both call [`Handler::handle_event`], so a saved event
//! replays through exactly the Lambda's code path; the CLI's `slowlog` enters at
//! [`Handler::handle_batch`] with batches it made from a file. Where documents go is the sink's
//! business: [`PrintSink`] writes the `_bulk` body (the dry run, when no OpenSearch endpoint is
//! configured); the delivery layer adds a sink that sends it.
//!
//! Errors are typed per boundary and mapped to a Lambda [`Diagnostic`] whose `errorType` starts
//! with `Retryable` or `NonRetryable`, so whoever reads it knows whether a retry can help.

use crate::bulk::{BulkBatch, Encoder};
use crate::config::Config;
use crate::document::{Body, Document, DocumentBuilder, StreamMeta};
use crate::event::{self, DecodeError, LogsData};
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;
use std::future::Future;
use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use tracing::{info, warn};

/// How many parse warnings an invocation (or a CLI run) logs in full; the rest are counted.
const WARNINGS_LOGGED: usize = 3;

/// Where documents go.
pub trait Sink {
    /// Takes one batch's `_bulk` body (owned, so a sender can keep it for retries).
    fn submit(&self, batch: BulkBatch) -> impl Future<Output = Result<SinkReport, SinkError>>;
    /// One line for the summary: where the documents went.
    fn describe(&self) -> String;
}

/// What a sink did with one batch.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SinkReport {
    pub documents: usize,
    pub bytes: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum SinkError {
    #[error("writing the _bulk body failed")]
    Write(#[source] std::io::Error),
}

impl SinkError {
    /// Whether running the same event again can succeed.
    pub fn is_retryable(&self) -> bool {
        false
    }
}

/// Writes each batch's `_bulk` body to a writer (stdout in the CLI and in a Lambda without an
/// endpoint): a dry run that pipes into `curl --data-binary @-`.
pub struct PrintSink<W> {
    writer: Mutex<W>,
}

impl<W: Write> PrintSink<W> {
    pub fn new(writer: W) -> Self {
        PrintSink { writer: Mutex::new(writer) }
    }

    /// The writer back, for tests.
    pub fn into_inner(self) -> W {
        self.writer.into_inner().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl<W: Write> Sink for PrintSink<W> {
    async fn submit(&self, batch: BulkBatch) -> Result<SinkReport, SinkError> {
        let mut writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.write_all(batch.body()).and_then(|()| writer.flush()).map_err(SinkError::Write)?;
        Ok(SinkReport { documents: batch.len(), bytes: batch.body().len() })
    }

    fn describe(&self) -> String {
        "written as a _bulk body to standard output (dry run: no OpenSearch endpoint configured)".to_owned()
    }
}

/// Counts of one invocation (also the Lambda's response).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// CloudWatch Logs batches in the event (one per Kinesis record).
    pub batches: usize,
    /// Batches skipped as CloudWatch `CONTROL_MESSAGE` health checks.
    pub control_messages: usize,
    pub events: usize,
    pub slow_queries: usize,
    /// Documents from `extractedFields` or a JSON message.
    pub structured: usize,
    /// Documents with meta fields only.
    pub plain: usize,
    /// Documents with `@parse_warnings`.
    pub with_warnings: usize,
    pub documents: usize,
    pub bytes: usize,
}

impl Summary {
    /// Adds another batch's counts.
    pub fn add(&mut self, other: &Summary) {
        self.batches += other.batches;
        self.control_messages += other.control_messages;
        self.events += other.events;
        self.slow_queries += other.slow_queries;
        self.structured += other.structured;
        self.plain += other.plain;
        self.with_warnings += other.with_warnings;
        self.documents += other.documents;
        self.bytes += other.bytes;
    }

    /// One human line.
    pub fn line(&self, destination: &str) -> String {
        let mut line = format!(
            "{} events in {} batch{} → {} documents ({} slow queries, {} structured, {} plain; {} with parse warnings), {} bytes {}",
            self.events,
            self.batches,
            if self.batches == 1 { "" } else { "es" },
            self.documents,
            self.slow_queries,
            self.structured,
            self.plain,
            self.with_warnings,
            self.bytes,
            destination,
        );
        if self.control_messages > 0 {
            line.push_str(&format!("; skipped {} CloudWatch control message(s)", self.control_messages));
        }
        line
    }
}

/// Why an invocation failed. `Debug` prints the whole [`error_chain`] (the Lambda runtime logs
/// errors with `{:?}`).
#[derive(thiserror::Error)]
pub enum HandlerError {
    #[error("cannot decode the event")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Sink(#[from] SinkError),
}

impl std::fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&error_chain(self))
    }
}

/// An error and its sources, joined with `: ` (each message says only its own part).
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl HandlerError {
    pub fn is_retryable(&self) -> bool {
        match self {
            HandlerError::Decode(_) => false,
            HandlerError::Sink(e) => e.is_retryable(),
        }
    }

    /// `Retryable.…` or `NonRetryable.…`: the Lambda `errorType`.
    pub fn error_type(&self) -> String {
        let kind = match self {
            HandlerError::Decode(e) => e.kind(),
            HandlerError::Sink(_) => "Sink",
        };
        let retry = if self.is_retryable() { "Retryable" } else { "NonRetryable" };
        format!("{retry}.{kind}")
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(error: HandlerError) -> Diagnostic {
        Diagnostic { error_type: error.error_type(), error_message: error_chain(&error) }
    }
}

/// One CloudWatch Logs batch → its `_bulk` body and counts (pure). Each document is encoded as
/// soon as it is built, shown to `inspect` (the handler logs parse warnings there), and dropped.
pub fn encode_logs(config: &Config, data: LogsData, mut inspect: impl FnMut(&Document)) -> (BulkBatch, Summary) {
    let mut summary = Summary { batches: 1, events: data.log_events.len(), ..Summary::default() };
    let encoder = Encoder { index_type: config.index_type.as_deref() };
    let approximate_bytes = data.log_events.iter().map(|e| e.message.len() * 2 + 256).sum();
    let mut batch = BulkBatch::with_capacity(approximate_bytes, data.log_events.len());
    let meta = StreamMeta { owner: data.owner, log_group: data.log_group, log_stream: data.log_stream };
    let mut builder = DocumentBuilder::new(&config.index_prefix, meta);
    for event in data.log_events {
        let doc = builder.build(event);
        match doc.body {
            Body::SlowQuery(_) => summary.slow_queries += 1,
            Body::Fields(_) => summary.structured += 1,
            Body::Plain => summary.plain += 1,
        }
        if !doc.warnings.is_empty() {
            summary.with_warnings += 1;
        }
        inspect(&doc);
        batch.push(&encoder, &doc);
    }
    (batch, summary)
}

/// Holds what lives across invocations: the configuration and the sink.
pub struct Handler<S> {
    config: Arc<Config>,
    sink: S,
    /// Parse warnings logged since the invocation started.
    warnings_logged: AtomicUsize,
}

impl<S: Sink> Handler<S> {
    pub fn new(config: Arc<Config>, sink: S) -> Self {
        Handler { config, sink, warnings_logged: AtomicUsize::new(0) }
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink back (tests read what a [`PrintSink`] wrote).
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// A Lambda event (or a saved one, or an on-failure destination record).
    pub async fn handle_event(&self, event: Value) -> Result<Summary, HandlerError> {
        self.warnings_logged.store(0, Ordering::Relaxed);
        let batches = event::decode(event)?;
        let mut summary = Summary::default();
        for batch in batches {
            summary.add(&self.handle_batch(batch).await?);
        }
        info!(
            batches = summary.batches,
            control_messages = summary.control_messages,
            events = summary.events,
            documents = summary.documents,
            slow_queries = summary.slow_queries,
            structured = summary.structured,
            plain = summary.plain,
            with_warnings = summary.with_warnings,
            bytes = summary.bytes,
            "invocation summary"
        );
        Ok(summary)
    }

    /// One CloudWatch Logs batch.
    pub async fn handle_batch(&self, batch: LogsData) -> Result<Summary, HandlerError> {
        if batch.is_control_message() {
            info!(log_group = %batch.log_group, "skipped a CloudWatch Logs CONTROL_MESSAGE (delivery health check)");
            return Ok(Summary { batches: 1, control_messages: 1, ..Summary::default() });
        }
        let log_stream = batch.log_stream.clone();
        let (encoded, mut summary) = encode_logs(&self.config, batch, |doc| {
            if !doc.warnings.is_empty() && self.warnings_logged.fetch_add(1, Ordering::Relaxed) < WARNINGS_LOGGED {
                warn!(log_stream = %log_stream, event_id = %doc.id, warnings = ?doc.warnings, "entry read with parse warnings");
            }
        });
        let report = self.sink.submit(encoded).await?;
        summary.documents = report.documents;
        summary.bytes = report.bytes;
        Ok(summary)
    }
}
