//! Sends `_bulk` bodies to OpenSearch and makes sure every item ends up somewhere.
//!
//! [`OpenSearchSink`] is the [`Sink`] used whenever an endpoint is configured. It owns the client
//! (the `opensearch` crate: SigV4 through `aws-auth`, or basic auth, rustls), built once per
//! execution environment so connections are kept alive across invocations. For each batch it:
//! 1. cuts the body into requests of at most `BULK_MAX_BYTES` (optionally gzipped, signed over
//!    the compressed bytes);
//! 2. reads each answer item by item ([`classify_response`]): indexed items are done; items with
//!    429/5xx, and whole requests answered 429/5xx/408, with a non-JSON page, a timeout or a
//!    dropped connection, are sent again (only those items, rebuilt into a new body) after an
//!    exponential backoff with full jitter, for as long as the invocation's deadline allows; a 413
//!    splits the request in halves;
//! 3. writes items refused for good (mapping conflicts, other 4xx) to `<prefix>-_deadletter-…`
//!    with the error ([`dead_letter_item`]); if that fails too, they count as failed;
//! 4. reports counts and the first few failures. Failed items make the invocation fail, so
//!    Lambda retries the whole event (safe: `_id` = event id) and, after its retries, the
//!    on-failure destination keeps it for `replay`.
//!
//! A whole request refused with another status (403 signature or permissions, 400, 404) is not
//! retried here: sending it again cannot help, and its items count as failed.
//!
//! Owns the network; the decisions themselves are the pure functions of [`crate::bulk`].

use crate::bulk::{
    classify_response, item_target, request_ranges, BulkBatch, Encoder, ItemError, ItemOutcome, ResponseOutcome,
    SharedBatch,
};
use crate::config::{Auth, Compression, Config, OpenSearchConfig};
use crate::dead_letter::dead_letter_item;
use crate::sink::{FailedItem, PrintSink, Sink, SinkError, SinkReport, TLS_ERROR};
use bytes::Bytes;
use opensearch::http::headers::{HeaderMap, HeaderValue, CONTENT_ENCODING, CONTENT_TYPE};
use opensearch::http::transport::{SingleNodeConnectionPool, Transport, TransportBuilder};
use opensearch::http::Method;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant, SystemTime};

/// Failures kept in full per batch for the log; the rest are counted.
pub const FAILURES_KEPT: usize = 5;

/// When to try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Backoff before the first retry round, doubled each round, before jitter.
    pub base: Duration,
    /// The longest backoff.
    pub cap: Duration,
    /// Time kept at the end of the invocation to write the dead letters and report.
    pub reserve: Duration,
    /// No request is started with less time than this left (before the reserve).
    pub min_attempt: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            base: Duration::from_millis(200),
            cap: Duration::from_secs(10),
            reserve: Duration::from_millis(500),
            min_attempt: Duration::from_millis(200),
        }
    }
}

impl RetryPolicy {
    /// Full jitter (AWS Architecture Blog, "Exponential Backoff And Jitter"): a uniform pick in
    /// `[0, min(cap, base × 2^(round-1))]`, from `random`. Pure.
    pub fn backoff(&self, round: u32, random: u64) -> Duration {
        let ceiling = self.base.saturating_mul(1u32 << round.saturating_sub(1).min(20)).min(self.cap);
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(if nanos == 0 { 0 } else { random % (nanos + 1) })
    }
}

/// How many `_bulk` requests a backfill keeps in flight: up to the configured number, halved
/// whenever a batch met a 429 (the cluster's write queue is full), and raised by one again after
/// as many batches in a row as are in flight went through without one (additive increase,
/// multiplicative decrease, as TCP does). Each request still waits out its own 429s (backoff,
/// `Retry-After`); this keeps the backfill from adding to the queue that refused them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InFlight {
    most: usize,
    now: usize,
    calm: usize,
}

impl InFlight {
    /// At most `most` requests at once (at least 1).
    pub fn new(most: usize) -> Self {
        let most = most.max(1);
        InFlight { most, now: most, calm: 0 }
    }

    /// Requests that may be in flight now.
    pub fn limit(&self) -> usize {
        self.now
    }

