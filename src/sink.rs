//! The seam where documents go: a [`Sink`] takes one batch's `_bulk` body and reports what
//! became of each item ([`SinkReport`]). [`PrintSink`] writes the body (the dry run); the
//! delivery layer's sink sends it. The handler and the delivery layer both use this module, and
//! neither uses the other through it.

use crate::bulk::BulkBatch;
use serde::Serialize;
use std::future::Future;
use std::io::Write;
use std::sync::Mutex;
use std::time::Instant;

/// `ItemError::kind` (and [`FailedItem::error_type`]) of a TLS failure: permanent, as a retry
/// meets the same certificate.
pub const TLS_ERROR: &str = "tls";

/// Where documents go.
pub trait Sink {
    /// Takes one batch's `_bulk` body (owned, so a sender can keep it for retries); gives up
    /// retrying early enough to report before `deadline`.
    fn submit(&self, batch: BulkBatch, deadline: Instant) -> impl Future<Output = Result<SinkReport, SinkError>>;
    /// One line for the summary: where the documents went.
    fn describe(&self) -> String;
}

/// What a sink did with one batch.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SinkReport {
    /// Items in the batch.
    pub documents: usize,
    /// Acknowledged by OpenSearch (0 for a dry run).
    pub indexed: usize,
    /// Items sent again after a retryable failure (one count per resend).
    pub retried: usize,
    /// Of `retried`, those the cluster answered 429 (too many requests): the backfill's signal to
    /// send fewer requests at once.
    pub throttled: usize,
    /// Refused for good and written to the dead-letter index.
    pub dead_lettered: usize,
    /// Neither indexed nor dead-lettered: the invocation fails so the event is kept.
    pub failed: usize,
    /// Of `failed`, those a later attempt may deliver (429, 5xx, timeouts, …).
    pub failed_retryable: usize,
    /// Whole requests refused with a status a retry cannot change (403, 400, 404).
    pub refused_requests: usize,
    /// Request bytes sent (after compression), or written for a dry run.
    pub bytes: usize,
    pub requests: usize,
    /// The first few dead-lettered or failed items, with their reasons.
    pub failures: Vec<FailedItem>,
}

impl FailedItem {
    /// `after 3 attempts`.
    pub fn attempts_text(&self) -> String {
        format!("after {} attempt{}", self.attempts, if self.attempts == 1 { "" } else { "s" })
    }
}

impl SinkReport {
    /// Adds another batch's report (keeping the first few failures).
    pub fn add(&mut self, other: &SinkReport) {
        self.documents += other.documents;
        self.indexed += other.indexed;
        self.retried += other.retried;
        self.throttled += other.throttled;
        self.dead_lettered += other.dead_lettered;
        self.failed += other.failed;
        self.failed_retryable += other.failed_retryable;
        self.refused_requests += other.refused_requests;
        self.requests += other.requests;
        self.bytes += other.bytes;
        let room = FAILURES_SHOWN.saturating_sub(self.failures.len());
        self.failures.extend(other.failures.iter().take(room).cloned());
    }

    /// Keeps `item` if fewer than [`FAILURES_SHOWN`] are kept.
    pub fn note_failure(&mut self, item: FailedItem) {
        if self.failures.len() < FAILURES_SHOWN {
            self.failures.push(item);
        }
    }
}

/// How many failed items an invocation reports in full; the rest are counted.
pub const FAILURES_SHOWN: usize = 5;

/// One item that was dead-lettered or not delivered, for the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FailedItem {
    pub index: String,
    pub id: String,
    /// HTTP status; 0 when there was no answer.
    pub status: u16,
    pub error_type: String,
    pub reason: String,
    pub attempts: u32,
    /// `dead-lettered`, `failed`, …
    pub outcome: String,
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
    async fn submit(&self, batch: BulkBatch, _deadline: Instant) -> Result<SinkReport, SinkError> {
        let mut writer = self.writer.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        writer.write_all(batch.body()).and_then(|()| writer.flush()).map_err(SinkError::Write)?;
        let report = SinkReport { documents: batch.len(), bytes: batch.body().len(), ..SinkReport::default() };
        batch.recycle();
        Ok(report)
    }

    fn describe(&self) -> String {
        "written as a _bulk body to standard output (dry run: no OpenSearch endpoint configured)".to_owned()
    }
}
