//! Documents → `_bulk` NDJSON.
//!
//! One `index` action per document, `_index` and `_id` (= event id: a retried batch overwrites,
//! never duplicates), then the document's source; every line ends with `\n`, the last one too
//! (OpenSearch refuses a body without it). No `_type` unless configured for Elasticsearch 6:
//! OpenSearch 2 and Elasticsearch 8 refuse the whole request when an action line has one.
//! JSON escaping is serde_json's, so any message content (quotes, newlines, control characters,
//! NULs, non-ASCII) is safe.
//!
//! A [`BulkBatch`] is one body plus the byte range of each item in it: documents are encoded as
//! soon as they are built and dropped (less memory, warmer caches), and a sender can still cut
//! size-capped requests or rebuild a body from the failed items alone, since `_bulk` answers
//! item by item, in request order.
//!
//! The delivery layer's pure half lives here too: cutting a batch into size-capped requests
//! ([`request_ranges`]), reading a `_bulk` answer into one [`ItemOutcome`] per item
//! ([`classify_response`]), and writing a dead-letter item for a document OpenSearch refused
//! (`dead_letter::dead_letter_item`). Pure: no clock, no network; sending belongs to `delivery`.

use crate::buffers;
use crate::document::Document;
use crate::json::write_str;
use bytes::Bytes;
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::ops::Range;

/// Writes bulk items.
#[derive(Debug, Clone, Copy, Default)]
pub struct Encoder<'a> {
    /// Legacy `_type` (`INDEX_TYPE`).
    pub index_type: Option<&'a str>,
    /// Leave `_id` out of action lines (OpenSearch Serverless time-series collections refuse
    /// it); `@id` stays in the document.
    pub omit_ids: bool,
}

impl Encoder<'_> {
    /// Appends one document's action and source lines to `out`.
    pub fn encode(&self, doc: &Document, out: &mut Vec<u8>) {
        self.action_line(&doc.index, Some(&doc.id), out);
        doc.write_source(out);
        out.push(b'\n');
    }

    /// Appends an `index` action line for `index` (with `_type` when set, and `_id` unless ids are
    /// omitted or there is none), ending in a newline.
    pub fn action_line(&self, index: &str, id: Option<&str>, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"index":{"_index":"#);
        write_str(out, index);
        if let Some(index_type) = self.index_type {
            out.extend_from_slice(br#","_type":"#);
            write_str(out, index_type);
        }
        if let Some(id) = id.filter(|_| !self.omit_ids) {
            out.extend_from_slice(br#","_id":"#);
            write_str(out, id);
        }
        out.extend_from_slice(b"}}\n");
    }

    /// The whole body for `docs`.
    pub fn encode_all<'d>(&self, docs: impl IntoIterator<Item = &'d Document>) -> Vec<u8> {
        let mut out = Vec::new();
        for doc in docs {
            self.encode(doc, &mut out);
        }
        out
    }
}

/// A `_bulk` body and where each item (action line + source line) sits in it: [`BulkBatch`]
/// while it is written, [`SharedBatch`] while it is sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch<B> {
    body: B,
    items: Vec<Range<usize>>,
}

/// A batch being written: documents are appended to its body.
pub type BulkBatch = Batch<Vec<u8>>;

/// A batch being sent: the body is reference-counted, so a request of consecutive items (every
/// request of a first attempt) is a slice of it, and only a retry of scattered items is copied
/// into a body of its own.
pub type SharedBatch = Batch<Bytes>;

impl<B: AsRef<[u8]>> Batch<B> {
    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Item `i`'s two lines, newline-terminated, ready to go into another body.
    pub fn item(&self, i: usize) -> &[u8] {
        &self.body.as_ref()[self.items[i].clone()]
    }
}

impl BulkBatch {
    pub fn with_capacity(bytes: usize, items: usize) -> Self {
        BulkBatch { body: Vec::with_capacity(bytes), items: Vec::with_capacity(items) }
    }