    /// Takes one batch's report; returns the new limit when it changed.
    pub fn after(&mut self, report: &SinkReport) -> Option<usize> {
        let before = self.now;
        if report.throttled > 0 {
            self.now = (self.now / 2).max(1);
            self.calm = 0;
        } else {
            self.calm += 1;
            if self.calm >= self.now && self.now < self.most {
                self.now += 1;
                self.calm = 0;
            }
        }
        (self.now != before).then_some(self.now)
    }
}

/// xorshift64, one step: the backoff's jitter needs no more. `x` must not be 0.
pub fn xorshift(mut x: u64) -> u64 {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    x
}

/// The client could not be built.
#[derive(Debug, thiserror::Error)]
#[error("cannot build the OpenSearch client for {endpoint}")]
pub struct ClientError {
    endpoint: String,
    #[source]
    source: opensearch::http::transport::BuildError,
}

/// Builds the transport: one connection pool for the endpoint, SigV4 / basic / no auth, no proxy
/// (requests go straight to the endpoint, as from a Lambda). `time_source` pins the signing time
/// in tests.
pub fn transport(
    config: &OpenSearchConfig,
    time_source: Option<aws_types::sdk_config::SharedTimeSource>,
) -> Result<Transport, ClientError> {
    let pool = SingleNodeConnectionPool::new(config.endpoint.clone());
    let mut builder = TransportBuilder::new(pool).disable_proxy().timeout(config.timeout);
    match &config.auth {
        Auth::SigV4 { service, region, access_key_id, secret_access_key, session_token } => {
            let credentials = aws_credential_types::Credentials::new(
                access_key_id,
                secret_access_key.expose(),
                session_token.as_ref().map(|t| t.expose().to_owned()),
                None,
                "environment",
            );
            let provider = aws_credential_types::provider::SharedCredentialsProvider::new(credentials);
            let region = aws_types::region::Region::new(region.clone());
            builder = builder.auth(opensearch::auth::Credentials::AwsSigV4(provider, region)).service_name(service);
            if let Some(time_source) = time_source {
                builder = builder.sigv4_time_source(time_source);
            }
        }
        Auth::Basic { username, password } => {
            builder =
                builder.auth(opensearch::auth::Credentials::Basic(username.clone(), password.expose().to_owned()));
        }
        Auth::None => {}
    }
    builder.build().map_err(|source| ClientError { endpoint: config.endpoint.to_string(), source })
}

/// A request body as `OPENSEARCH_COMPRESSION=gzip` sends it. Level 1: log text still shrinks
/// 5-10×, for a fraction of the CPU of level 6.
pub fn gzip(body: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::with_capacity(body.len() / 4), flate2::Compression::fast());
    encoder.write_all(body)?;
    encoder.finish()
}

/// Sends batches to OpenSearch (see the module docs).
pub struct OpenSearchSink {
    transport: Transport,
    endpoint: String,
    compression: Compression,
    timeout: Duration,
    max_bytes: usize,
    index_prefix: String,
    index_type: Option<String>,
    omit_ids: bool,
    policy: RetryPolicy,
    random: AtomicU64,
}

/// An item that did not make it, while it is being handled.
struct Failure {
    item: usize,
    error: ItemError,
    attempts: u32,
}

/// What one [`OpenSearchSink::deliver`] left over.
#[derive(Default)]
struct Leftovers {
    /// Refused for good.
    refused: Vec<Failure>,
    /// Still failing when time ran out, or refused as a whole request.
    failed: Vec<Failure>,
}

impl OpenSearchSink {
    /// Builds the client for `config.opensearch` (which must be set).
    pub fn new(config: &Config, opensearch: &OpenSearchConfig) -> Result<Self, ClientError> {
        Ok(Self::with_transport(config, opensearch, transport(opensearch, None)?))
    }

