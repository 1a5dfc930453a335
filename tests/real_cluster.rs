//! Against the real server: a real OpenSearch (or Elasticsearch) node started by
//! `scripts/real-node up`, named by `LTO_REAL_CLUSTER_URL` (see `tests/common/real.rs`; without
//! it every test here says it was skipped). Everything goes through the project's own code paths:
//! the CLI as a user runs it, or the Lambda handler with the real `OpenSearchSink`; the SigV4 and
//! fault scenarios go through the stand-in's checks put in front of the node
//! ([`StandIn::front`]), so the real cluster decides what is indexed and what is refused.

mod common;

use common::real::{self, Node};
use common::standin::{self, Auth, Fault, StandIn};
use common::{awslogs_event, fixture, payload, read_fixture};
use logs_to_opensearch::config::{Config, RawConfig};
use logs_to_opensearch::delivery::{OpenSearchSink, RetryPolicy};
use logs_to_opensearch::handler::{Handler, Summary};
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Output;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// The CLI sending to the real node (no authentication: the node has no security plugin).
fn cli(node: &Node, prefix: &str) -> std::process::Command {
    let mut command = common::cli();
    command.env("OPENSEARCH_AUTH", "none").env("INDEX_PREFIX", prefix).args([
        "--endpoint",
        &node.url,
        "--retry-for",
        "20",
    ]);
    command
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn run_ok(command: &mut std::process::Command) -> String {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{:?} failed ({:?}): {}",
        command.get_args().collect::<Vec<_>>(),
        out.status,
        stderr(&out)
    );
    stderr(&out)
}

/// The counts of the CLI's summary line: (documents, indexed, dead-lettered, failed).
fn counts(stderr: &str) -> (u64, u64, u64, u64) {
    let line = stderr.lines().find(|l| l.contains(" documents (")).unwrap_or_else(|| panic!("no summary in {stderr}"));
    let before = |marker: &str| -> u64 {
        let head = &line[..line.find(marker).unwrap_or_else(|| panic!("no {marker:?} in {line}"))];
        head.rsplit(|c: char| !c.is_ascii_digit()).find(|w| !w.is_empty()).unwrap().parse().unwrap()
    };
    (before(" documents ("), before(" indexed"), before(" dead-lettered"), before(" failed"))
}

fn setup(node: &Node, prefix: &str) -> String {
    run_ok(cli(node, prefix).args(["setup", "--no-dashboards"]))
}