    /// Like [`BulkBatch::with_capacity`], in a body buffer kept from an earlier batch when there is
    /// one ([`buffers::body`]); [`SharedBatch::recycle`] gives it back once sent.
    pub fn reusing(bytes: usize, items: usize) -> Self {
        BulkBatch { body: buffers::body(bytes), items: Vec::with_capacity(items) }
    }

    /// The batch made ready to send: its body shared, so requests are slices of it, not copies.
    pub fn share(self) -> SharedBatch {
        SharedBatch { body: Bytes::from(self.body), items: self.items }
    }

    /// Gives the body buffer back for the next batch ([`buffers::recycle`]).
    pub fn recycle(self) {
        buffers::recycle(self.body);
    }

    /// Encodes `doc` at the end of the body.
    pub fn push(&mut self, encoder: &Encoder<'_>, doc: &Document) {
        let start = self.body.len();
        encoder.encode(doc, &mut self.body);
        self.items.push(start..self.body.len());
    }

    /// The whole NDJSON body.
    pub fn body(&self) -> &[u8] {
        &self.body
    }

    /// Appends an item already encoded (two newline-terminated lines).
    pub fn push_encoded(&mut self, item: &[u8]) {
        let start = self.body.len();
        self.body.extend_from_slice(item);
        self.items.push(start..self.body.len());
    }

    /// Removes the last item.
    pub fn pop(&mut self) {
        if let Some(last) = self.items.pop() {
            self.body.truncate(last.start);
        }
    }

    /// Encodes `doc`; when its item is larger than `max_bytes`, encodes it again with `@message`
    /// and long fields cut ([`Document::truncate`]) until it fits. Returns whether it was cut.
    pub fn push_within(&mut self, encoder: &Encoder<'_>, doc: &mut Document, max_bytes: usize) -> bool {
        self.push(encoder, doc);
        let mut limit = max_bytes / 4;
        let mut truncated = false;
        while self.items.last().is_some_and(|item| item.len() > max_bytes) {
            self.pop();
            doc.truncate(limit);
            truncated = true;
            self.push(encoder, doc);
            if limit == 0 {
                break; // meta fields alone: cannot shrink further (they are bounded well below 64 KiB)
            }
            limit /= 2;
        }
        truncated
    }
}

impl SharedBatch {
    /// The body of a request for `request` (item indices, ascending): a slice of the batch's
    /// body when the items are consecutive, else their lines copied into a new body.
    pub fn request_body(&self, request: &[usize]) -> Bytes {
        let consecutive = request.windows(2).all(|pair| pair[1] == pair[0] + 1);
        match (request.first(), request.last()) {
            (Some(&first), Some(&last)) if consecutive => {
                self.body.slice(self.items[first].start..self.items[last].end)
            }
            _ => {
                let mut body = Vec::with_capacity(request.iter().map(|&i| self.items[i].len()).sum());
                for &i in request {
                    body.extend_from_slice(self.item(i));
                }
                Bytes::from(body)
            }
        }
    }

    /// The body buffer itself, without a copy, when no request still holds a slice of it.
    pub fn into_body(self) -> Option<Vec<u8>> {
        self.body.try_into_mut().ok().map(Vec::from)
    }

    /// Gives the body buffer back for the next batch, when no request still holds a slice of it
    /// (else it is simply freed when the last one is dropped).
    pub fn recycle(self) {
        if let Some(body) = self.into_body() {
            buffers::recycle(body);
        }
    }
}

/// Cuts `items` (given by their sizes, in order) into runs whose total size is at most `max_bytes`;
/// an item larger than that goes alone. Returns index ranges into `sizes`.
pub fn request_ranges(sizes: &[usize], max_bytes: usize) -> Vec<Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut total = 0;
    for (i, &size) in sizes.iter().enumerate() {
        if i > start && total + size > max_bytes {
            ranges.push(start..i);
            start = i;
            total = 0;
        }
        total += size;
    }
    if start < sizes.len() {
        ranges.push(start..sizes.len());
    }
    ranges
}

