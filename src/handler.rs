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

use crate::alert::notify::{AlertReport, Notifier};
use crate::alert::{Collector, NO_RULES};
use crate::bulk::{BulkBatch, Encoder};
use crate::config::Config;
use crate::document::{Body, Document, DocumentBuilder, StreamMeta};
use crate::event::{self, DecodeError, LogsData};
pub use crate::sink::{FailedItem, PrintSink, Sink, SinkError, SinkReport, FAILURES_SHOWN};
use crate::text::error_chain;
use lambda_runtime::Diagnostic;
use serde::Serialize;
use serde_json::Value;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Instant;
use tracing::{debug, info, warn};

/// How many parse warnings an invocation (or a CLI run) logs in full; the rest are counted.
const WARNINGS_LOGGED: usize = 3;

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
    /// Documents cut to fit `BULK_MAX_BYTES` (`@truncated`).
    pub truncated: usize,
    /// Documents whose id an earlier document of the same batch already had (CloudWatch's
    /// at-least-once delivery, a re-driven event concatenated with its original): the cluster
    /// keeps one document per id, so `indexed` counts these twice.
    pub duplicate_ids: usize,
    /// Kinesis records that did not decode: each is dead-lettered as it came (base64, with the
    /// reason and its sequence number), and the other records are delivered.
    pub undecodable_records: usize,
    /// Sequence numbers of the Kinesis records some of whose documents were neither indexed nor
    /// dead-lettered (the partial-batch response's items).
    #[serde(skip)]
    pub failed_records: Vec<String>,
    /// Of the batches with such documents, those that cannot be named by a sequence number (a
    /// subscription event, a Kinesis record without one): only failing the invocation keeps them.
    #[serde(skip)]
    pub failed_unnamed: usize,
    /// The partial-batch response (`REPORT_BATCH_ITEM_FAILURES=true`, Kinesis): set by
    /// [`Summary::into_response`].
    #[serde(rename = "batchItemFailures", skip_serializing_if = "Vec::is_empty")]
    pub batch_item_failures: Vec<BatchItemFailure>,
    /// Time spent decoding and delivering (in the Lambda: not the alerts sent beside it, which
    /// are `alert_ms`, so a Slack rate limit never shows as slow indexing; in the CLI: the run).
    pub duration_ms: u64,
    /// What the sink did: attempted, indexed, dead-lettered, failed, … (flattened in the JSON).
    #[serde(flatten)]
    pub delivery: SinkReport,
    /// What alerting did (flattened in the JSON).
    #[serde(flatten)]
    pub alerts: AlertReport,
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
        self.truncated += other.truncated;
        self.duplicate_ids += other.duplicate_ids;
        self.undecodable_records += other.undecodable_records;
        self.failed_records.extend(other.failed_records.iter().cloned());
        self.failed_unnamed += other.failed_unnamed;
        self.batch_item_failures.extend(other.batch_item_failures.iter().cloned());
        self.duration_ms += other.duration_ms;
        self.delivery.add(&other.delivery);
        self.alerts.add(&other.alerts);
    }

    /// One human line; `sent` says whether the sink sends (else it is a dry run).
    pub fn line(&self, destination: &str, sent: bool) -> String {
        let mut line = format!(
            "{} events in {} batch{} → {} documents ({} slow queries, {} structured, {} plain; {} with parse warnings",
            self.events,
            self.batches,
            if self.batches == 1 { "" } else { "es" },
            self.delivery.documents,
            self.slow_queries,
            self.structured,
            self.plain,
            self.with_warnings,
        );
        if self.truncated > 0 {
            line.push_str(&format!(", {} truncated", self.truncated));
        }
        line.push(')');
        if sent {
            line.push_str(&format!(
                ", {destination}: {} indexed, {} dead-lettered, {} failed, {} retried; {} requests, {} bytes, {} ms",
                self.delivery.indexed,
                self.delivery.dead_lettered,
                self.delivery.failed,
                self.delivery.retried,
                self.delivery.requests,
                self.delivery.bytes,
                self.duration_ms
            ));
        } else {
            line.push_str(&format!(", {} bytes {destination}", self.delivery.bytes));
        }
        if self.duplicate_ids > 0 {
            line.push_str(&format!(
                "; {} document(s) repeated an id already in the batch (the cluster keeps one document per id)",
                self.duplicate_ids
            ));
        }
        if self.undecodable_records > 0 {
            line.push_str(&format!(
                "; {} Kinesis record(s) did not decode and were dead-lettered as they came",
                self.undecodable_records
            ));
        }
        if self.control_messages > 0 {
            line.push_str(&format!("; skipped {} CloudWatch control message(s)", self.control_messages));
        }
        let a = &self.alerts;
        if a.alerts_held > 0 {
            line.push_str(&format!("; {} alert(s) held back by ALERT_COOLDOWN_SECONDS", a.alerts_held));
        }
        if a.alert_entries > 0 {
            line.push_str(&format!(
                "; alerts: {} matching entr{} → {} message{}",
                a.alert_entries,
                if a.alert_entries == 1 { "y" } else { "ies" },
                a.alert_messages,
                if a.alert_messages == 1 { "" } else { "s" }
            ));
            if a.alerts_sent + a.alerts_failed + a.alerts_rate_limited > 0 {
                line.push_str(&format!(
                    " ({} sent, {} failed, {} rate-limited)",
                    a.alerts_sent, a.alerts_failed, a.alerts_rate_limited
                ));
            }
        }
        line
    }

    /// The Lambda's answer: the summary, or the invocation's error when documents were neither
    /// indexed nor dead-lettered. With `report_item_failures` (the event source mapping has
    /// `FunctionResponseTypes: [ReportBatchItemFailures]`) and every such document in a Kinesis
    /// record with a sequence number, the answer is the summary with `batchItemFailures` naming
    /// those records instead, so Lambda retries them only, not the records already delivered.
    pub fn into_response(mut self, report_item_failures: bool) -> Result<Summary, HandlerError> {
        let Some(error) = self.undelivered() else { return Ok(self) };
        if report_item_failures && self.failed_unnamed == 0 && !self.failed_records.is_empty() {
            self.batch_item_failures =
                self.failed_records.iter().map(|seq| BatchItemFailure { item_identifier: seq.clone() }).collect();
            warn!(
                records = self.batch_item_failures.len(),
                "some Kinesis records were not delivered: reported in batchItemFailures for Lambda to retry ({})",
                error_chain(&error)
            );
            return Ok(self);
        }
        Err(error)
    }

    /// The invocation's error when documents were neither indexed nor dead-lettered.
    pub fn undelivered(&self) -> Option<HandlerError> {
        (self.delivery.failed > 0).then(|| HandlerError::Undelivered {
            failed: self.delivery.failed,
            documents: self.delivery.documents,
            retryable: self.delivery.failed_retryable > 0,
            tls: self.delivery.failures.iter().any(|f| f.error_type == crate::sink::TLS_ERROR),
            first: self.delivery.failures.iter().find(|f| f.outcome != "dead-lettered").map_or_else(String::new, |f| {
                format!("; first: {} {} in {}: {}", f.status, f.error_type, f.index, f.reason)
            }),
        })
    }
}