    /// With a transport built elsewhere (tests pin the signing time).
    pub fn with_transport(config: &Config, opensearch: &OpenSearchConfig, transport: Transport) -> Self {
        let seed =
            SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0x9E37_79B9, |d| d.as_nanos() as u64);
        OpenSearchSink {
            transport,
            endpoint: opensearch.endpoint.to_string(),
            compression: opensearch.compression,
            timeout: opensearch.timeout,
            max_bytes: config.bulk_max_bytes,
            index_prefix: config.index_prefix.clone(),
            index_type: config.index_type.clone(),
            omit_ids: !config.document_ids,
            policy: RetryPolicy::default(),
            random: AtomicU64::new(seed | 1),
        }
    }

    /// Replaces the retry timings (tests shorten them).
    pub fn with_policy(mut self, policy: RetryPolicy) -> Self {
        self.policy = policy;
        self
    }

    fn next_random(&self) -> u64 {
        let x = xorshift(self.random.load(Ordering::Relaxed));
        self.random.store(x, Ordering::Relaxed);
        x
    }

    /// How long the next request may take, or `None` when there is no time for one.
    fn attempt_timeout(&self, deadline: Instant) -> Option<Duration> {
        let left = deadline.checked_duration_since(Instant::now())?.checked_sub(self.policy.reserve)?;
        (left >= self.policy.min_attempt).then(|| left.min(self.timeout))
    }

    /// The request body as sent (gzipped when configured) and its headers.
    fn prepare(&self, body: Bytes) -> Result<(Bytes, HeaderMap), ItemError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
        match self.compression {
            Compression::None => Ok((body, headers)),
            Compression::Gzip => {
                headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
                let compressed = gzip(&body).map_err(|e| ItemError {
                    status: 0,
                    kind: "gzip_failed".into(),
                    reason: e.to_string(),
                })?;
                Ok((Bytes::from(compressed), headers))
            }
        }
    }

    /// One POST `/_bulk` (signed by the transport over exactly these bytes); the status and the
    /// body of the answer.
    async fn post(
        &self,
        body: Bytes,
        headers: HeaderMap,
        timeout: Duration,
    ) -> Result<(u16, Bytes, Option<Duration>), ItemError> {
        let no_answer = |e: opensearch::Error| {
            let reason = crate::text::error_chain(&e);
            if let Some(fix) = tls_problem(&reason) {
                return ItemError { status: 0, kind: TLS_ERROR.into(), reason: format!("{reason}; {fix}") };
            }
            let kind = if e.is_timeout() { "timeout" } else { "connection_failed" };
            ItemError { status: 0, kind: kind.into(), reason }
        };
        let response = self
            .transport
            .send(Method::Post, "_bulk", headers, None::<&()>, Some(body), Some(timeout))
            .await
            .map_err(no_answer)?;
        let status = response.status_code().as_u16();
        // `Retry-After: <seconds>` (a 429 or 503 that says how long to wait).
        let retry_after = response
            .headers()
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok())
            .map(Duration::from_secs);
        let bytes = response.bytes().await.map_err(no_answer)?;
        Ok((status, bytes, retry_after))
    }

    /// Sends `items` of `batch` until each is indexed, refused for good, or out of time.
    async fn deliver(
        &self,
        batch: &SharedBatch,
        items: Vec<usize>,
        deadline: Instant,
        report: &mut SinkReport,
    ) -> Leftovers {
        let mut leftovers = Leftovers::default();
        let mut attempts = vec![0u32; batch.len()];
        // Each item's latest failure, so one that runs out of time is reported with its real cause.
        let mut last_error: Vec<Option<ItemError>> = vec![None; batch.len()];
        let mut pending = items;
        let mut round = 0u32;
        while !pending.is_empty() {
            let mut retry: Vec<(usize, ItemError)> = Vec::new();
            // The longest `Retry-After` the cluster asked for in this round.
            let mut asked_wait = Duration::ZERO;
            let sizes: Vec<usize> = pending.iter().map(|&i| batch.item(i).len()).collect();
            let mut requests: Vec<Vec<usize>> =
                request_ranges(&sizes, self.max_bytes).into_iter().map(|r| pending[r].to_vec()).collect();
            requests.reverse(); // a stack, so a 413's halves go next, in order
            while let Some(request) = requests.pop() {
                let Some(timeout) = self.attempt_timeout(deadline) else {
                    let out_of_time = ItemError {
                        status: 0,
                        kind: "deadline".into(),
                        reason: "no time left in the invocation".into(),
                    };
                    retry.extend(
                        request.iter().map(|&i| (i, last_error[i].take().unwrap_or_else(|| out_of_time.clone()))),
                    );
                    continue;
                };
                let body = batch.request_body(&request);
                for &i in &request {
                    attempts[i] += 1;
                }
                let body_bytes = body.len();
                let answer = match self.prepare(body) {
                    Ok((body, headers)) => {
                        report.requests += 1;
                        report.bytes += body.len();
                        self.post(body, headers, timeout).await
                    }
                    Err(error) => Err(error),
                };
                let outcome = match answer {
                    Ok((status, bytes, retry_after)) => {
                        if let Some(wait) = retry_after.filter(|_| matches!(status, 429 | 503)) {
                            asked_wait = asked_wait.max(wait);
                        }
                        classify_response(status, &bytes, request.len())
                    }
                    // A retry meets the same certificate: the whole request fails now.
                    Err(error) if error.kind == TLS_ERROR => ResponseOutcome::RefusedAll(error),
                    Err(error) => ResponseOutcome::RetryAll(error),
                };
                match outcome {
                    ResponseOutcome::Items(outcomes) => {
                        for (&i, outcome) in request.iter().zip(outcomes) {
                            match outcome {
                                ItemOutcome::Indexed => report.indexed += 1,
                                ItemOutcome::Retry(error) => retry.push((i, error)),
                                ItemOutcome::Refused(error) => {
                                    leftovers.refused.push(Failure { item: i, error, attempts: attempts[i] })
                                }
                            }
                        }
                    }
                    ResponseOutcome::TooLarge(_) if request.len() > 1 => {
                        let (first, second) = request.split_at(request.len() / 2);
                        requests.push(second.to_vec());
                        requests.push(first.to_vec());
                    }
                    ResponseOutcome::TooLarge(mut error) => {
                        // One document over the cluster's limit: BULK_MAX_BYTES is above it. Keep
                        // the event whole (the failed invocation keeps it) rather than cut it twice.
                        error.reason = format!(
                            "one document of {} bytes is over the cluster's request size limit; set BULK_MAX_BYTES below that limit ({})",
                            body_bytes,
                            error.reason
                        );
                        let i = request[0];
                        leftovers.failed.push(Failure { item: i, error, attempts: attempts[i] });
                    }
                    ResponseOutcome::RetryAll(error) => retry.extend(request.iter().map(|&i| (i, error.clone()))),
                    ResponseOutcome::RefusedAll(error) => {
                        report.refused_requests += 1;
                        leftovers.failed.extend(request.iter().map(|&i| Failure {
                            item: i,
                            error: error.clone(),
                            attempts: attempts[i],
                        }));
                    }
                }
            }
            if retry.is_empty() {
                break;
            }
            round += 1;
            let pause = self.policy.backoff(round, self.next_random()).max(asked_wait);
            if !asked_wait.is_zero() {
                tracing::info!(
                    retry_after_ms = asked_wait.as_millis() as u64,
                    items = retry.len(),
                    "the cluster asked to wait (Retry-After) before sending again"
                );
            }
            let time_for_another = Instant::now()
                .checked_add(pause + self.policy.min_attempt + self.policy.reserve)
                .is_some_and(|t| t <= deadline);
            if !time_for_another {
                leftovers.failed.extend(retry.into_iter().map(|(i, error)| Failure {
                    item: i,
                    error,
                    attempts: attempts[i],
                }));
                break;
            }
            report.retried += retry.len();
            report.throttled += retry.iter().filter(|(_, error)| error.status == 429).count();
            tokio::time::sleep(pause).await;
            retry.sort_unstable_by_key(|(i, _)| *i);
            pending = retry
                .into_iter()
                .map(|(i, error)| {
                    last_error[i] = Some(error);
                    i
                })
                .collect();
        }
        leftovers
    }
}