/// Why an item (or a whole request) failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemError {
    /// HTTP status; 0 when there was no answer (timeout, dropped connection).
    pub status: u16,
    /// OpenSearch's `error.type` (`mapper_parsing_exception`, …) or our own name for what happened.
    pub kind: String,
    pub reason: String,
}

/// What became of one item of a `_bulk` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ItemOutcome {
    Indexed,
    /// 429 or 5xx: may work if sent again.
    Retry(ItemError),
    /// Refused for good (mapping conflicts and other 4xx): goes to the dead-letter index.
    Refused(ItemError),
}

/// What became of a whole `_bulk` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ResponseOutcome {
    /// HTTP 200: one outcome per item, in request order.
    Items(Vec<ItemOutcome>),
    /// 413: the body is over the cluster's limit; send it in smaller pieces.
    TooLarge(ItemError),
    /// 429, 5xx, 408, or an answer that is not a `_bulk` response (a load balancer's HTML page):
    /// send every item again.
    RetryAll(ItemError),
    /// Any other status (403 bad signature or missing permission, 400 malformed request, 404):
    /// sending the same request again cannot help.
    RefusedAll(ItemError),
}

/// The longest error reason kept (OpenSearch's reasons can quote a whole field value).
const MAX_REASON_BYTES: usize = 1024;

#[derive(Deserialize)]
struct RawResponse {
    items: Vec<BTreeMap<String, RawItem>>,
}

#[derive(Deserialize)]
struct RawItem {
    status: u16,
    #[serde(default)]
    error: Option<Value>,
}

/// Reads one `_bulk` answer (status and body) for a request of `items_sent` items.
pub fn classify_response(status: u16, body: &[u8], items_sent: usize) -> ResponseOutcome {
    match status {
        200 => match serde_json::from_slice::<RawResponse>(body) {
            Ok(response) if response.items.len() == items_sent => {
                ResponseOutcome::Items(response.items.into_iter().map(classify_item).collect())
            }
            Ok(response) => ResponseOutcome::RetryAll(ItemError {
                status,
                kind: "invalid_bulk_response".into(),
                reason: format!("the _bulk answer has {} items for {items_sent} sent", response.items.len()),
            }),
            Err(e) => ResponseOutcome::RetryAll(ItemError {
                status,
                kind: "invalid_bulk_response".into(),
                reason: format!("the _bulk answer is not a _bulk response ({e}): {}", snippet(body)),
            }),
        },
        413 => ResponseOutcome::TooLarge(request_error(status, body)),
        408 | 429 | 500..=599 => ResponseOutcome::RetryAll(request_error(status, body)),
        _ => ResponseOutcome::RefusedAll(request_error(status, body)),
    }
}

fn classify_item(mut item: BTreeMap<String, RawItem>) -> ItemOutcome {
    // One key: the action (`index`, `create`, …).
    let Some((_, item)) = item.pop_first() else {
        return ItemOutcome::Retry(ItemError {
            status: 0,
            kind: "invalid_bulk_response".into(),
            reason: "empty item".into(),
        });
    };
    match item.status {
        200 | 201 => ItemOutcome::Indexed,
        status => {
            let (kind, reason) =
                item.error.as_ref().map_or_else(|| (format!("http_{status}"), String::new()), error_parts);
            let error = ItemError { status, kind, reason };
            if (400..500).contains(&status) && status != 408 && status != 429 {
                ItemOutcome::Refused(error)
            } else {
                ItemOutcome::Retry(error)
            }
        }
    }
}

