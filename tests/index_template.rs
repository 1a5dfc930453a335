//! The index template under `index-templates/` agrees with what the extractor emits: every field it
//! maps explicitly receives values of a compatible type, from every fixture and corpus entry, and
//! every contract field is mapped.

mod common;

use logs_to_opensearch::document::{DocumentBuilder, StreamMeta};
use logs_to_opensearch::slowlog_file::{EntrySplitter, EventMaker};
use serde_json::{Map, Value};

fn mappings() -> Map<String, Value> {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/index-templates/cwl-slowquery.index-template.json"
    ))
    .unwrap();
    let template: Value = serde_json::from_str(&text).unwrap();
    template["template"]["mappings"]["properties"].as_object().unwrap().clone()
}

/// Documents from every entry fixture and, where present, the Percona corpus.
fn documents() -> Vec<Value> {
    let mut texts: Vec<Vec<u8>> = std::fs::read_dir(common::fixture("entries"))
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .collect();
    if let Some(dir) = common::percona_corpus() {
        texts.extend(std::fs::read_dir(dir).unwrap().map(|e| std::fs::read(e.unwrap().path()).unwrap()));
    }
    let meta =
        StreamMeta { owner: "1".into(), log_group: "/aws/rds/instance/db/slowquery".into(), log_stream: "db".into() };
    let mut builder = DocumentBuilder::new("cwl", meta);
    let mut maker = EventMaker::new("/g", "s", 0);
    let mut docs = Vec::new();
    for text in texts {
        for entry in EntrySplitter::new(&text[..]) {
            docs.push(serde_json::from_slice(&builder.build(maker.event(entry.unwrap())).source_json()).unwrap());
        }
    }
    docs
}

fn compatible(mapping_type: &str, value: &Value) -> bool {
    match mapping_type {
        "double" => value.is_number(),
        // A float into a long is silently truncated by OpenSearch: only integers may go there.
        "long" => value.is_i64() || value.is_u64(),
        "ip" => value.as_str().is_some_and(|s| s.parse::<std::net::IpAddr>().is_ok()),
        "keyword" | "text" => value.is_string() || value.as_array().is_some_and(|a| a.iter().all(Value::is_string)),
        "date" => value.as_str().is_some_and(|s| s.len() >= 19 && s.as_bytes()[4] == b'-' && s.as_bytes()[10] == b'T'),
        "boolean" => value.is_boolean(),
        other => panic!("unexpected mapping type {other}"),
    }
}

#[test]
fn every_mapped_field_gets_values_of_its_type() {
    let mappings = mappings();
    let docs = documents();
    assert!(docs.len() > 20);
    for doc in &docs {
        for (field, value) in doc.as_object().unwrap() {
            if let Some(mapping) = mappings.get(field) {
                let mapping_type = mapping["type"].as_str().unwrap();
                assert!(compatible(mapping_type, value), "{field} is mapped as {mapping_type} but got {value}");
            }
        }
    }
}

#[test]
fn every_contract_field_is_mapped() {
    let mappings = mappings();
    for field in [
        "@id",
        "@timestamp",
        "@message",
        "@owner",
        "@log_group",
        "@log_stream",
        "@parse_warnings",
        "@truncated",
        "@original_bytes",
        "Time",
        "User@Host",
        "User",
        "Host",
        "IP",
        "Id",
        "Query_time",
        "Lock_time",
        "Rows_sent",
        "Rows_examined",
        "Schema",
        "Query",
        "Query_type",
        "Fingerprint",
        "Fingerprint_id",
        "Start",
        "End",
    ] {
        assert!(mappings.contains_key(field), "{field} is not in the index template");
    }
    assert_eq!(mappings["Query_time"]["type"], "double");
    assert_eq!(mappings["Rows_examined"]["type"], "long", "Rows_examined exceeds 2^31");
    assert_eq!(mappings["IP"]["type"], "ip");
}