impl Sink for OpenSearchSink {
    async fn submit(&self, batch: BulkBatch, deadline: Instant) -> Result<SinkReport, SinkError> {
        let batch = batch.share();
        let report = self.submit_shared(&batch, deadline).await;
        batch.recycle();
        Ok(report)
    }

    fn describe(&self) -> String {
        format!("sent to OpenSearch at {}", self.endpoint)
    }
}

impl OpenSearchSink {
    /// [`Sink::submit`], once the batch's body is shared.
    async fn submit_shared(&self, batch: &SharedBatch, deadline: Instant) -> SinkReport {
        let mut report = SinkReport { documents: batch.len(), ..SinkReport::default() };
        let leftovers = self.deliver(batch, (0..batch.len()).collect(), deadline, &mut report).await;
        for failure in &leftovers.failed {
            report.note_failure(failed_item(batch, failure, "failed"));
        }
        report.failed += leftovers.failed.len();
        report.failed_retryable += leftovers.failed.iter().filter(|f| is_retryable(&f.error)).count();
        if leftovers.refused.is_empty() {
            return report;
        }

        // Dead letters: one item per refused document, sent like any other batch.
        let encoder = Encoder { index_type: self.index_type.as_deref(), omit_ids: self.omit_ids };
        let now = chrono::DateTime::<chrono::Utc>::from(SystemTime::now())
            .to_rfc3339_opts(chrono::SecondsFormat::Millis, true);
        let mut letters = BulkBatch::with_capacity(0, leftovers.refused.len());
        for failure in &leftovers.refused {
            let item = batch.item(failure.item);
            letters.push_encoded(&dead_letter_item(
                &encoder,
                &self.index_prefix,
                item,
                &failure.error,
                failure.attempts,
                &now,
            ));
        }
        let mut dl_report = SinkReport::default();
        let letters = letters.share();
        let dl_leftovers = self.deliver(&letters, (0..letters.len()).collect(), deadline, &mut dl_report).await;
        report.requests += dl_report.requests;
        report.bytes += dl_report.bytes;
        report.refused_requests += dl_report.refused_requests;
        report.dead_lettered += dl_report.indexed;
        let lost: Vec<usize> = dl_leftovers.refused.iter().chain(&dl_leftovers.failed).map(|f| f.item).collect();
        for (n, failure) in leftovers.refused.iter().enumerate() {
            let outcome = if lost.contains(&n) { "failed (dead letter not written)" } else { "dead-lettered" };
            report.note_failure(failed_item(batch, failure, outcome));
        }
        // A dead letter that could not be written: the event must be kept, so retry the invocation.
        report.failed += lost.len();
        report.failed_retryable += lost.len();
        report
    }
}