/// `error` of an item or of a whole request: `{"type", "reason", "caused_by": {…}}`, or a string
/// (Elasticsearch 1.x/2.x).
fn error_parts(error: &Value) -> (String, String) {
    match error {
        Value::String(text) => ("error".into(), bounded(text)),
        _ => {
            let kind = error["type"].as_str().unwrap_or("error").to_owned();
            let mut reason = error["reason"].as_str().unwrap_or_default().to_owned();
            if let (Some(cause_type), cause_reason) =
                (error["caused_by"]["type"].as_str(), error["caused_by"]["reason"].as_str())
            {
                reason.push_str(&format!(" (caused by {cause_type}: {})", cause_reason.unwrap_or_default()));
            }
            (kind, bounded(&reason))
        }
    }
}

/// A whole-request error from its body: OpenSearch's `{"error": {…}, "status"}`, Amazon
/// OpenSearch Service's `{"message"}` / `{"Message"}`, or anything else (an HTML page) as text.
fn request_error(status: u16, body: &[u8]) -> ItemError {
    let fallback = |kind: &str| ItemError { status, kind: kind.into(), reason: snippet(body) };
    match serde_json::from_slice::<Value>(body) {
        Ok(json) if json.get("error").is_some() => {
            let (kind, reason) = error_parts(&json["error"]);
            ItemError { status, kind, reason }
        }
        Ok(json) => match json.get("message").or(json.get("Message")).and_then(Value::as_str) {
            Some(message) => ItemError { status, kind: format!("http_{status}"), reason: bounded(message) },
            None => fallback(&format!("http_{status}")),
        },
        Err(_) => fallback(&format!("http_{status}_non_json")),
    }
}

fn bounded(text: &str) -> String {
    let mut text = text.to_owned();
    if text.len() > MAX_REASON_BYTES {
        let mut end = MAX_REASON_BYTES;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        text.truncate(end);
        text.push('…');
    }
    text
}

/// The start of a body, as one line of text.
fn snippet(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(200)]);
    let line: String = text.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    line.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `_index` and `_id` of an encoded item (its action line).
