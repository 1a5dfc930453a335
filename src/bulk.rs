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
//! Pure: writes into a `Vec<u8>`. Splitting into requests and reading `_bulk` responses belong to
//! the delivery layer.

use crate::document::Document;
use crate::json::write_str;
use std::ops::Range;

/// Writes bulk items.
#[derive(Debug, Clone, Copy, Default)]
pub struct Encoder<'a> {
    /// Legacy `_type` (`INDEX_TYPE`).
    pub index_type: Option<&'a str>,
}

impl Encoder<'_> {
    /// Appends one document's action and source lines to `out`.
    pub fn encode(&self, doc: &Document, out: &mut Vec<u8>) {
        out.extend_from_slice(br#"{"index":{"_index":"#);
        write_str(out, &doc.index);
        if let Some(index_type) = self.index_type {
            out.extend_from_slice(br#","_type":"#);
            write_str(out, index_type);
        }
        out.extend_from_slice(br#","_id":"#);
        write_str(out, &doc.id);
        out.extend_from_slice(b"}}\n");
        doc.write_source(out);
        out.push(b'\n');
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

/// A `_bulk` body and where each item (action line + source line) sits in it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BulkBatch {
    body: Vec<u8>,
    items: Vec<Range<usize>>,
}

impl BulkBatch {
    pub fn with_capacity(bytes: usize, items: usize) -> Self {
        BulkBatch { body: Vec::with_capacity(bytes), items: Vec::with_capacity(items) }
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

    /// Number of items.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Item `i`'s two lines, newline-terminated, ready to go into another body.
    pub fn item(&self, i: usize) -> &[u8] {
        &self.body[self.items[i].clone()]
    }
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
        let body = Encoder { index_type: Some("_doc") }.encode_all([&doc("x")]);
        assert!(body.starts_with(
            br#"{"index":{"_index":"cwl-aws-rds-instance-db-slowquery-2026.11.21","_type":"_doc","_id":"3700"}}"#
        ));
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
    fn escapes_any_message_content() {
        let nasty = "quote \" backslash \\ newline \n tab \t nul \0 bell \u{7} emoji 🚀 line-sep \u{2028}";
        let body = Encoder::default().encode_all([&doc(nasty)]);
        let text = std::str::from_utf8(&body).unwrap();
        assert_eq!(text.lines().count(), 2, "the message cannot break the NDJSON framing");
        let source: serde_json::Value = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
        assert_eq!(source["@message"], nasty);
    }
}
