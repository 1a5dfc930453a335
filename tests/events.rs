//! Lambda events → CloudWatch Logs batches: every envelope, every broken layer, and agreement with
//! the official `aws_lambda_events` types.

mod common;

use aws_lambda_events::cloudwatch_logs::{LogData, LogEntry, LogsEvent};
use aws_lambda_events::kinesis::KinesisEvent;
use logs_to_opensearch::event::{self, DecodeError, LogsData};
use logs_to_opensearch::text::error_chain;
use serde_json::{json, Value};
use std::io::Read;

fn decode_fixture(name: &str) -> Result<Vec<LogsData>, DecodeError> {
    event::decode_bytes(&std::fs::read(common::fixture(&format!("events/{name}"))).unwrap())
}

/// The batches as JSON, in the shape of their sources, to compare with `events/src/`.
fn as_payload(batch: &LogsData) -> Value {
    json!({
        "messageType": batch.message_type, "owner": batch.owner, "logGroup": batch.log_group,
        "logStream": batch.log_stream, "subscriptionFilters": batch.subscription_filters,
        "logEvents": batch.log_events.iter().map(|e| {
            let mut event = json!({"id": e.id, "timestamp": e.timestamp, "message": e.message});
            if let Some(fields) = &e.extracted_fields {
                event["extractedFields"] = Value::Object(fields.clone());
            }
            event
        }).collect::<Vec<_>>(),
    })
}

#[test]
fn every_event_fixture_decodes_to_its_source() {
    let sources = std::fs::read_dir(common::fixture("events/src")).unwrap();
    let mut checked = 0;
    for entry in sources {
        let name = entry.unwrap().file_name().into_string().unwrap();
        let batches = decode_fixture(&name).unwrap_or_else(|e| panic!("{name}: {e}"));
        let mut expected = common::source_payloads(&name);
        for payload in &mut expected {
            // Fields our type ignores (policyLevel, future fields) are not compared.
            let object = payload.as_object_mut().unwrap();
            object.retain(|k, _| {
                ["messageType", "owner", "logGroup", "logStream", "subscriptionFilters", "logEvents"]
                    .contains(&k.as_str())
            });
        }
        let actual: Vec<Value> = batches.iter().map(as_payload).collect();
        assert_eq!(actual, expected, "{name}: regenerate with python3 tests/fixtures/make_events.py");
        checked += 1;
    }
    assert!(checked >= 9, "only {checked} event fixtures");
}

#[test]
fn decodes_cloudwatch_subscription_event() {
    let batches = decode_fixture("rds-mysql80-slowquery.json").unwrap();
    assert_eq!(batches.len(), 1);
    let batch = &batches[0];
    assert_eq!(batch.log_group, "/aws/rds/instance/prod-db-1/slowquery");
    assert_eq!(batch.log_stream, "prod-db-1");
    assert_eq!(batch.owner, "123456789012");
    assert_eq!(batch.log_events.len(), 5);
    assert!(!batch.is_control_message());
}

#[test]
fn recognises_control_messages() {
    let batches = decode_fixture("control-message.json").unwrap();
    assert!(batches[0].is_control_message());
}

#[test]
fn ignores_unknown_fields_of_account_level_subscriptions() {
    let batches = decode_fixture("account-level-subscription.json").unwrap();
    assert_eq!(batches[0].log_group, "/aws/rds/instance/prod-db-2/slowquery");
    assert_eq!(batches[0].log_events.len(), 1);
}

#[test]
fn decodes_every_kinesis_record_in_order() {
    let batches = decode_fixture("kinesis-cross-account.json").unwrap();
    let groups: Vec<&str> = batches.iter().map(|b| b.log_group.as_str()).collect();
    assert_eq!(groups, ["/aws/rds/instance/prod-db-1/slowquery", "", "/aws/rds/instance/billing-db/slowquery"]);
    assert!(batches[1].is_control_message());
    assert_eq!(batches[2].owner, "444455556666");
}

#[test]
fn decodes_the_event_inside_an_on_failure_destination_record() {
    let batches = decode_fixture("on-failure-destination.json").unwrap();
    assert_eq!(batches.len(), 1);
    assert_eq!(batches[0].log_events.len(), 2);
}

#[test]
fn names_the_layer_that_broke() {
    for (fixture, kind, prefix) in [
        ("broken-base64.json", "Base64", "awslogs.data: base64 layer:"),
        ("broken-gzip.json", "Gzip", "awslogs.data: gzip layer:"),
        ("broken-json.json", "Json", "awslogs.data: JSON layer:"),
    ] {
        let err = decode_fixture(fixture).unwrap_err();
        assert_eq!(err.kind(), kind, "{fixture}: {err:?}");
        let chain = error_chain(&err);
        assert!(chain.starts_with(prefix) && chain.len() > prefix.len() + 3, "{fixture}: {chain}");
        assert_eq!(chain.matches(prefix).count(), 1, "each part once: {chain}");
    }
}