pub fn item_target(item: &[u8]) -> (String, Option<String>) {
    let action_line = item.split(|b| *b == b'\n').next().unwrap_or_default();
    let action: Value = serde_json::from_slice(action_line).unwrap_or_default();
    let meta = action.as_object().and_then(|a| a.values().next()).cloned().unwrap_or_default();
    let index = meta["_index"].as_str().unwrap_or_default().to_owned();
    (index, meta["_id"].as_str().map(str::to_owned))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{DocumentBuilder, StreamMeta};
    use crate::event::LogEvent;

    fn doc(message: &str) -> Document {
        let meta = StreamMeta {
            owner: "1".into(),
            log_group: "/aws/rds/instance/db/slowquery".into(),
            log_stream: "db".into(),
        };
        DocumentBuilder::new("cwl", meta).build(LogEvent {
            id: "3700".into(),
            timestamp: 1_795_255_200_000,
            message: message.into(),
            extracted_fields: None,
        })
    }

    #[test]
    fn action_line_is_exactly_index_with_index_and_id() {
        let body = Encoder::default().encode_all([&doc("x")]);
        let first_line = body.split(|b| *b == b'\n').next().unwrap();
        assert_eq!(
            std::str::from_utf8(first_line).unwrap(),
            r#"{"index":{"_index":"cwl-aws-rds-instance-db-slowquery-2026.11.21","_id":"3700"}}"#
        );
    }

    #[test]
    fn legacy_type_is_added_only_when_configured() {
        let body = Encoder { index_type: Some("_doc"), omit_ids: false }.encode_all([&doc("x")]);
        assert!(body.starts_with(
            br#"{"index":{"_index":"cwl-aws-rds-instance-db-slowquery-2026.11.21","_type":"_doc","_id":"3700"}}"#
        ));
    }

    #[test]
    fn ids_can_be_left_out_for_serverless_time_series_collections() {
        let body = Encoder { index_type: None, omit_ids: true }.encode_all([&doc("x")]);
        let text = std::str::from_utf8(&body).unwrap();
        assert!(
            text.starts_with("{\"index\":{\"_index\":\"cwl-aws-rds-instance-db-slowquery-2026.11.21\"}}\n"),
            "{text}"
        );
        assert!(text.contains("\"@id\":\"3700\""), "the event id stays in the document");
    }

    #[test]
    fn every_line_ends_with_newline_and_pairs_action_with_source() {
        let docs = [doc("a"), doc("b\nc")];
        let body = Encoder::default().encode_all(&docs);
        assert_eq!(body.last(), Some(&b'\n'));
        let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').collect();
        assert_eq!(lines.len(), 5, "4 lines and the empty tail after the final newline");
        assert!(lines[4].is_empty());
    }

    #[test]
    fn batch_knows_where_each_item_is() {
        let docs = [doc("first"), doc("second\nline")];
        let encoder = Encoder::default();
        let mut batch = BulkBatch::with_capacity(0, 0);
        for d in &docs {
            batch.push(&encoder, d);
        }
        assert_eq!(batch.len(), 2);
        assert_eq!(batch.body(), &encoder.encode_all(&docs)[..]);
        assert_eq!([batch.item(0), batch.item(1)].concat(), batch.body());
        let second: Vec<&[u8]> = batch.item(1).split(|b| *b == b'\n').collect();
        assert_eq!(second.len(), 3, "two lines and the final newline");
        assert!(std::str::from_utf8(second[1]).unwrap().contains("second\\nline"));
    }

    #[test]
    fn a_shared_batch_sends_consecutive_items_as_a_slice_and_scattered_ones_as_a_copy() {
        let docs = [doc("first"), doc("second"), doc("third"), doc("fourth")];
        let encoder = Encoder::default();
        let mut batch = BulkBatch::with_capacity(0, 0);
        for d in &docs {
            batch.push(&encoder, d);
        }
        let whole = batch.body().to_vec();
        let shared = batch.share();
        assert_eq!(shared.len(), 4);
        let all = shared.request_body(&[0, 1, 2, 3]);
        assert_eq!(&all[..], &whole[..]);
        assert_eq!(all.as_ptr(), shared.body.as_ptr(), "the whole batch is the body itself, not a copy");
        let middle = shared.request_body(&[1, 2]);
        assert_eq!(&middle[..], &[shared.item(1), shared.item(2)].concat()[..]);
        assert_eq!(middle.as_ptr(), shared.item(1).as_ptr(), "consecutive items are a slice");
        let scattered = shared.request_body(&[0, 2]);
        assert_eq!(&scattered[..], &[shared.item(0), shared.item(2)].concat()[..]);
        assert_eq!(shared.request_body(&[3]).as_ref(), shared.item(3));
        assert!(shared.request_body(&[]).is_empty());
        // While a request's slice is held, the buffer is not taken back; once every slice is
        // dropped, it comes back whole, without a copy.
        let start = shared.body.as_ptr();
        assert_eq!(shared.clone().into_body(), None);
        assert_eq!(&all[..], &whole[..]);
        drop((all, middle));
        let body = shared.into_body().expect("no slice is held any more");
        assert_eq!(body.as_ptr(), start);
        assert_eq!(body, whole);
    }

    #[test]
    fn escapes_any_message_content() {
        let nasty = "quote \" backslash \\ newline \n tab \t nul \0 bell \u{7} emoji 🚀 line-sep \u{2028}";
        let body = Encoder::default().encode_all([&doc(nasty)]);
        let text = std::str::from_utf8(&body).unwrap();
        assert_eq!(text.lines().count(), 2, "the message cannot break the NDJSON framing");
        let source: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(source["@message"], nasty);
    }

    #[test]
    fn an_oversize_document_is_cut_to_fit_and_marked() {
        let mut big = doc(&format!("# Time: 2026-11-21T10:00:00Z\n# Query_time: 2.5  Lock_time: 0.0 Rows_sent: 1  Rows_examined: 1\nSELECT '{}';", "x".repeat(200_000)));
        let mut batch = BulkBatch::with_capacity(0, 0);
        assert!(batch.push_within(&Encoder::default(), &mut big, 65_536));
        assert!(batch.item(0).len() <= 65_536, "{}", batch.item(0).len());
        let source: Value = serde_json::from_slice(batch.item(0).split(|b| *b == b'\n').nth(1).unwrap()).unwrap();
        assert_eq!(source["@truncated"], true);
        assert_eq!(source["@original_bytes"], big.original_bytes.unwrap() as u64);
        assert!(source["@original_bytes"].as_u64().unwrap() > 200_000);
        assert_eq!(source["Query_time"], 2.5, "numbers survive the cut");
        assert!(source["@message"].as_str().unwrap().starts_with("# Time: 2026-11-21T10:00:00Z"));
        assert!(source["@parse_warnings"].to_string().contains("BULK_MAX_BYTES"));

        let mut small = doc("fits");
        assert!(!batch.push_within(&Encoder::default(), &mut small, 65_536));
        assert_eq!(batch.len(), 2);
        assert!(!String::from_utf8_lossy(batch.item(1)).contains("@truncated"));
    }

    #[test]
    fn truncation_keeps_multibyte_characters_whole() {
        let mut big = doc(&"é🚀".repeat(40_000));
        let mut batch = BulkBatch::with_capacity(0, 0);
        assert!(batch.push_within(&Encoder::default(), &mut big, 65_536));
        assert!(std::str::from_utf8(batch.body()).is_ok());
        assert!(batch.item(0).len() <= 65_536);
    }

    #[test]
    fn requests_are_cut_at_the_size_limit_and_a_big_item_goes_alone() {
        assert_eq!(request_ranges(&[40, 40, 40, 40], 100), vec![0..2, 2..4]);
        assert_eq!(request_ranges(&[50, 50, 50], 100), vec![0..2, 2..3]);
        assert_eq!(request_ranges(&[10, 500, 10], 100), vec![0..1, 1..2, 2..3]);
        assert_eq!(request_ranges(&[], 100), Vec::<Range<usize>>::new());
        let sizes: Vec<usize> = (0..1000).map(|i| 1 + i % 97).collect();
        let ranges = request_ranges(&sizes, 1000);
        assert_eq!(ranges.first().unwrap().start, 0);
        assert_eq!(ranges.last().unwrap().end, sizes.len());
        for pair in ranges.windows(2) {
            assert_eq!(pair[0].end, pair[1].start, "contiguous, nothing skipped");
        }
        assert!(ranges.iter().all(|r| sizes[r.clone()].iter().sum::<usize>() <= 1000));
    }

    // Response bodies below follow ../shared/OPENSEARCH-FACTS.md (OpenSearch `_bulk` reference:
    // https://opensearch.org/docs/latest/api-reference/document-apis/bulk/).
    #[test]
    fn reads_a_bulk_answer_item_by_item() {
        let body = br#"{"took":30,"errors":true,"items":[
            {"index":{"_index":"cwl-a","_id":"1","_version":1,"result":"created","_shards":{"total":2,"successful":1,"failed":0},"_seq_no":0,"_primary_term":1,"status":201}},
            {"index":{"_index":"cwl-a","_id":"2","_version":2,"result":"updated","status":200}},
            {"index":{"_index":"cwl-a","_id":"3","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [Query_time] of type [float] in document with id '3'. Preview of field's value: 'slow'","caused_by":{"type":"number_format_exception","reason":"For input string: \"slow\""}}}},
            {"index":{"_index":"cwl-a","_id":"4","status":429,"error":{"type":"es_rejected_execution_exception","reason":"rejected execution of primary operation"}}},
            {"index":{"_index":"cwl-a","_id":"5","status":503,"error":{"type":"unavailable_shards_exception","reason":"primary shard is not active"}}},
            {"create":{"_index":"cwl-a","_id":"6","status":409,"error":{"type":"version_conflict_engine_exception","reason":"[6]: version conflict, document already exists"}}},
            {"index":{"_index":"cwl-a","_id":"7","status":403,"error":{"type":"security_exception","reason":"no permissions for [indices:data/write/bulk[s]]"}}}
        ]}"#;
        let ResponseOutcome::Items(items) = classify_response(200, body, 7) else { panic!() };
        assert_eq!(items[0], ItemOutcome::Indexed);
        assert_eq!(items[1], ItemOutcome::Indexed);
        let ItemOutcome::Refused(conflict) = &items[2] else { panic!("{:?}", items[2]) };
        assert_eq!((conflict.status, conflict.kind.as_str()), (400, "mapper_parsing_exception"));
        assert!(
            conflict.reason.contains("Query_time") && conflict.reason.contains("caused by number_format_exception")
        );
        assert!(
            matches!(&items[3], ItemOutcome::Retry(e) if e.status == 429 && e.kind == "es_rejected_execution_exception")
        );
        assert!(matches!(&items[4], ItemOutcome::Retry(e) if e.status == 503));
        assert!(matches!(&items[5], ItemOutcome::Refused(e) if e.status == 409));
        assert!(matches!(&items[6], ItemOutcome::Refused(e) if e.kind == "security_exception"));
    }

    #[test]
    fn whole_request_answers_are_classified_by_status_and_body() {
        let overloaded = br#"{"error":{"root_cause":[{"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"}],"type":"es_rejected_execution_exception","reason":"rejected execution of coordinating operation"},"status":429}"#;
        assert!(
            matches!(classify_response(429, overloaded, 3), ResponseOutcome::RetryAll(e) if e.kind == "es_rejected_execution_exception")
        );
        let html = b"<html><head><title>502 Bad Gateway</title></head><body>\n<center><h1>502 Bad Gateway</h1></center></body></html>";
        let ResponseOutcome::RetryAll(e) = classify_response(502, html, 3) else { panic!() };
        assert_eq!(e.kind, "http_502_non_json");
        assert!(e.reason.contains("502 Bad Gateway") && !e.reason.contains('\n'));
        assert!(matches!(classify_response(503, b"", 1), ResponseOutcome::RetryAll(_)));
        let too_large = br#"{"Message":"Request size exceeded 10485760 bytes"}"#;
        assert!(
            matches!(classify_response(413, too_large, 2), ResponseOutcome::TooLarge(e) if e.reason == "Request size exceeded 10485760 bytes")
        );
        let bad_signature = br#"{"message":"The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}"#;
        assert!(
            matches!(classify_response(403, bad_signature, 2), ResponseOutcome::RefusedAll(e) if e.status == 403 && e.reason.starts_with("The request signature"))
        );
        let type_refused = br#"{"error":{"root_cause":[{"type":"illegal_argument_exception","reason":"Action/metadata line [1] contains an unknown parameter [_type]"}],"type":"illegal_argument_exception","reason":"Action/metadata line [1] contains an unknown parameter [_type]"},"status":400}"#;
        assert!(
            matches!(classify_response(400, type_refused, 2), ResponseOutcome::RefusedAll(e) if e.reason.contains("[_type]"))
        );
    }

    #[test]
    fn a_200_that_is_not_a_bulk_answer_is_retried_not_trusted() {
        for body in [&b"<html>ok</html>"[..], br#"{"took":1,"errors":false,"items":[]}"#, b"{}"] {
            assert!(
                matches!(classify_response(200, body, 2), ResponseOutcome::RetryAll(e) if e.kind == "invalid_bulk_response"),
                "{body:?}"
            );
        }
    }
}
