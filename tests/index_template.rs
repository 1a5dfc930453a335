//! The index template under `index-templates/` agrees with what the extractor emits: every field it
//! maps explicitly receives values of a compatible type, from every fixture and corpus entry, and
//! every contract field is mapped.

mod common;

use common::index_templates_file as read_json;
use common::standin::pattern_matches;
use logs_to_opensearch::document::{DocumentBuilder, StreamMeta};
use logs_to_opensearch::slowlog_file::{EntrySplitter, EventMaker};
use serde_json::{Map, Value};

fn mappings() -> Map<String, Value> {
    common::template_properties()
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
    let mut maker = EventMaker::new("/g", 0);
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
        "object" => value.is_object(),
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

#[test]
fn every_field_the_extractor_emits_is_mapped_explicitly() {
    let mappings = mappings();
    let mut unmapped = std::collections::BTreeSet::new();
    for doc in documents() {
        for field in doc.as_object().unwrap().keys() {
            if !mappings.contains_key(field) {
                unmapped.insert(field.clone());
            }
        }
    }
    assert!(unmapped.is_empty(), "fields the extractor emits but the template leaves to dynamic mapping: {unmapped:?}");
}

#[test]
fn the_typed_template_covers_slow_query_groups_only_and_the_generic_one_the_rest() {
    let slow = read_json("cwl-slowquery.index-template.json");
    let logs = read_json("cwl-logs.index-template.json");
    let dead = read_json("cwl-deadletter.index-template.json");
    let winner = |index: &str| {
        [&slow, &logs, &dead]
            .into_iter()
            .filter(|t| {
                t["index_patterns"].as_array().unwrap().iter().any(|p| pattern_matches(p.as_str().unwrap(), index))
            })
            .max_by_key(|t| t["priority"].as_u64())
            .map(|t| t["_meta"]["description"].as_str().unwrap().to_owned())
    };
    let slow_text = slow["_meta"]["description"].as_str().unwrap();
    let logs_text = logs["_meta"]["description"].as_str().unwrap();
    for index in [
        "cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21",
        "cwl-aws-rds-cluster-aurora-slowquery-1a2b3c4d-2026.11.21",
    ] {
        assert_eq!(winner(index).as_deref(), Some(slow_text), "{index}");
    }
    for index in
        ["cwl-aws-lambda-orders-2026.11.21", "cwl-aws-rds-instance-db-error-2026.11.21", "cwl-myapp-2026.11.21"]
    {
        assert_eq!(winner(index).as_deref(), Some(logs_text), "{index}");
    }
    // The generic template types nothing an application log could contradict.
    let mappings = &logs["template"]["mappings"];
    assert_eq!(
        (mappings["date_detection"].clone(), mappings["numeric_detection"].clone()),
        (false.into(), false.into())
    );
    let typed: Vec<&String> = mappings["properties"].as_object().unwrap().keys().collect();
    assert!(typed.iter().all(|k| k.starts_with('@')), "only meta fields: {typed:?}");
    let priorities: std::collections::BTreeSet<u64> =
        [&slow, &logs, &dead].iter().map(|t| t["priority"].as_u64().unwrap()).collect();
    assert_eq!(priorities.len(), 3, "overlapping composable templates need different priorities");
}

#[test]
fn the_dead_letter_index_has_its_own_safe_mapping() {
    use logs_to_opensearch::bulk::{Encoder, ItemError};
    use logs_to_opensearch::dead_letter::dead_letter_item;
    let main = read_json("cwl-logs.index-template.json");
    let dead = read_json("cwl-deadletter.index-template.json");
    let index = "cwl-_deadletter-2026.11.21";
    let matches =
        |t: &Value| t["index_patterns"].as_array().unwrap().iter().any(|p| pattern_matches(p.as_str().unwrap(), index));
    assert!(matches(&main) && matches(&dead), "both patterns match a dead-letter index");
    assert!(
        dead["priority"].as_u64() > main["priority"].as_u64(),
        "overlapping composable templates need different priorities; the dead-letter one must win"
    );
    assert_eq!(dead["template"]["mappings"]["dynamic"], false, "nothing written there can conflict");

    // Every field of a real dead letter is mapped there, with a compatible type.
    let properties = dead["template"]["mappings"]["properties"].as_object().unwrap();
    let doc = &documents()[0];
    let source = serde_json::to_vec(doc).unwrap();
    let mut item = br#"{"index":{"_index":"cwl-aws-rds-instance-db-slowquery-2026.11.21","_id":"1"}}"#.to_vec();
    item.push(b'\n');
    item.extend_from_slice(&source);
    item.push(b'\n');
    let error = ItemError { status: 400, kind: "mapper_parsing_exception".into(), reason: "failed to parse".into() };
    let letter = dead_letter_item(&Encoder::default(), "cwl", &item, &error, 3, "2026-11-21T10:00:00.000Z");
    let letter: Value = serde_json::from_slice(letter.split(|b| *b == b'\n').nth(1).unwrap()).unwrap();
    for (field, value) in letter.as_object().unwrap() {
        let mapping = properties.get(field).unwrap_or_else(|| panic!("dead-letter field {field} is not mapped"));
        let mapping_type = mapping["type"].as_str().unwrap();
        assert!(compatible(mapping_type, value), "{field} is mapped as {mapping_type} but got {value}");
    }
}

#[test]
fn the_retention_policy_deletes_daily_indices_after_n_days() {
    let policy = read_json("cwl-retention.ism-policy.json");
    let states = policy["policy"]["states"].as_array().unwrap();
    let names: Vec<&str> = states.iter().map(|s| s["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["hot", "delete"]);
    assert_eq!(policy["policy"]["default_state"], "hot");
    assert_eq!(states[0]["transitions"][0]["conditions"]["min_index_age"], "30d");
    assert_eq!(states[1]["actions"][0], serde_json::json!({"delete": {}}));
    assert_eq!(policy["policy"]["ism_template"][0]["index_patterns"][0], "cwl-*");
}