#[test]
fn names_the_kinesis_record_that_broke() {
    let good = common::gzip_base64(common::payload("/g", "s", &["x"]).to_string().as_bytes());
    let event = json!({"Records": [
        {"eventSource": "aws:kinesis", "kinesis": {"data": good, "sequenceNumber": "1"}},
        {"eventSource": "aws:kinesis", "kinesis": {"data": "%%%", "sequenceNumber": "4965"}},
    ]});
    let err = event::decode(event).unwrap_err();
    assert!(err.to_string().starts_with("Records[1].kinesis.data (sequence number 4965): base64 layer"), "{err}");
}

#[test]
fn refuses_records_from_other_sources() {
    let err = event::decode(json!({"Records": [{"eventSource": "aws:sqs", "body": "{}"}]})).unwrap_err();
    assert!(err.to_string().contains("\"aws:sqs\" is not supported"), "{err}");
}

#[test]
fn describes_an_unrecognised_event_by_its_keys_only() {
    let err = event::decode(json!({"detail-type": "x", "secret": "do-not-print-me"})).unwrap_err();
    let message = err.to_string();
    assert!(message.contains("\"detail-type\"") && message.contains("\"secret\""), "{message}");
    assert!(!message.contains("do-not-print-me"), "values never appear: {message}");
    assert!(event::decode(json!([1, 2])).unwrap_err().to_string().contains("found an array"));
    assert!(matches!(event::decode_bytes(b"{nope").unwrap_err(), DecodeError::NotJson(_)));
}

#[test]
fn refuses_a_gzip_bomb_with_a_clear_error() {
    // 65 concatenated gzip members of 1 MiB of spaces each: 65 MiB once decompressed.
    use base64::Engine;
    use flate2::{write::GzEncoder, Compression};
    use std::io::Write;
    let mut member = GzEncoder::new(Vec::new(), Compression::fast());
    member.write_all(&vec![b' '; 1024 * 1024]).unwrap();
    let member = member.finish().unwrap();
    let members = (event::MAX_DECOMPRESSED_BYTES / (1024 * 1024) + 1) as usize;
    let bomb = member.repeat(members);
    let event = json!({"awslogs": {"data": base64::engine::general_purpose::STANDARD.encode(bomb)}});
    let err = event::decode(event).unwrap_err();
    assert!(matches!(err, DecodeError::TooLarge { .. }), "{err:?}");
    assert!(err.to_string().contains("larger than"), "{err}");
}

#[test]
fn decodes_what_aws_lambda_events_serializes() {
    // The official type writes base64 without padding; CloudWatch pads. Both must decode.
    let mut entry = LogEntry::default();
    entry.id = "1".into();
    entry.timestamp = 1_795_256_131_000;
    entry.message = "# Query_time: 1.0\nSELECT 1;".into();
    let mut data = LogData::default();
    data.owner = "123456789012".into();
    data.log_group = "/aws/rds/instance/db/slowquery".into();
    data.log_stream = "db".into();
    data.message_type = "DATA_MESSAGE".into();
    data.subscription_filters = vec!["f".into()];
    data.log_events = vec![entry];
    let mut official = LogsEvent::default();
    official.aws_logs.data = data;

    let batches = event::decode(serde_json::to_value(&official).unwrap()).unwrap();
    assert_eq!(batches[0].log_group, "/aws/rds/instance/db/slowquery");
    assert_eq!(batches[0].log_events[0].message, "# Query_time: 1.0\nSELECT 1;");
}

#[test]
fn agrees_with_aws_lambda_events_on_our_fixtures() {
    let bytes = std::fs::read(common::fixture("events/rds-mysql80-slowquery.json")).unwrap();
    let official: LogsEvent = serde_json::from_slice(&bytes).unwrap();
    let ours = event::decode_bytes(&bytes).unwrap().remove(0);
    let theirs = official.aws_logs.data;
    assert_eq!(
        (&ours.owner, &ours.log_group, &ours.log_stream),
        (&theirs.owner, &theirs.log_group, &theirs.log_stream)
    );
    let ours: Vec<_> = ours.log_events.iter().map(|e| (&e.id, e.timestamp, &e.message)).collect();
    let theirs: Vec<_> = theirs.log_events.iter().map(|e| (&e.id, e.timestamp, &e.message)).collect();
    assert_eq!(ours, theirs);

    // The Kinesis fixture is a valid KinesisEvent, and its records' data is what we decode.
    let bytes = std::fs::read(common::fixture("events/kinesis-cross-account.json")).unwrap();
    let official: KinesisEvent = serde_json::from_slice(&bytes).unwrap();
    let ours = event::decode_bytes(&bytes).unwrap();
    assert_eq!(official.records.len(), ours.len());
    for (record, batch) in official.records.iter().zip(&ours) {
        let mut json = Vec::new();
        flate2::read::GzDecoder::new(&record.kinesis.data.0[..]).read_to_end(&mut json).unwrap();
        let theirs: LogData = serde_json::from_slice(&json).unwrap();
        assert_eq!(theirs.log_group, batch.log_group);
        assert_eq!(theirs.log_events.len(), batch.log_events.len());
    }
}