/// The event fixtures that decode (the broken ones fail before anything is sent).
fn event_fixtures() -> Vec<std::path::PathBuf> {
    let mut files: Vec<_> = std::fs::read_dir(fixture("events"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .filter(|p| !p.file_name().unwrap().to_string_lossy().starts_with("broken-"))
        .collect();
    files.sort();
    files
}

#[test]
fn setup_installs_the_templates_idempotently_and_the_real_mapping_follows_them() {
    let Some(node) = real::node("setup_installs_both_templates…") else { return };
    let _one = node.lock();
    let prefix = "rt-setup";
    node.delete_indices(&format!("{prefix}-*"));
    for _ in 0..2 {
        let said = setup(&node, prefix);
        assert!(
            said.contains(
                "installed index template logs-to-opensearch for [\"rt-setup-*slowquery*\",\"rt-setup-*postgresql*\"]"
            ),
            "{said}"
        );
        assert!(said.contains("installed index template logs-to-opensearch-logs for [\"rt-setup-*\"]"), "{said}");
        assert!(
            said.contains("installed index template logs-to-opensearch-deadletter for [\"rt-setup-_deadletter-*\"]"),
            "{said}"
        );
        if node.has_ism {
            assert!(said.contains("installed ISM policy logs-to-opensearch-retention"), "{said}");
        } else {
            assert!(said.contains("skipped the ISM policy: this cluster has no Index State Management"), "{said}");
        }
    }
    let template = node.ok("GET", "/_index_template/logs-to-opensearch", None);
    assert_eq!(
        template["index_templates"][0]["index_template"]["index_patterns"],
        json!(["rt-setup-*slowquery*", "rt-setup-*postgresql*"])
    );
    let dead = node.ok("GET", "/_index_template/logs-to-opensearch-deadletter", None);
    assert_eq!(dead["index_templates"][0]["index_template"]["priority"], 200);

    for event in ["events/rds-mysql80-slowquery.json", "events/mariadb-slowquery.json", "events/rds-postgresql.json"] {
        let said = run_ok(cli(&node, prefix).args(["replay", fixture(event).to_str().unwrap()]));
        let (documents, indexed, dead_lettered, failed) = counts(&said);
        assert_eq!((indexed, dead_lettered, failed), (documents, 0, 0), "{said}");
    }
    let mysql = "rt-setup-aws-rds-instance-prod-db-1-slowquery-2026.11.21";
    let expected = [
        ("IP", "ip"),
        ("Query_time", "double"),
        ("Lock_time", "double"),
        ("Rows_examined", "long"),
        ("Bytes_sent", "long"),
        ("Time", "date"),
        ("@timestamp", "date"),
        ("Fingerprint_id", "keyword"),
        ("Fingerprint", "text"),
        ("Fingerprint.keyword", "keyword"),
        ("User", "keyword"),
    ];
    for (field, wanted) in expected {
        assert_eq!(node.field_type(mysql, field).as_deref(), Some(wanted), "{field} in {mysql}");
    }
    // A Fingerprint_id as pt-query-digest's report prints it (`0x…`), or in lower case, finds the
    // documents: the template's normalizer.
    node.ok("POST", &format!("/{mysql}/_refresh"), None);
    let any = node.ok(
        "GET",
        &format!("/{mysql}/_search?size=1"),
        Some(&json!({"query": {"exists": {"field": "Fingerprint_id"}}})),
    );
    let id = any["hits"]["hits"][0]["_source"]["Fingerprint_id"].as_str().unwrap().to_owned();
    assert_eq!(id.len(), 32, "{id}");
    let hits = |query: Value| {
        node.ok("GET", &format!("/{mysql}/_count"), Some(&json!({ "query": query })))["count"].as_u64().unwrap()
    };
    let exact = hits(json!({"term": {"Fingerprint_id": id}}));
    assert!(exact >= 1);
    for written in [format!("0x{id}"), format!("0x{}", id.to_ascii_lowercase()), id.to_ascii_lowercase()] {
        assert_eq!(hits(json!({"term": {"Fingerprint_id": written}})), exact, "term {written}");
        let dql = json!({"query_string": {"query": format!("Fingerprint_id:{written}")}});
        assert_eq!(hits(dql), exact, "query_string {written}");
    }
    // PostgreSQL documents are typed by the same template; a JSON plan and a text plan coexist.
    let postgresql = "rt-setup-aws-rds-instance-pg-1-postgresql-2026.11.20";
    let pg_expected = [
        ("Engine", "keyword"),
        ("Duration_ms", "double"),
        ("Query_time", "double"),
        ("Client_port", "integer"),
        ("Pid", "long"),
        ("IP", "ip"),
        ("Time", "date"),
        ("Parameters", "text"),
        ("Plan_text", "text"),
        ("Plan", "object"),
        ("Fingerprint_id", "keyword"),
    ];
    for (field, wanted) in pg_expected {
        assert_eq!(node.field_type(postgresql, field).as_deref(), Some(wanted), "{field} in {postgresql}");
    }
    assert_eq!(node.count(postgresql), 12);
    let mariadb = "rt-setup-aws-rds-instance-maria-1-slowquery-2026.11.21";
    for (field, wanted) in [("Full_scan", "boolean"), ("QC_hit", "boolean"), ("Thread_id", "long")] {
        assert_eq!(node.field_type(mariadb, field).as_deref(), Some(wanted), "{field} in {mariadb}");
    }
    if node.has_ism {
        let explain = node.ok("GET", &format!("/_plugins/_ism/explain/{mysql}"), None);
        assert_eq!(
            explain[mysql]["index.plugins.index_state_management.policy_id"], "logs-to-opensearch-retention",
            "{explain}"
        );
    }
}

#[test]
fn every_fixture_event_and_the_whole_corpus_index_with_nothing_refused_and_replays_do_not_duplicate() {
    let Some(node) = real::node("every_fixture_event_and_the_whole_corpus…") else { return };
    let _one = node.lock();
    let prefix = "rt-all";
    node.delete_indices(&format!("{prefix}-*"));
    setup(&node, prefix);
    let mut inputs: Vec<Vec<String>> =
        event_fixtures().into_iter().map(|p| vec!["replay".to_owned(), p.to_string_lossy().into_owned()]).collect();
    match common::percona_corpus() {
        Some(dir) => {
            let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
            files.sort();
            for file in files {
                let name = file.file_name().unwrap().to_string_lossy().into_owned();
                inputs.push(vec![
                    "slowlog".to_owned(),
                    file.to_string_lossy().into_owned(),
                    "--log-group".to_owned(),
                    "/aws/rds/instance/percona-corpus/slowquery".to_owned(),
                    "--log-stream".to_owned(),
                    name,
                ]);
            }
        }
        None => eprintln!("the Percona corpus is absent (../shared): only the event fixtures are indexed"),
    }
    // The ids the dry run prints: backfill ids come from the entries, so an entry found in two
    // corpus files under one log group is one document (the Percona samples share a few).
    let mut distinct = BTreeSet::new();
    for args in &inputs {
        let out = common::cli().env("INDEX_PREFIX", prefix).args(args).output().unwrap();
        for action in String::from_utf8_lossy(&out.stdout).lines().step_by(2) {
            let action: Value = serde_json::from_str(action).unwrap();
            distinct.insert(action["index"]["_id"].as_str().unwrap().to_owned());
        }
    }
    let mut sent = 0;
    for round in 0..2 {
        for args in &inputs {
            let said = run_ok(cli(&node, prefix).args(args));
            let (documents, indexed, dead_lettered, failed) = counts(&said);
            assert_eq!((indexed, dead_lettered, failed), (documents, 0, 0), "{args:?}: {said}");
            if round == 0 {
                sent += documents;
            }
        }
        let stored = node.count(&format!("{prefix}-*,-{prefix}-_deadletter-*"));
        assert_eq!(stored, distinct.len() as u64, "round {round}: every document once, by its id ({sent} sent)");
        assert_eq!(node.count(&format!("{prefix}-_deadletter-*")), 0);
    }
    assert!(sent > if common::percona_corpus().is_some() { 600 } else { 20 }, "{sent} documents");
}

#[test]
fn a_real_mapping_conflict_goes_to_the_real_dead_letter_index_with_the_clusters_reason() {
    let Some(node) = real::node("a_real_mapping_conflict…") else { return };
    let _one = node.lock();
    let prefix = "rt-conflict";
    node.delete_indices(&format!("{prefix}-*"));
    setup(&node, prefix);
    // An application logging JSON into the slow-query group: a string where the template (and
    // so the real mapping) wants a number.
    let conflicting = r#"{"Query_time": "very slow", "note": "an application logging into the RDS group"}"#;
    let entry = read_fixture("entries/rds-mysql57-select.log");
    let event = awslogs_event(&payload("/aws/rds/instance/prod-db-1/slowquery", "prod-db-1", &[&entry, conflicting]));
    let dir = tempdir("conflict");
    let file = dir.join("event.json");
    std::fs::write(&file, event.to_string()).unwrap();
    let said = run_ok(cli(&node, prefix).args(["replay", file.to_str().unwrap()]));
    assert_eq!(counts(&said), (2, 1, 1, 0), "{said}");

    let ids: Vec<String> = payload("g", "s", &["a", "b"])["logEvents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let index = format!("{prefix}-aws-rds-instance-prod-db-1-slowquery-2026.11.21");
    node.ok("POST", &format!("/{prefix}-*/_refresh"), None);
    assert!(node.document(&index, &ids[0]).is_some(), "the slow query is indexed");
    assert!(node.document(&index, &ids[1]).is_none(), "the conflicting document is not");
    let letter = node
        .document(&format!("{prefix}-_deadletter-2026.11.21"), &ids[1])
        .unwrap_or_else(|| panic!("no dead letter for {}: {said}", ids[1]));
    assert_eq!(letter["@message"], conflicting);
    assert_eq!(letter["original_index"], index.as_str());
    assert_eq!(letter["error_type"], "mapper_parsing_exception", "{letter}");
    assert_eq!(letter["error_status"], 400);
    let reason = letter["error_reason"].as_str().unwrap();
    assert!(
        reason.contains("failed to parse field [Query_time] of type [double]"),
        "the real cluster's words: {reason}"
    );
    assert_eq!(letter["document"]["note"], "an application logging into the RDS group", "parsed fields kept: {letter}");
}

#[test]
fn application_logs_index_under_the_generic_template_with_refused_names_renamed() {
    let Some(node) = real::node("application_logs_index…") else { return };
    let _one = node.lock();
    let prefix = "rt-applog";
    node.delete_indices(&format!("{prefix}-*"));
    setup(&node, prefix);
    let messages = [
        r#"{"IP": "unknown", "Id": "abc-uuid", "Time": "soon", "Errno": "E42", "_id": "x", "_source": {"a": 1}, "": 1, "a..b": 2, ".c": 3}"#,
        r#"{"IP": "10.0.0.1", "Id": 7, "Time": "2026-11-21T10:00:00Z", "Killed": "no"}"#,
    ];
    let event = awslogs_event(&payload("/aws/lambda/orders", "s", &messages));
    let dir = tempdir("applog");
    let file = dir.join("event.json");
    std::fs::write(&file, event.to_string()).unwrap();
    let said = run_ok(cli(&node, prefix).args(["replay", file.to_str().unwrap()]));
    assert_eq!(counts(&said), (2, 2, 0, 0), "{said}");
    let index = format!("{prefix}-aws-lambda-orders-2026.11.21");
    node.ok("POST", &format!("/{prefix}-*/_refresh"), None);
    assert_eq!(node.count(&index), 2);
    assert_eq!(node.field_type(&index, "IP").as_deref(), Some("text"), "not the slow-query template's ip");
    assert_eq!(node.field_type(&index, "Time").as_deref(), Some("text"), "no date guessed from a string");
    assert_eq!(node.field_type(&index, "@timestamp").as_deref(), Some("date"));
}

#[test]
fn action_lines_carry_no_type_and_a_legacy_type_is_refused_by_opensearch_2_as_a_whole() {
    let Some(node) = real::node("action_lines_carry_no_type…") else { return };
    let _one = node.lock();
    let prefix = "rt-type";
    node.delete_indices(&format!("{prefix}-*"));
    let event = fixture("events/rds-mysql80-slowquery.json");
    // The dry run prints exactly the body that is sent: no `_type` anywhere in an action line.
    let out = common::cli().args(["replay", event.to_str().unwrap()]).output().unwrap();
    let body = String::from_utf8(out.stdout).unwrap();
    for action in body.lines().step_by(2) {
        let action: Value = serde_json::from_str(action).unwrap();
        assert!(action["index"].get("_type").is_none(), "{action}");
    }
    assert_eq!(counts(&run_ok(cli(&node, prefix).args(["replay", event.to_str().unwrap()]))).1, 5);

    // INDEX_TYPE (for Elasticsearch 6 domains) on a cluster that refuses it.
    let out = cli(&node, prefix).env("INDEX_TYPE", "_doc").args(["replay", event.to_str().unwrap()]).output().unwrap();
    if node.is_opensearch_2_or_later() {
        assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
        let said = stderr(&out);
        assert!(said.contains("contains an unknown parameter [_type]"), "the cluster's reason is shown: {said}");
        assert!(said.contains("5 failed"), "{said}");
    } else {
        // Elasticsearch 7 and OpenSearch 1 still accept it (deprecated).
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

/// An OpenSearch aggregation for one of a visualization's `visState.aggs` (the way Dashboards
/// turns them into a request), or `None` for `count`, which is the bucket's doc count.
fn aggregation(agg: &Value) -> Option<Value> {
    let params = &agg["params"];
    match agg["type"].as_str().unwrap() {
        "count" => None,
        kind @ ("sum" | "avg" | "max" | "min" | "cardinality") => Some(json!({kind: {"field": params["field"]}})),
        "terms" => Some(json!({"terms": {"field": params["field"], "size": params["size"]}})),
        "date_histogram" => {
            Some(json!({"date_histogram": {"field": params["field"], "fixed_interval": "1h", "min_doc_count": 1}}))
        }
        other => panic!("a visualization uses an aggregation this test does not translate: {other}"),
    }
}

/// Nests bucket aggregations in order, with every metric under the innermost one, as a table or
/// chart asks for them.
fn search_for(aggs: &[Value]) -> Value {
    let (buckets, metrics): (Vec<&Value>, Vec<&Value>) =
        aggs.iter().partition(|a| matches!(a["type"].as_str(), Some("terms" | "date_histogram")));
    let mut inner = serde_json::Map::new();
    for metric in metrics {
        if let Some(a) = aggregation(metric) {
            inner.insert(format!("m{}", metric["id"].as_str().unwrap()), a);
        }
    }
    let mut level = Value::Object(inner);
    for bucket in buckets.iter().rev() {
        let mut a = aggregation(bucket).unwrap();
        if level.as_object().is_some_and(|m| !m.is_empty()) {
            a["aggs"] = level;
        }
        level = json!({format!("b{}", bucket["id"].as_str().unwrap()): a});
    }
    json!({"size": 0, "aggs": level})
}

#[test]
fn every_dashboards_visualization_runs_on_the_real_mapping_and_returns_buckets() {
    let Some(node) = real::node("every_dashboards_visualization…") else { return };
    let _one = node.lock();
    let prefix = "rt-dash";
    node.delete_indices(&format!("{prefix}-*"));
    setup(&node, prefix);
    for event in [
        "rds-mysql80-slowquery.json",
        "mariadb-slowquery.json",
        "aurora-mysql-cluster-slowquery.json",
        "rds-postgresql.json",
    ] {
        run_ok(cli(&node, prefix).args(["replay", fixture(&format!("events/{event}")).to_str().unwrap()]));
    }
    node.count(&format!("{prefix}-*"));
    // Both engines side by side: the engine pie's buckets, and the top-fingerprints table's.
    let engines = node.ok(
        "POST",
        &format!("/{prefix}-*/_search"),
        Some(&json!({"size": 0, "query": {"exists": {"field": "Query_time"}}, "aggs": {"e": {"terms": {"field": "Engine"}}}})),
    );
    let keys: BTreeSet<&str> = engines["aggregations"]["e"]["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["key"].as_str().unwrap())
        .collect();
    assert_eq!(keys, BTreeSet::from(["mysql", "postgresql"]), "{engines}");
    let mut checked = 0;
    for line in logs_to_opensearch::setup::DASHBOARDS.lines().filter(|l| !l.trim().is_empty()) {
        let object: Value = serde_json::from_str(line).unwrap();
        match object["type"].as_str().unwrap() {
            "visualization" => {
                let vis: Value = serde_json::from_str(object["attributes"]["visState"].as_str().unwrap()).unwrap();
                let aggs: Vec<Value> =
                    vis["aggs"].as_array().unwrap().iter().filter(|a| a["enabled"] != false).cloned().collect();
                let search = search_for(&aggs);
                let answer = node.ok("POST", &format!("/{prefix}-*/_search"), Some(&search));
                let first = search["aggs"].as_object().unwrap().keys().next().unwrap().clone();
                let buckets = answer["aggregations"][&first]["buckets"].as_array().cloned().unwrap_or_default();
                assert!(!buckets.is_empty(), "{}: no buckets for {search}: {answer}", object["id"]);
                for bucket in &buckets {
                    for metric in aggs.iter().filter(|a| {
                        aggregation(a).is_some() && !matches!(a["type"].as_str(), Some("terms" | "date_histogram"))
                    }) {
                        let key = format!("m{}", metric["id"].as_str().unwrap());
                        if bucket.get(&key).is_some()
                            || aggs.iter().filter(|a| a["type"] == "terms" || a["type"] == "date_histogram").count() > 1
                        {
                            continue;
                        }
                        panic!("{}: metric {key} missing from {bucket}", object["id"]);
                    }
                }
                checked += 1;
            }
            "search" => {
                let columns = object["attributes"]["columns"].as_array().unwrap();
                let mapping = node.ok(
                    "GET",
                    &format!("/{prefix}-aws-rds-instance-prod-db-1-slowquery-2026.11.21/_mapping"),
                    None,
                );
                let properties = &mapping[format!("{prefix}-aws-rds-instance-prod-db-1-slowquery-2026.11.21")]
                    ["mappings"]["properties"];
                for column in columns {
                    assert!(
                        properties.get(column.as_str().unwrap()).is_some(),
                        "saved search column {column} is not in the real mapping"
                    );
                }
                checked += 1;
            }
            _ => {}
        }
    }
    assert_eq!(checked, 8, "seven visualizations and the saved search");
}

/// The saved-objects index of OpenSearch Dashboards for the four types we export: `dynamic:
/// strict`, as Dashboards creates it (`src/core/server/saved_objects` and each type's mappings),
/// so an attribute a type does not declare is refused as it would be on import.
fn saved_objects_mapping() -> Value {
    let text = json!({"type": "text"});
    let keyword = json!({"type": "keyword"});
    let integer = json!({"type": "integer"});
    let boolean = json!({"type": "boolean"});
    let search_source = json!({"properties": {"searchSourceJSON": text}});
    json!({"mappings": {"dynamic": "strict", "properties": {
        "type": keyword, "namespace": keyword, "namespaces": keyword, "originId": keyword,
        "updated_at": {"type": "date"},
        "migrationVersion": {"dynamic": "true", "type": "object"},
        "references": {"type": "nested", "properties": {"name": keyword, "type": keyword, "id": keyword}},
        "index-pattern": {"dynamic": "false", "properties": {"title": text, "type": keyword}},
        "visualization": {"properties": {
            "description": text, "kibanaSavedObjectMeta": search_source, "savedSearchRefName": {"type": "keyword", "index": false, "doc_values": false},
            "title": text, "uiStateJSON": text, "version": integer, "visState": text}},
        "search": {"properties": {
            "columns": {"type": "keyword", "index": false, "doc_values": false}, "description": text, "hits": {"type": "integer", "index": false, "doc_values": false},
            "kibanaSavedObjectMeta": search_source, "sort": {"type": "keyword", "index": false, "doc_values": false}, "title": text, "version": integer}},
        "dashboard": {"properties": {
            "description": text, "hits": integer, "kibanaSavedObjectMeta": search_source, "optionsJSON": text, "panelsJSON": text,
            "refreshInterval": {"properties": {"display": keyword, "pause": boolean, "section": integer, "value": integer}},
            "timeFrom": keyword, "timeRestore": boolean, "timeTo": keyword, "title": text, "version": integer}}
    }}})
}

#[test]
fn the_dashboards_ndjson_passes_the_import_rules_and_the_strict_saved_objects_mapping() {
    let Some(node) = real::node("the_dashboards_ndjson_passes…") else { return };
    let _one = node.lock();
    let ndjson = logs_to_opensearch::setup::DASHBOARDS;
    // The rules Dashboards' import applies before it writes anything.
    let importable = ["index-pattern", "visualization", "search", "dashboard"];
    let mut seen = BTreeSet::new();
    let objects: Vec<Value> =
        ndjson.lines().filter(|l| !l.trim().is_empty()).map(|l| serde_json::from_str(l).unwrap()).collect();
    assert!(objects.len() <= 10_000);
    for object in &objects {
        let (kind, id) = (object["type"].as_str().unwrap(), object["id"].as_str().unwrap());
        assert!(importable.contains(&kind), "{kind}:{id}: unsupported_type");
        assert!(seen.insert((kind.to_owned(), id.to_owned())), "{kind}:{id} repeated: the whole file is refused");
    }
    for object in &objects {
        for reference in object["references"].as_array().into_iter().flatten() {
            let key = (reference["type"].as_str().unwrap().to_owned(), reference["id"].as_str().unwrap().to_owned());
            assert!(seen.contains(&key), "{}: missing_references {key:?}", object["id"]);
        }
        assert!(
            object.get("migrationVersion").is_none_or(|m| m
                .as_object()
                .is_some_and(|m| m.values().all(|v| v.as_str().is_some_and(|v| v <= "7.10.0")))),
            "{}",
            object["id"]
        );
    }
    // Each object, in the raw form Dashboards stores it, into a strict index of its mappings.
    let index = "rt-saved-objects";
    node.delete_indices(index);
    node.ok("PUT", &format!("/{index}"), Some(&saved_objects_mapping()));
    for object in &objects {
        let kind = object["type"].as_str().unwrap();
        let mut raw =
            json!({"type": kind, "references": object["references"], "updated_at": "2026-11-21T00:00:00.000Z"});
        raw[kind] = object["attributes"].clone();
        let answer = node.call(
            "PUT",
            &format!("/{index}/_doc/{kind}:{}?refresh=true", object["id"].as_str().unwrap()),
            Some(&raw),
        );
        assert!(
            matches!(answer.status, 200 | 201),
            "{kind}:{} refused by the strict mapping: {}",
            object["id"],
            String::from_utf8_lossy(&answer.body)
        );
    }
    assert_eq!(node.count(index), objects.len() as u64);
    // The check itself refuses what Dashboards would: an attribute the type does not declare.
    let stray = json!({"type": "visualization", "visualization": {"title": "x", "colour": "red"}});
    assert_eq!(node.call("PUT", &format!("/{index}/_doc/visualization:stray"), Some(&stray)).status, 400);
}

// ---- SigV4 and faults in front of the real node ------------------------------------------------

const LOG_GROUP: &str = "/aws/rds/instance/prod-db-1/slowquery";

const FAST: RetryPolicy = RetryPolicy {
    base: Duration::from_millis(20),
    cap: Duration::from_millis(200),
    reserve: Duration::from_millis(100),
    min_attempt: Duration::from_millis(50),
};

fn signed_handler(front: &StandIn, prefix: &str, extra: &[(&str, &str)]) -> Handler<OpenSearchSink> {
    let mut vars: HashMap<String, String> = [
        ("OPENSEARCH_ENDPOINT", front.url.as_str()),
        ("AWS_REGION", standin::REGION),
        ("AWS_ACCESS_KEY_ID", standin::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", standin::SECRET_KEY),
        ("AWS_SESSION_TOKEN", "session-token-from-the-lambda-role"),
        ("INDEX_PREFIX", prefix),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config: Config = RawConfig::read(|name| Ok(vars.get(name).cloned())).unwrap().validate().unwrap();
    let sink = OpenSearchSink::new(&config, config.opensearch.as_ref().unwrap()).unwrap().with_policy(FAST);
    Handler::new(Arc::new(config), sink)
}

fn invoke(handler: &Handler<OpenSearchSink>, event: &Value, budget: Duration) -> Summary {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(handler.handle_event(event.clone(), Instant::now() + budget)).unwrap()
}

fn slow_queries() -> [String; 4] {
    [
        read_fixture("entries/rds-mysql57-select.log"),
        read_fixture("entries/mysql80-log-slow-extra.log"),
        read_fixture("entries/aurora-mysql3-hostname.log"),
        read_fixture("entries/mariadb-10-verbose.log"),
    ]
}

#[test]
fn signed_requests_reach_the_real_node_through_the_verifying_front_and_bad_ones_do_not() {
    let Some(node) = real::node("signed_requests_reach_the_real_node…") else { return };
    let _one = node.lock();
    let prefix = "rt-sigv4";
    node.delete_indices(&format!("{prefix}-*"));
    let front = StandIn::front(Auth::SigV4 { service: "es" }, &node.url);
    let entries = slow_queries();
    let refs: Vec<&str> = entries.iter().map(String::as_str).collect();
    let event = awslogs_event(&payload(LOG_GROUP, "prod-db-1", &refs));
    for compression in ["none", "gzip"] {
        let summary = invoke(
            &signed_handler(&front, prefix, &[("OPENSEARCH_COMPRESSION", compression)]),
            &event,
            Duration::from_secs(30),
        );
        assert_eq!((summary.delivery.indexed, summary.delivery.failed), (4, 0), "{compression}: {summary:?}");
    }
    assert_eq!(node.count(&format!("{prefix}-*")), 4, "the second run overwrote the first");
    // Signed for the wrong service: the front refuses it, nothing reaches the node.
    let other = StandIn::front(Auth::SigV4 { service: "aoss" }, &node.url);
    node.delete_indices(&format!("{prefix}-*"));
    let summary = invoke(&signed_handler(&other, prefix, &[]), &event, Duration::from_secs(5));
    assert_eq!(summary.undelivered().unwrap().error_type(), "NonRetryable.Refused");
    assert_eq!(node.count(&format!("{prefix}-*")), 0);
}

#[test]
fn each_whole_request_fault_is_retried_until_the_real_node_has_every_document() {
    let Some(node) = real::node("each_whole_request_fault…") else { return };
    let _one = node.lock();
    let prefix = "rt-faults";
    node.delete_indices(&format!("{prefix}-*"));
    let front = StandIn::front(Auth::SigV4 { service: "es" }, &node.url);
    let handler = signed_handler(&front, prefix, &[("OPENSEARCH_TIMEOUT_SECONDS", "0.5"), ("BULK_MAX_BYTES", "65536")]);
    let entries = slow_queries();
    let messages: Vec<&str> = (0..40).map(|i| entries[i % 4].as_str()).collect();
    let event = awslogs_event(&payload(LOG_GROUP, "prod-db-1", &messages));
    for fault in [
        Fault::Status(429),
        Fault::Status(503),
        Fault::HtmlBadGateway,
        Fault::DropConnection,
        Fault::Slow(Duration::from_millis(1500)),
        Fault::RejectItems(vec![0, 7, 39]),
    ] {
        front.script(fault);
    }
    let summary = invoke(&handler, &event, Duration::from_secs(60));
    assert_eq!(
        (summary.delivery.indexed, summary.delivery.failed, summary.delivery.dead_lettered),
        (40, 0, 0),
        "{summary:?}"
    );
    assert!(summary.delivery.retried >= 40 * 5 + 3, "{summary:?}");
    assert_eq!(node.count(&format!("{prefix}-*")), 40);

    // A 413 (the domain's body limit, answered by the front) halves the request until it fits.
    node.delete_indices(&format!("{prefix}-*"));
    front.set_max_body_bytes(6_000);
    let summary = invoke(&handler, &event, Duration::from_secs(60));
    assert_eq!((summary.delivery.indexed, summary.delivery.failed), (40, 0), "{summary:?}");
    assert!(summary.delivery.requests > 8, "{summary:?}");
    assert_eq!(node.count(&format!("{prefix}-*")), 40);
}

/// Thousands of events through random faults in front of the real node: every event id ends in
/// exactly one of the real index and the real dead-letter index, or was reported failed (and is
/// then delivered by the retried invocation). `_search` by id on the real cluster is the proof.
#[test]
fn accounting_against_the_real_node_nothing_lost_nothing_doubled_under_random_faults() {
    let Some(node) = real::node("accounting_against_the_real_node…") else { return };
    let _one = node.lock();
    let prefix = "rt-accounting";
    node.delete_indices(&format!("{prefix}-*"));
    setup(&node, prefix);
    let front = StandIn::front(Auth::SigV4 { service: "es" }, &node.url);
    let handler = signed_handler(&front, prefix, &[("BULK_MAX_BYTES", "65536")]);
    let mut workload = common::accounting::workload(LOG_GROUP, &slow_queries(), &front, 300);
    workload.run(|event, budget| invoke(&handler, event, budget), Duration::from_millis(500), Duration::from_secs(60));
    let (all_ids, conflicts) = (&workload.all_ids, &workload.conflicts);
    let indexed = node.existing_ids(&format!("{prefix}-*,-{prefix}-_deadletter-*"), all_ids);
    let letters = node.existing_ids(&format!("{prefix}-_deadletter-*"), all_ids);
    let mut lost = Vec::new();
    for id in all_ids {
        match (indexed.get(id), letters.get(id)) {
            (Some(1), None) | (None, Some(1)) => {}
            (None, None) => lost.push(id.clone()),
            other => panic!("{id}: in the index {:?} times, in the dead letters {:?} times", other.0, other.1),
        }
    }
    assert!(lost.is_empty(), "lost on the real node: {lost:?}");
    assert_eq!(indexed.len() + letters.len(), all_ids.len());
    assert_eq!(
        letters.keys().cloned().collect::<BTreeSet<_>>(),
        *conflicts,
        "exactly the conflicting events were dead-lettered"
    );
    assert_eq!(node.count(&format!("{prefix}-*")), all_ids.len() as u64, "nothing extra");
}

// ---- The stand-in agrees with the real node --------------------------------------------------

/// One request to both; (status, error type) of each answer, item by item for `_bulk`.
fn outcome(answer: &common::http::Answer) -> (u16, Vec<String>) {
    let body = answer.json();
    let mut types = Vec::new();
    if let Some(kind) = body["error"]["type"].as_str() {
        types.push(kind.to_owned());
    }
    for item in body["items"].as_array().into_iter().flatten() {
        let (_, result) = item.as_object().unwrap().iter().next().unwrap();
        types.push(result["error"]["type"].as_str().map_or_else(|| result["status"].to_string(), str::to_owned));
    }
    (answer.status, types)
}

#[test]
fn the_stand_in_answers_what_the_real_node_answers() {
    let Some(node) = real::node("the_stand_in_answers…") else { return };
    let _one = node.lock();
    let standin = StandIn::start(Auth::None);
    node.delete_indices("rt-conform-*");
    let doc = |n: u32| {
        format!(
            "{{\"index\":{{\"_index\":\"rt-conform-a\",\"_id\":\"{n}\"}}}}\n{{\"Query_time\":1.5,\"User\":\"app\"}}\n"
        )
    };
    let mut cases: Vec<(&str, String, String, Vec<u8>)> = vec![
        ("a good bulk", "POST".into(), "/_bulk".into(), format!("{}{}", doc(1), doc(2)).into_bytes()),
        ("no final newline", "POST".into(), "/_bulk".into(), doc(3).trim_end().as_bytes().to_vec()),
        (
            "a mapping conflict",
            "POST".into(),
            "/_bulk".into(),
            b"{\"index\":{\"_index\":\"rt-conform-a\",\"_id\":\"4\"}}\n{\"Query_time\":\"slow\"}\n".to_vec(),
        ),
        (
            "field names the cluster refuses",
            "POST".into(),
            "/_bulk".into(),
            b"{\"index\":{\"_index\":\"rt-conform-a\",\"_id\":\"8\"}}\n{\"_id\":\"x\"}\n{\"index\":{\"_index\":\"rt-conform-a\",\"_id\":\"9\"}}\n{\"_source\":{\"a\":1}}\n{\"index\":{\"_index\":\"rt-conform-a\",\"_id\":\"10\"}}\n{\"\":1}\n{\"index\":{\"_index\":\"rt-conform-a\",\"_id\":\"11\"}}\n{\"a..b\":1}\n{\"index\":{\"_index\":\"rt-conform-a\",\"_id\":\"12\"}}\n{\".a\":1}\n".to_vec(),
        ),
        (
            "a bad index name",
            "POST".into(),
            "/_bulk".into(),
            b"{\"index\":{\"_index\":\"rt-Conform-Upper\",\"_id\":\"5\"}}\n{\"a\":1}\n{\"index\":{\"_index\":\"_rt-conform\",\"_id\":\"6\"}}\n{\"a\":1}\n".to_vec(),
        ),
        (
            "a template with an unknown field type",
            "PUT".into(),
            "/_index_template/rt-conform-bad".into(),
            br#"{"index_patterns":["rt-conform-bad-*"],"template":{"mappings":{"properties":{"x":{"type":"flattened_text"}}}}}"#.to_vec(),
        ),
        (
            "a template",
            "PUT".into(),
            "/_index_template/rt-conform-good".into(),
            br#"{"index_patterns":["rt-conform-good-*"],"priority":7}"#.to_vec(),
        ),
        (
            "an overlapping template of the same priority",
            "PUT".into(),
            "/_index_template/rt-conform-overlap".into(),
            br#"{"index_patterns":["rt-conform-good-x-*"],"priority":7}"#.to_vec(),
        ),
        (
            "a template with an unknown key",
            "PUT".into(),
            "/_index_template/rt-conform-bad".into(),
            br#"{"index_patterns":["rt-conform-bad-*"],"colour":"red"}"#.to_vec(),
        ),
    ];
    if node.is_opensearch_2_or_later() {
        cases.push((
            "a _type in an action line",
            "POST".into(),
            "/_bulk".into(),
            b"{\"index\":{\"_index\":\"rt-conform-a\",\"_type\":\"_doc\",\"_id\":\"7\"}}\n{\"a\":1}\n".to_vec(),
        ));
    }
    if node.has_ism {
        let policy = br#"{"policy":{"description":"x","default_state":"hot","states":[{"name":"hot","actions":[],"transitions":[]}]}}"#;
        cases.push(("an ISM policy", "PUT".into(), "/_plugins/_ism/policies/rt-conform".into(), policy.to_vec()));
        cases.push((
            "an ISM policy replaced without seq_no",
            "PUT".into(),
            "/_plugins/_ism/policies/rt-conform".into(),
            policy.to_vec(),
        ));
    }
    let mut differences = BTreeMap::new();
    for (what, method, target, body) in &cases {
        let real = common::http::call(&node.url, method, target, Some("application/json"), body).unwrap();
        let ours = common::http::call(&standin.url, method, target, Some("application/json"), body).unwrap();
        let (real, ours) = (outcome(&real), outcome(&ours));
        if real != ours {
            differences.insert(*what, format!("real {real:?}, stand-in {ours:?}"));
        }
    }
    for template in ["rt-conform-bad", "rt-conform-good", "rt-conform-overlap"] {
        let _ = node.call("DELETE", &format!("/_index_template/{template}"), None);
    }
    let _ = node.call("DELETE", "/_plugins/_ism/policies/rt-conform", None);
    assert!(
        differences.is_empty(),
        "the stand-in differs from {} {}: {differences:#?}",
        node.distribution,
        node.version
    );
}

fn tempdir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lto-real-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A slow-log entry `minutes_ago` before now, for the scheduled digest.
fn entry_ago(now_ms: i64, minutes_ago: i64, query_time: f64, sql: &str) -> String {
    let at = chrono::DateTime::from_timestamp_millis(now_ms - minutes_ago * 60_000).unwrap();
    format!(
        "# Time: {}\n# User@Host: app[app] @  [10.0.0.7]  Id: 42\n# Query_time: {query_time:.6}  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 1000\nuse shop;\n{sql};\n",
        at.format("%Y-%m-%dT%H:%M:%S%.6fZ")
    )
}

#[test]
fn a_scheduled_digest_asks_the_real_node_and_posts_the_message_and_the_chart() {
    let Some(node) = real::node("a_scheduled_digest_asks_the_real_node_and_posts_the_message_and_the_chart") else {
        return;
    };
    let _one = node.lock();
    let prefix = "lto-digest";
    let _ = common::http::call(&node.url, "DELETE", &format!("/{prefix}-*"), None, b"");
    setup(&node, prefix);
    let now_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    // A: three in the window (6 s), one in the window before (2 s), one three days ago: not new.
    // B: one of 10 s, never before: new. C: two of 0.5 s, new too.
    let (a, b, c) = (
        "SELECT * FROM orders WHERE customer_id = 7",
        "SELECT SUM(total) FROM invoices WHERE year = 2026",
        "UPDATE stock SET quantity = 1 WHERE sku = 'x'",
    );
    let log = [
        entry_ago(now_ms, 3 * 24 * 60, 9.0, a),
        entry_ago(now_ms, 90, 2.0, a),
        entry_ago(now_ms, 40, 1.0, a),
        entry_ago(now_ms, 30, 2.0, a),
        entry_ago(now_ms, 20, 3.0, a),
        entry_ago(now_ms, 35, 10.0, b),
        entry_ago(now_ms, 25, 0.5, c),
        entry_ago(now_ms, 15, 0.5, c),
    ]
    .concat();
    let dir = tempdir("digest");
    let file = dir.join("slow.log");
    std::fs::write(&file, log).unwrap();
    let out =
        run_ok(cli(&node, prefix).args(["slowlog", "--log-group", "/aws/rds/instance/db-7/slowquery"]).arg(&file));
    assert_eq!(counts(&out), (8, 8, 0, 0), "{out}");
    common::http::call(&node.url, "POST", &format!("/{prefix}-*/_refresh"), None, b"").unwrap();

    let webhook = common::slack::SlackReceiver::start();
    let api = common::slack::SlackApi::start();
    let chart_file = dir.join("chart.png");
    let out = cli(&node, prefix)
        .args(["digest", "--window", "60", "--post", "--chart"])
        .arg(&chart_file)
        .env("SLACK_WEBHOOK_URL", &webhook.url)
        .env("SLACK_BOT_TOKEN", common::slack::BOT_TOKEN)
        .env("SLACK_CHANNEL_ID", "C0DIGEST01")
        .env("SLACK_API_URL", &api.url)
        .env("DASHBOARDS_URL", "https://dashboards.example.com/_dashboards")
        .output()
        .unwrap();
    let printed = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{printed}{}", stderr(&out));
    assert!(!printed.contains(common::slack::BOT_TOKEN) && !stderr(&out).contains(common::slack::BOT_TOKEN));
    let report: Value = serde_json::from_str(&printed).unwrap();
    assert_eq!((report["statements"].as_u64(), report["classes"].as_u64()), (Some(6), Some(3)), "{report}");
    assert_eq!(report["new"], 2, "{report}");
    assert_eq!((report["message"].as_str(), report["chart"].as_str()), (Some("sent"), Some("sent")), "{report}");

    let messages = webhook.received();
    assert_eq!(messages.len(), 1);
    let sections: Vec<String> = messages[0]["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "section")
        .map(|b| b["text"]["text"].as_str().unwrap().to_owned())
        .collect();
    let fingerprint = |sql: &str| logs_to_opensearch::fingerprint::fingerprint(sql);
    assert!(
        sections[0].contains(&fingerprint(b)) && sections[0].contains("1 calls") && sections[0].contains("*new*"),
        "{}",
        sections[0]
    );
    assert!(sections[1].contains(&fingerprint(a)) && sections[1].contains("3 calls"), "{}", sections[1]);
    assert!(sections[1].contains("total 6.00s") && sections[1].contains("+200% total time"), "{}", sections[1]);
    assert!(sections[1].contains("max 3.00s"), "{}", sections[1]);
    assert!(sections[2].contains(&fingerprint(c)), "{}", sections[2]);
    assert!(sections[3].starts_with("*New slow queries*") && sections[3].contains(": 2"), "{}", sections[3]);
    let button = messages[0]["blocks"][2]["accessory"]["url"].as_str().unwrap();
    assert!(button.starts_with("https://dashboards.example.com/_dashboards/app/discover#/"), "{button}");

    let shared = api.shared();
    assert_eq!(shared.len(), 1);
    assert_eq!(shared[0].channel, "C0DIGEST01");
    assert!(shared[0].filename.ends_with(".png"));
    assert_eq!(std::fs::read(&chart_file).unwrap(), shared[0].bytes, "--chart writes what is uploaded");
    let mut reader = png::Decoder::new(shared[0].bytes.as_slice()).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (960, 540));
    let drawn = |colour: [u8; 3]| pixels.chunks(3).filter(|p| *p == colour).count();
    let palette = logs_to_opensearch::digest::chart::PALETTE;
    assert!((0..3).all(|k| drawn(palette[k]) > 50), "one line per fingerprint");
    assert_eq!(drawn(palette[3]), 0, "three fingerprints, three lines");

    // Slack refusing the token: the chart fails, said without the token; the message still went.
    let out = cli(&node, prefix)
        .args(["digest", "--window", "60", "--post"])
        .env("SLACK_WEBHOOK_URL", &webhook.url)
        .env("SLACK_BOT_TOKEN", "xoxb-0WRONG0-token")
        .env("SLACK_CHANNEL_ID", "C0DIGEST01")
        .env("SLACK_API_URL", &api.url)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let said = format!("{}{}", String::from_utf8_lossy(&out.stdout), stderr(&out));
    assert!(said.contains("files.getUploadURLExternal refused: invalid_auth"), "{said}");
    assert!(!said.contains("0WRONG0") && !said.contains(common::slack::WEBHOOK_SECRET_PART), "{said}");
    assert_eq!(webhook.received().len(), 2);
    assert_eq!(api.shared().len(), 1);

    // The Lambda function on its schedule: the same digest, through the real runtime crate.
    let event = std::fs::read(fixture("scheduled/eventbridge-scheduled-event.json")).unwrap();
    let runtime = common::runtime_api::FakeRuntimeApi::start(vec![("sched-1".into(), event)]);
    let env = [
        ("OPENSEARCH_ENDPOINT", node.url.as_str()),
        ("OPENSEARCH_AUTH", "none"),
        ("INDEX_PREFIX", prefix),
        ("DIGEST_WINDOW_MINUTES", "60"),
        ("SLACK_WEBHOOK_URL", webhook.url.as_str()),
        ("SLACK_BOT_TOKEN", common::slack::BOT_TOKEN),
        ("SLACK_CHANNEL_ID", "C0DIGEST01"),
        ("SLACK_API_URL", api.url.as_str()),
    ];
    let (answers, logs) = common::runtime_api::run_function(&runtime, &env, 1);
    assert_eq!(answers[0].kind, "response", "{:?}", answers[0].body);
    let body = &answers[0].body;
    assert_eq!(
        (body["statements"].as_u64(), body["message"].as_str(), body["chart"].as_str()),
        (Some(6), Some("sent"), Some("sent")),
        "{body}"
    );
    assert_eq!(webhook.received().len(), 3);
    assert_eq!(api.shared().len(), 2);
    assert!(logs.contains("\"DigestSent\":1"), "the metric line: {logs}");
    assert!(!logs.contains(common::slack::BOT_TOKEN) && !logs.contains(common::slack::WEBHOOK_SECRET_PART));
    std::fs::remove_dir_all(dir).unwrap();
}

/// A backfill with four `_bulk` requests in flight against the real node: every entry once (the
/// count and a sum that each entry adds its own number to), across three days' indices; the same
/// file again with one request in flight overwrites, and adds nothing.
#[test]
fn a_backfill_with_four_requests_in_flight_indexes_every_entry_once() {
    let Some(node) = real::node("a_backfill_with_four_requests_in_flight_indexes_every_entry_once") else { return };
    let _one = node.lock();
    let prefix = "rt-inflight";
    node.delete_indices(&format!("{prefix}-*"));
    setup(&node, prefix);
    let entries: u64 = 6_000;
    let day_ms = 24 * 3_600_000;
    let start_ms = 1_796_083_200_000; // 2026-12-01T00:00:00Z
    let log: String = (0..entries)
        .map(|i| {
            let at = chrono::DateTime::from_timestamp_millis(start_ms + (i as i64) * 3 * day_ms / entries as i64).unwrap();
            format!(
                "# Time: {}\n# User@Host: app[app] @  [10.0.0.{}]  Id: {}\n# Query_time: 1.{i:06}  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: {i}\nSET timestamp={};\nSELECT * FROM orders_{} WHERE id = {i};\n",
                at.format("%Y-%m-%dT%H:%M:%S%.6fZ"),
                i % 200,
                1000 + i % 7,
                at.timestamp(),
                i % 13
            )
        })
        .collect();
    let dir = tempdir("inflight");
    let file = dir.join("slow.log");
    std::fs::write(&file, log).unwrap();
    let group = "/aws/rds/instance/db-inflight/slowquery";
    for in_flight in ["4", "1"] {
        let out = run_ok(
            cli(&node, prefix)
                .args(["slowlog", "--log-group", group, "--batch-size", "250", "--requests-in-flight", in_flight])
                .arg(&file),
        );
        assert_eq!(counts(&out), (entries, entries, 0, 0), "{in_flight} in flight: {out}");
        node.ok("POST", &format!("/{prefix}-*/_refresh"), None);
        let pattern = format!("{prefix}-*,-{prefix}-_deadletter-*");
        assert_eq!(node.count(&pattern), entries, "{in_flight} in flight: every entry once");
        let answer = node.ok(
            "POST",
            &format!("/{pattern}/_search"),
            Some(&json!({"size": 0, "aggs": {"rows": {"sum": {"field": "Rows_examined"}}, "days": {"terms": {"field": "_index"}}}})),
        );
        assert_eq!(
            answer["aggregations"]["rows"]["value"].as_f64(),
            Some((entries * (entries - 1) / 2) as f64),
            "{answer}"
        );
        assert_eq!(answer["aggregations"]["days"]["buckets"].as_array().unwrap().len(), 3, "{answer}");
    }
    assert_eq!(node.count(&format!("{prefix}-_deadletter-*")), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