/// The sink the configuration asks for: OpenSearch when an endpoint is set, else the dry run that
/// writes each `_bulk` body to `writer`.
pub enum Destination<W> {
    DryRun(PrintSink<W>),
    OpenSearch(Box<OpenSearchSink>),
}

impl<W: Write> Destination<W> {
    pub fn from_config(config: &Config, writer: W) -> Result<Self, ClientError> {
        Ok(match &config.opensearch {
            Some(opensearch) => Destination::OpenSearch(Box::new(OpenSearchSink::new(config, opensearch)?)),
            None => Destination::DryRun(PrintSink::new(writer)),
        })
    }

    /// Whether documents are sent (else printed).
    pub fn sends(&self) -> bool {
        matches!(self, Destination::OpenSearch(_))
    }
}

impl<W: Write> Sink for Destination<W> {
    async fn submit(&self, batch: BulkBatch, deadline: Instant) -> Result<SinkReport, SinkError> {
        match self {
            Destination::DryRun(sink) => sink.submit(batch, deadline).await,
            Destination::OpenSearch(sink) => sink.submit(batch, deadline).await,
        }
    }

    fn describe(&self) -> String {
        match self {
            Destination::DryRun(sink) => sink.describe(),
            Destination::OpenSearch(sink) => sink.describe(),
        }
    }
}

fn is_retryable(error: &ItemError) -> bool {
    error.kind != TLS_ERROR && (!(400..500).contains(&error.status) || matches!(error.status, 408 | 429))
}

