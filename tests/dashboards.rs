//! `index-templates/dashboards.ndjson` (the OpenSearch Dashboards saved objects that `setup`
//! imports) parses as Dashboards reads it, its references resolve, and every field it names is in
//! the index template with a type its use needs (terms and metrics need keyword / numeric / ip).

mod common;

use serde_json::{Map, Value};
use std::collections::BTreeSet;

fn objects() -> Vec<Value> {
    logs_to_opensearch::setup::DASHBOARDS
        .lines()
        .enumerate()
        .map(|(i, line)| serde_json::from_str(line).unwrap_or_else(|e| panic!("line {}: {e}", i + 1)))
        .collect()
}

fn mappings() -> Map<String, Value> {
    common::template_properties()
}

/// The mapping type of `field`, `Fingerprint.keyword` included.
fn field_type(mappings: &Map<String, Value>, field: &str) -> Option<String> {
    if let Some(mapping) = mappings.get(field) {
        return mapping["type"].as_str().map(str::to_owned);
    }
    let (parent, sub) = field.split_once('.')?;
    mappings.get(parent)?["fields"][sub]["type"].as_str().map(str::to_owned)
}

#[test]
fn every_object_has_a_type_an_id_and_resolvable_references() {
    let objects = objects();
    let ids: BTreeSet<(String, String)> = objects
        .iter()
        .map(|o| (o["type"].as_str().unwrap().to_owned(), o["id"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(ids.len(), objects.len(), "ids are unique");
    let kinds: BTreeSet<&str> = objects.iter().map(|o| o["type"].as_str().unwrap()).collect();
    assert_eq!(kinds, BTreeSet::from(["dashboard", "index-pattern", "search", "visualization"]));
    for object in &objects {
        assert!(object["attributes"]["title"].is_string(), "{object}");
        for reference in object["references"].as_array().unwrap() {
            let target = (reference["type"].as_str().unwrap().to_owned(), reference["id"].as_str().unwrap().to_owned());
            assert!(ids.contains(&target), "{} refers to {target:?}, which is not in the file", object["id"]);
        }
    }
    let pattern = objects.iter().find(|o| o["type"] == "index-pattern").unwrap();
    assert_eq!(pattern["attributes"]["title"], "cwl-*");
    assert_eq!(pattern["attributes"]["timeFieldName"], "@timestamp");
    let dashboard = objects.iter().find(|o| o["type"] == "dashboard").unwrap();
    assert_eq!(dashboard["attributes"]["title"], "Slow queries");
    let panels: Vec<Value> = serde_json::from_str(dashboard["attributes"]["panelsJSON"].as_str().unwrap()).unwrap();
    assert_eq!(panels.len(), dashboard["references"].as_array().unwrap().len(), "each panel has its reference");
}

#[test]
fn every_field_named_exists_in_the_template_with_a_usable_type() {
    let mappings = mappings();
    let mut checked = 0;
    for object in objects() {
        let attributes = &object["attributes"];
        if let Some(vis_state) = attributes["visState"].as_str() {
            let vis: Value = serde_json::from_str(vis_state).unwrap();
            for agg in vis["aggs"].as_array().unwrap() {
                let Some(field) = agg["params"]["field"].as_str() else { continue };
                let kind = field_type(&mappings, field)
                    .unwrap_or_else(|| panic!("{}: {field} is not in the index template", object["id"]));
                let usable = match agg["type"].as_str().unwrap() {
                    "terms" => matches!(kind.as_str(), "keyword" | "long" | "double" | "ip" | "boolean"),
                    "sum" | "avg" | "max" | "min" => matches!(kind.as_str(), "long" | "double"),
                    "date_histogram" => kind == "date",
                    other => panic!("{}: unexpected aggregation {other}", object["id"]),
                };
                assert!(usable, "{}: {} on {field}, which is {kind}", object["id"], agg["type"]);
                checked += 1;
            }
        }
        for column in attributes["columns"].as_array().into_iter().flatten() {
            let field = column.as_str().unwrap();
            assert!(field_type(&mappings, field).is_some(), "saved search column {field} is not in the template");
            checked += 1;
        }
        if let Some(source) = attributes["kibanaSavedObjectMeta"]["searchSourceJSON"].as_str() {
            let source: Value = serde_json::from_str(source).unwrap();
            let query = source["query"]["query"].as_str().unwrap_or_default();
            if let Some((field, _)) = query.split_once(':') {
                assert!(field_type(&mappings, field).is_some(), "query field {field} is not in the template");
            }
        }
    }
    assert!(checked > 20, "only {checked} fields checked");
}

#[test]
fn the_alert_discover_button_opens_the_imported_index_pattern() {
    let pattern = objects().into_iter().find(|o| o["type"] == "index-pattern").unwrap();
    let id = pattern["id"].as_str().unwrap();
    let golden = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/expected/slack-rds-mysql80-slow-queries.json"
    ))
    .unwrap();
    assert!(golden.contains(&format!("_a=(index:'{id}',")), "the Discover link names another index pattern");
}