/// One item of the partial-batch response.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BatchItemFailure {
    #[serde(rename = "itemIdentifier")]
    pub item_identifier: String,
}

/// Why an invocation failed. `Debug` prints the whole [`error_chain`] (the Lambda runtime logs
/// errors with `{:?}`).
#[derive(thiserror::Error)]
pub enum HandlerError {
    #[error("cannot decode the event")]
    Decode(#[from] DecodeError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    #[error(
        "{failed} of {documents} documents were neither indexed nor dead-lettered{first}; \
         the event fails so that Lambda retries it and then keeps it in the on-failure destination (re-drive with `replay`)"
    )]
    Undelivered { failed: usize, documents: usize, retryable: bool, tls: bool, first: String },
}

impl std::fmt::Debug for HandlerError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&error_chain(self))
    }
}

impl HandlerError {
    pub fn is_retryable(&self) -> bool {
        match self {
            HandlerError::Decode(_) => false,
            HandlerError::Sink(e) => e.is_retryable(),
            HandlerError::Undelivered { retryable, .. } => *retryable,
        }
    }

    /// `Retryable.…` or `NonRetryable.…`: the Lambda `errorType`.
    pub fn error_type(&self) -> String {
        let kind = match self {
            HandlerError::Decode(e) => e.kind(),
            HandlerError::Sink(_) => "Sink",
            HandlerError::Undelivered { retryable: true, .. } => "Undelivered",
            HandlerError::Undelivered { retryable: false, tls: true, .. } => "Tls",
            HandlerError::Undelivered { retryable: false, .. } => "Refused",
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
    let encoder = Encoder { index_type: config.index_type.as_deref(), omit_ids: !config.document_ids };
    let max_item_bytes = config.bulk_max_bytes;
    let approximate_bytes = data.log_events.iter().map(|e| e.message.len() * 2 + 256).sum();
    let mut batch = BulkBatch::reusing(approximate_bytes, data.log_events.len());
    let meta = StreamMeta { owner: data.owner, log_group: data.log_group, log_stream: data.log_stream };
    let mut builder = DocumentBuilder::new(&config.index_prefix, meta)
        .redact_literals(config.redact_literals)
        .redact_patterns(config.redact_patterns.clone())
        .fingerprint_rules(config.fingerprint_rules)
        .received_at(
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
        );
    // Ids seen in this batch, hashed: a repeated id overwrites, so it is counted, not hidden.
    let hasher = std::collections::hash_map::RandomState::new();
    let mut seen_ids =
        std::collections::HashSet::with_capacity(if config.document_ids { data.log_events.len() } else { 0 });
    // A PostgreSQL record's follow-ups (DETAIL, STATEMENT, …) and continuation lines delivered as
    // events of their own join the record's event, so the record is one document.
    for event in crate::postgres::join_follow_ups(data.log_events) {
        // One document per slow-log entry, even when an event holds several.
        crate::slowlog_file::split_event(event, |event| {
            if config.document_ids && !seen_ids.insert(std::hash::BuildHasher::hash_one(&hasher, &event.id)) {
                summary.duplicate_ids += 1;
            }
            let mut doc = builder.build(event);
            match doc.body {
                Body::SlowQuery(_) => summary.slow_queries += 1,
                Body::Fields(_) => summary.structured += 1,
                Body::Plain => summary.plain += 1,
            }
            if !doc.warnings.is_empty() {
                summary.with_warnings += 1;
            }
            // A document over the request limit is cut to fit, never dropped (`@truncated`).
            if batch.push_within(&encoder, &mut doc, max_item_bytes) {
                summary.truncated += 1;
            }
            inspect(&doc);
        });
    }
    (batch, summary)
}

/// A batch encoded by [`Handler::prepare`], not yet sent.
pub struct Prepared {
    /// None for a control message.
    body: Option<BulkBatch>,
    summary: Summary,
}

/// Holds what lives across invocations: the configuration, the sink and the alert notifier.
pub struct Handler<S> {
    config: Arc<Config>,
    sink: S,
    notifier: Notifier,
    /// Parse warnings logged since the invocation started.
    warnings_logged: AtomicUsize,
    /// Each item not indexed gets a WARN line of its own (the Lambda's log); the CLI prints its
    /// own line per item instead, once.
    log_failures: bool,
}

impl<S: Sink> Handler<S> {
    pub fn new(config: Arc<Config>, sink: S) -> Self {
        Handler { config, sink, notifier: Notifier::off(), warnings_logged: AtomicUsize::new(0), log_failures: true }
    }

    /// No WARN line per item not indexed: the caller reports them itself (the CLI's `failed …` /
    /// `dead-lettered …` lines), so none is shown twice. The summary line is still logged.
    pub fn without_failure_log(mut self) -> Self {
        self.log_failures = false;
        self
    }

    /// Alerts go through `notifier` (without one, alerts are off).
    pub fn with_notifier(mut self, notifier: Notifier) -> Self {
        self.notifier = notifier;
        self
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// A collector for one invocation's (or CLI run's) alert candidates.
    pub fn collector(&self) -> Collector<'_> {
        Collector::new(if self.notifier.is_off() { &NO_RULES } else { &self.config.alerts.rules })
    }

    /// Sends (or prints) what `collector` gathered; never fails (failures are logged and counted).
    pub async fn alert(&self, collector: Collector<'_>, deadline: Instant) -> AlertReport {
        self.notifier.deliver(collector, deadline).await
    }

    pub fn sink(&self) -> &S {
        &self.sink
    }

    /// The sink back (tests read what a [`PrintSink`] wrote).
    pub fn into_sink(self) -> S {
        self.sink
    }

    /// A Lambda event (or a saved one, or an on-failure destination record). Retries stop early
    /// enough to report before `deadline`. Logs one summary line and the first few failed items.
    /// Items that were neither indexed nor dead-lettered are counted, not returned as an error:
    /// the caller reports the summary, then fails with [`Summary::undelivered`].
    ///
    /// Alerts are sent beside indexing (both on this task), so a slow Slack never delays
    /// indexing and a failed indexing never stops an alert.
    pub async fn handle_event(&self, event: Value, deadline: Instant) -> Result<Summary, HandlerError> {
        let started = Instant::now();
        self.warnings_logged.store(0, Ordering::Relaxed);
        let records = event::decode_records(event)?;
        let mut collector = self.collector();
        let mut encoded = Vec::with_capacity(records.len());
        for event::Record { at, data, raw } in records {
            let (batch, part) = match data {
                Ok(batch) => self.encode_batch(batch, &mut collector),
                Err(error) => (
                    Some(self.undecodable_record(&at, raw, &error)),
                    Summary { batches: 1, undecodable_records: 1, ..Summary::default() },
                ),
            };
            encoded.push((at, batch, part));
        }
        let index = async {
            let indexing = Instant::now();
            let mut summary = Summary::default();
            for (at, batch, mut part) in encoded {
                if let Some(batch) = batch {
                    part.delivery = self.sink.submit(batch, deadline).await?;
                }
                if part.delivery.failed > 0 {
                    match at.sequence_number() {
                        Some(seq) => part.failed_records.push(seq.to_owned()),
                        None => part.failed_unnamed += 1,
                    }
                }
                summary.add(&part);
            }
            summary.duration_ms = u64::try_from(indexing.elapsed().as_millis()).unwrap_or(u64::MAX);
            Ok::<_, HandlerError>(summary)
        };
        let (summary, alerts) = tokio::join!(index, self.alert(collector, deadline));
        let mut summary = summary?;
        summary.alerts = alerts;
        debug!(total_ms = started.elapsed().as_millis() as u64, "invocation done");
        log_summary(&summary, self.log_failures);
        Ok(summary)
    }

    /// One CloudWatch Logs batch, its alert candidates going to `collector` (the CLI sends them
    /// with [`Handler::alert`] at the end of its run). Failed items are counted in the summary,
    /// not returned as an error: the caller decides at the end ([`Summary::undelivered`]).
    pub async fn handle_batch(
        &self,
        batch: LogsData,
        deadline: Instant,
        collector: &mut Collector<'_>,
    ) -> Result<Summary, HandlerError> {
        let prepared = self.prepare(batch, collector);
        self.deliver(prepared, deadline).await
    }

    /// The first half of [`Handler::handle_batch`]: the batch's `_bulk` body and counts, its
    /// alert candidates going to `collector`. Nothing is sent; a backfill prepares the next batch
    /// while earlier ones are in flight.
    pub fn prepare(&self, batch: LogsData, collector: &mut Collector<'_>) -> Prepared {
        let (body, summary) = self.encode_batch(batch, collector);
        Prepared { body, summary }
    }

    /// The second half of [`Handler::handle_batch`]: sends a prepared batch.
    pub async fn deliver(&self, prepared: Prepared, deadline: Instant) -> Result<Summary, HandlerError> {
        let Prepared { body, mut summary } = prepared;
        if let Some(body) = body {
            summary.delivery = self.sink.submit(body, deadline).await?;
        }
        Ok(summary)
    }

    /// A Kinesis record that did not decode, as a dead letter (logged, so the reason shows in the
    /// function's log too).
    fn undecodable_record(&self, at: &event::Location, raw: Option<String>, error: &DecodeError) -> BulkBatch {
        let mut reason = error_chain(error);
        warn!(record = %at, error = %reason, "a Kinesis record did not decode: dead-lettered as it came; the other records are delivered");
        let encoder = Encoder { index_type: self.config.index_type.as_deref(), omit_ids: !self.config.document_ids };
        let now = chrono::DateTime::<chrono::Utc>::from(std::time::SystemTime::now())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut raw = raw.unwrap_or_default();
        // Base64 is ASCII, but the field may hold anything a hostile record sent: cut on a boundary.
        let room = self.config.bulk_max_bytes.saturating_sub(4096);
        if raw.len() > room {
            reason.push_str(&format!(" (data cut from {} to {room} bytes to fit BULK_MAX_BYTES)", raw.len()));
            let mut cut = room;
            while !raw.is_char_boundary(cut) {
                cut -= 1;
            }
            raw.truncate(cut);
        }
        let item = crate::dead_letter::undecodable_record_item(
            &encoder,
            &self.config.index_prefix,
            &at.to_string(),
            at.sequence_number(),
            &raw,
            &reason,
            &now,
        );
        let mut batch = BulkBatch::with_capacity(item.len(), 1);
        batch.push_encoded(&item);
        batch
    }

    /// A batch's `_bulk` body (none for a control message) and counts.
    fn encode_batch(&self, batch: LogsData, collector: &mut Collector<'_>) -> (Option<BulkBatch>, Summary) {
        if batch.is_control_message() {
            info!(log_group = %batch.log_group, "skipped a CloudWatch Logs CONTROL_MESSAGE (delivery health check)");
            return (None, Summary { batches: 1, control_messages: 1, ..Summary::default() });
        }
        let log_stream = batch.log_stream.clone();
        let mut first = true;
        let (encoded, summary) = encode_logs(&self.config, batch, |doc| {
            if std::mem::take(&mut first) {
                // The cold-start benchmark's mark (bench/e2e.rs): the batch is decoded and its
                // first entry is a document.
                debug!(log_stream = %log_stream, "first document built");
            }
            if !doc.warnings.is_empty() && self.warnings_logged.fetch_add(1, Ordering::Relaxed) < WARNINGS_LOGGED {
                warn!(log_stream = %log_stream, event_id = %doc.id, warnings = ?doc.warnings, "entry read with parse warnings");
            }
            collector.observe(doc);
        });
        (Some(encoded), summary)
    }
}

/// The invocation's summary line (structured, fixed field names) and, with `failures`, its first
/// few failures.
pub fn log_summary(summary: &Summary, failures: bool) {
    info!(
        batches = summary.batches,
        control_messages = summary.control_messages,
        events = summary.events,
        documents = summary.delivery.documents,
        slow_queries = summary.slow_queries,
        structured = summary.structured,
        plain = summary.plain,
        with_warnings = summary.with_warnings,
        truncated = summary.truncated,
        attempted = summary.delivery.documents,
        indexed = summary.delivery.indexed,
        retried = summary.delivery.retried,
        throttled = summary.delivery.throttled,
        dead_lettered = summary.delivery.dead_lettered,
        failed = summary.delivery.failed,
        requests = summary.delivery.requests,
        bytes = summary.delivery.bytes,
        duration_ms = summary.duration_ms,
        alert_entries = summary.alerts.alert_entries,
        alert_messages = summary.alerts.alert_messages,
        alerts_sent = summary.alerts.alerts_sent,
        alerts_failed = summary.alerts.alerts_failed,
        alerts_rate_limited = summary.alerts.alerts_rate_limited,
        alerts_held = summary.alerts.alerts_held,
        alert_ms = summary.alerts.alert_ms,
        alert_wait_ms = summary.alerts.alert_wait_ms,
        undecodable_records = summary.undecodable_records,
        "invocation summary"
    );
    if !failures {
        return;
    }
    for f in &summary.delivery.failures {
        warn!(
            index = %f.index,
            event_id = %f.id,
            status = f.status,
            error_type = %f.error_type,
            reason = %f.reason,
            attempts = f.attempts,
            outcome = %f.outcome,
            "item not indexed"
        );
    }
    let not_shown =
        (summary.delivery.failed + summary.delivery.dead_lettered).saturating_sub(summary.delivery.failures.len());
    if not_shown > 0 {
        warn!(not_shown, "more items were not indexed; only the first {FAILURES_SHOWN} are logged");
    }
}
