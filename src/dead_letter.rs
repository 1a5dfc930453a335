//! Dead letters: a document OpenSearch refused for good, or a Kinesis record that did not decode,
//! as an item for the dead-letter index (`<prefix>-_deadletter-YYYY.MM.DD`), with the reason and
//! everything needed to index it again. Pure.

use crate::bulk::{item_target, Encoder, ItemError};
use crate::json::ObjectWriter;
use serde_json::Value;

/// A document OpenSearch refused, as an item for `<prefix>-_deadletter-YYYY.MM.DD` (the day of the
/// event, so a retried invocation overwrites its own dead letter): the original index and id, the
/// raw `@message` as text, the rest of the document under `document` (stored, not indexed), the
/// error and how many attempts were made. Same `_id` as the original
/// (none when the original had none). Its fields are few and always of one type, so the
/// dead-letter index cannot have mapping conflicts of its own.
pub fn dead_letter_item(
    encoder: &Encoder<'_>,
    index_prefix: &str,
    item: &[u8],
    error: &ItemError,
    attempts: u32,
    dead_lettered_at: &str,
) -> Vec<u8> {
    let (original_index, id) = item_target(item);
    let source_line = item.split(|b| *b == b'\n').nth(1).unwrap_or_default();
    let source: Value = serde_json::from_slice(source_line).unwrap_or_default();
    let text = |key: &str| source.get(key).and_then(Value::as_str);
    // The event's day, from @timestamp (`YYYY-MM-DDT…`); the dead-letter time when it is missing.
    let day = text("@timestamp").filter(|t| t.len() >= 10 && t.is_char_boundary(10)).unwrap_or(dead_lettered_at);
    let index =
        crate::index_name::dead_letter_index(index_prefix, &day.get(..10).unwrap_or("1970-01-01").replace('-', "."));

    let mut out = Vec::with_capacity(item.len() + 512);
    let id = id.or_else(|| text("@id").map(str::to_owned));
    encoder.action_line(&index, id.as_deref(), &mut out);
    let mut object = ObjectWriter::start(&mut out);
    if let Some(id) = &id {
        object.str("@id", id);
    }
    if let Some(timestamp) = text("@timestamp") {
        object.str("@timestamp", timestamp);
    }
    // The raw entry; the source line itself when it has none (it always has, for our documents).
    match text("@message") {
        Some(message) => object.str("@message", message),
        None => object.str("@message", &String::from_utf8_lossy(source_line)),
    }
    for key in ["@owner", "@log_group", "@log_stream"] {
        if let Some(value) = text(key) {
            object.str(key, value);
        }
    }
    object.str("@dead_lettered_at", dead_lettered_at);
    // The document as it was sent, but for `@message` (above): its parsed fields are not lost.
    if let Value::Object(mut document) = source {
        document.remove("@message");
        object.value("document", &Value::Object(document));
    }
    object.str("original_index", &original_index);
    object.str("error_type", &error.kind);
    object.str("error_reason", &error.reason);
    object.i64("error_status", i64::from(error.status));
    object.i64("attempts", i64::from(attempts));
    object.end();
    out.push(b'\n');
    out
}

/// A Kinesis record that did not decode, as an item for the dead-letter index of `now`'s day:
/// its `data` as it came (base64) in `@message`, where it sat, and why it did not decode. Its id
/// is the record's sequence number (a retried invocation overwrites it); none without one.
pub fn undecodable_record_item(
    encoder: &Encoder<'_>,
    index_prefix: &str,
    at: &str,
    sequence_number: Option<&str>,
    raw: &str,
    error: &str,
    now: &str,
) -> Vec<u8> {
    let day = now.get(..10).unwrap_or("1970-01-01").replace('-', ".");
    let index = crate::index_name::dead_letter_index(index_prefix, &day);
    let id = sequence_number.map(|seq| format!("kinesis-{seq}"));
    let mut out = Vec::with_capacity(raw.len() + 512);
    encoder.action_line(&index, id.as_deref(), &mut out);
    let mut object = ObjectWriter::start(&mut out);
    if let Some(id) = &id {
        object.str("@id", id);
    }
    object.str("@timestamp", now);
    object.str("@message", raw);
    object.str("@dead_lettered_at", now);
    object.str("original_index", "");
    object.str("error_type", "undecodable_record");
    object.str("error_reason", &format!("{at}: {error}"));
    object.i64("error_status", 0);
    object.i64("attempts", 0);
    object.end();
    out.push(b'\n');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bulk::BulkBatch;
    use crate::document::{Document, DocumentBuilder, StreamMeta};
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
    fn dead_letter_item_keeps_the_raw_message_and_the_error() {
        let original = doc("SELECT \"quoted\"\nFROM t");
        let mut batch = BulkBatch::with_capacity(0, 0);
        batch.push(&Encoder::default(), &original);
        let error = ItemError {
            status: 400,
            kind: "mapper_parsing_exception".into(),
            reason: "failed to parse field [Query_time]".into(),
        };
        let item = dead_letter_item(&Encoder::default(), "cwl", batch.item(0), &error, 2, "2026-11-22T01:02:03.000Z");
        let text = std::str::from_utf8(&item).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(text.ends_with('\n'));
        assert_eq!(
            lines[0], r#"{"index":{"_index":"cwl-_deadletter-2026.11.21","_id":"3700"}}"#,
            "the event's day, the event's id"
        );
        let source: Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(source["@message"], "SELECT \"quoted\"\nFROM t");
        assert_eq!(source["original_index"], "cwl-aws-rds-instance-db-slowquery-2026.11.21");
        assert_eq!(source["error_type"], "mapper_parsing_exception");
        assert_eq!(source["error_status"], 400);
        assert_eq!(source["attempts"], 2);
        assert_eq!(source["@dead_lettered_at"], "2026-11-22T01:02:03.000Z");
        assert_eq!(source["@log_group"], "/aws/rds/instance/db/slowquery");
        assert_eq!(source["@timestamp"], original.timestamp);
        // The document as sent, under `document` (stored, not indexed), so no parsed field is lost.
        let mut sent: Value = serde_json::from_slice(&original.source_json()).unwrap();
        sent.as_object_mut().unwrap().remove("@message");
        assert_eq!(source["document"], sent, "@message is not kept twice");

        let parsed = doc("{\"status\": 500, \"path\": \"/x\"}");
        let mut batch = BulkBatch::with_capacity(0, 0);
        batch.push(&Encoder::default(), &parsed);
        let item = dead_letter_item(&Encoder::default(), "cwl", batch.item(0), &error, 1, "2026-11-22T01:02:03.000Z");
        let source: Value = serde_json::from_str(std::str::from_utf8(&item).unwrap().lines().nth(1).unwrap()).unwrap();
        assert!(source.get("status").is_none(), "no parsed field at the top: they caused the refusal");
        assert_eq!(
            (source["document"]["status"].clone(), source["document"]["path"].clone()),
            (500.into(), "/x".into())
        );
    }
}