/// What to fix when a connection failed in its TLS handshake (rustls's words, through reqwest and
/// the `opensearch` crate), or `None` for any other failure. Only handshake failures: a connection
/// that closed later without `close_notify` is a transient failure like any other.
pub fn tls_problem(reason: &str) -> Option<&'static str> {
    if reason.contains("received corrupt message") || reason.contains("InvalidContentType") {
        Some("the endpoint does not speak TLS: use http:// for a plain-HTTP port, or the cluster's HTTPS port")
    } else if reason.contains("invalid peer certificate") {
        Some(
            "the cluster's certificate is not trusted or does not name the host: for a private CA, set SSL_CERT_FILE \
             to a PEM file holding it (the system's store is read otherwise); check that the endpoint's host is \
             the name the certificate was issued for",
        )
    } else if reason.contains("HandshakeFailure") || reason.contains("peer is incompatible") {
        Some("the cluster and this client share no TLS version or cipher suite (TLS 1.2 or 1.3 is needed)")
    } else {
        None
    }
}

fn failed_item(batch: &SharedBatch, failure: &Failure, outcome: &str) -> FailedItem {
    let item = batch.item(failure.item);
    let (index, id) = item_target(item);
    // Without `_id` in the action line (Serverless), the event id is still the document's `@id`.
    let id = id.unwrap_or_else(|| {
        let source_line = item.split(|b| *b == b'\n').nth(1).unwrap_or_default();
        let source: serde_json::Value = serde_json::from_slice(source_line).unwrap_or_default();
        source["@id"].as_str().unwrap_or_default().to_owned()
    });
    FailedItem {
        index,
        id,
        status: failure.error.status,
        error_type: failure.error.kind.clone(),
        reason: failure.error.reason.clone(),
        attempts: failure.attempts,
        outcome: outcome.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_an_exponential_ceiling() {
        let policy =
            RetryPolicy { base: Duration::from_millis(100), cap: Duration::from_secs(1), ..RetryPolicy::default() };
        assert_eq!(policy.backoff(1, u64::MAX), Duration::from_nanos(u64::MAX % 100_000_001));
        for (round, ceiling_ms) in [(1, 100), (2, 200), (3, 400), (4, 800), (5, 1000), (40, 1000)] {
            let ceiling = Duration::from_millis(ceiling_ms);
            assert_eq!(policy.backoff(round, ceiling.as_nanos() as u64), ceiling, "round {round}");
            assert_eq!(policy.backoff(round, ceiling.as_nanos() as u64 + 1), Duration::ZERO, "round {round}");
            for random in [0, 1, 12345, u64::MAX / 3, u64::MAX] {
                assert!(policy.backoff(round, random) <= ceiling);
            }
        }
    }

    #[test]
    fn whole_request_statuses_that_cannot_change_are_not_retryable() {
        let error = |status| ItemError { status, kind: String::new(), reason: String::new() };
        for status in [0, 408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(&error(status)), "{status}");
        }
        for status in [400, 401, 403, 404, 413] {
            assert!(!is_retryable(&error(status)), "{status}");
        }
    }

    #[test]
    fn requests_in_flight_halve_on_a_429_and_climb_back_one_at_a_time() {
        let calm = SinkReport::default();
        let throttled = SinkReport { retried: 3, throttled: 2, ..SinkReport::default() };
        let mut window = InFlight::new(4);
        assert_eq!(window.limit(), 4);
        assert_eq!(window.after(&calm), None, "at the most already");
        assert_eq!(window.after(&throttled), Some(2));
        assert_eq!(window.after(&throttled), Some(1));
        assert_eq!(window.after(&throttled), None, "never below one");
        // Back up: after one calm batch at 1, two at 2, three at 3; never above the most.
        assert_eq!(window.after(&calm), Some(2));
        assert_eq!(window.after(&calm), None);
        assert_eq!(window.after(&calm), Some(3));
        assert_eq!((window.after(&calm), window.after(&calm), window.after(&calm)), (None, None, Some(4)));
        for _ in 0..10 {
            assert_eq!(window.after(&calm), None);
        }
        // Retries for another reason (a 503, a dropped connection) are not the cluster's queue.
        let other = SinkReport { retried: 5, ..SinkReport::default() };
        assert_eq!(window.after(&other), None);
        assert_eq!(InFlight::new(0).limit(), 1);
    }
}
