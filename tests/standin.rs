//! The OpenSearch stand-in keeps to what a real cluster does: AWS's SigV4 test vector, its 403s,
//! strict `_bulk` parsing, dynamic mapping with OpenSearch's coercions, the response shapes, and
//! the scripted faults. The delivery tests rely on it; these tests keep it honest.

mod common;

use common::standin::{self, Auth, Fault, FieldType, Signing, StandIn};
use serde_json::{json, Value};
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const AMZ_DATE: &str = "20261121T101530Z";

/// One HTTP/1.1 request on a fresh connection; `None` when the connection is dropped.
fn send(
    standin: &StandIn,
    method: &str,
    path: &str,
    headers: &[(&str, String)],
    body: &[u8],
) -> Option<(u16, Value, String)> {
    let address = standin.url.trim_start_matches("http://");
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nhost: {address}\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    // Every client we care about sends a content type; an empty value here omits the header.
    if !headers.iter().any(|(name, _)| name.eq_ignore_ascii_case("content-type")) {
        head.push_str("content-type: application/x-ndjson\r\n");
    }
    for (name, value) in headers.iter().filter(|(_, value)| !value.is_empty()) {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    stream.write_all(head.as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).ok()?;
    if answer.is_empty() {
        return None;
    }
    let text = String::from_utf8_lossy(&answer).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split_whitespace().nth(1).unwrap().parse().unwrap();
    let json = serde_json::from_str(body).unwrap_or(Value::Null);
    Some((status, json, body.to_owned()))
}

/// Headers of a request signed with the stand-in's test credentials.
fn signed(standin: &StandIn, method: &str, path: &str, body: &[u8], service: &str) -> Vec<(&'static str, String)> {
    let host = standin.url.trim_start_matches("http://").to_owned();
    let hash = standin::sha256_hex(body);
    let to_sign = [("host", host.as_str()), ("x-amz-content-sha256", hash.as_str()), ("x-amz-date", AMZ_DATE)];
    let signature = standin::signature(&Signing {
        secret: standin::SECRET_KEY,
        method,
        path,
        query: "",
        headers: &to_sign,
        payload_hash: &hash,
        amz_date: AMZ_DATE,
        region: standin::REGION,
        service,
    });
    let credential = format!("{}/{}/{}/{service}/aws4_request", standin::ACCESS_KEY, &AMZ_DATE[..8], standin::REGION);
    vec![
        ("x-amz-date", AMZ_DATE.to_owned()),
        ("x-amz-content-sha256", hash),
        ("content-type", "application/json".to_owned()),
        ("authorization", format!("AWS4-HMAC-SHA256 Credential={credential}, SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature={signature}")),
    ]
}

fn bulk(standin: &StandIn, body: &str) -> (u16, Value) {
    let (status, json, _) =
        send(standin, "POST", "/_bulk", &[("content-type", "application/x-ndjson".into())], body.as_bytes()).unwrap();
    (status, json)
}

#[test]
fn sigv4_matches_aws_published_test_vector() {
    // AWS Signature Version 4 test suite, "get-vanilla".
    let empty_hash = standin::sha256_hex(b"");
    let signature = standin::signature(&Signing {
        secret: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        method: "GET",
        path: "/",
        query: "",
        headers: &[("host", "example.amazonaws.com"), ("x-amz-date", "20150830T123600Z")],
        payload_hash: &empty_hash,
        amz_date: "20150830T123600Z",
        region: "us-east-1",
        service: "service",
    });
    assert_eq!(signature, "5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

#[test]
fn accepts_a_correctly_signed_request_and_refuses_tampering_like_aws() {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let body = b"{\"index\":{\"_index\":\"cwl-x-2026.11.21\",\"_id\":\"1\"}}\n{\"a\":1}\n";
    let headers = signed(&standin, "POST", "/_bulk", body, "es");
    let (status, json, _) = send(&standin, "POST", "/_bulk", &headers, body).unwrap();
    assert_eq!((status, json["errors"].as_bool()), (200, Some(false)));

    let tampered = b"{\"index\":{\"_index\":\"cwl-x-2026.11.21\",\"_id\":\"1\"}}\n{\"a\":2}\n";
    let (status, json, _) = send(&standin, "POST", "/_bulk", &headers, tampered).unwrap();
    assert_eq!(status, 403);
    assert!(json["message"].as_str().unwrap().contains("x-amz-content-sha256"), "{json}");

    let mut wrong_signature = signed(&standin, "POST", "/_bulk", body, "es");
    wrong_signature[3].1 = wrong_signature[3].1.replace("Signature=", "Signature=0");
    let (status, json, _) = send(&standin, "POST", "/_bulk", &wrong_signature, body).unwrap();
    assert_eq!(status, 403);
    assert!(
        json["message"].as_str().unwrap().starts_with("The request signature we calculated does not match"),
        "{json}"
    );

    let wrong_service = signed(&standin, "POST", "/_bulk", body, "aoss");
    assert_eq!(send(&standin, "POST", "/_bulk", &wrong_service, body).unwrap().0, 403);
    let (status, json, _) = send(&standin, "POST", "/_bulk", &[], body).unwrap();
    assert_eq!(status, 403);
    assert!(json["Message"].as_str().unwrap().contains("not authorized"), "{json}");
    assert_eq!(standin.count("cwl-x-2026.11.21"), 1);
}

#[test]
fn serverless_requires_the_payload_hash_header() {
    let standin = StandIn::start(Auth::SigV4 { service: "aoss" });
    let body = b"{\"index\":{\"_index\":\"logs\"}}\n{\"a\":1}\n";
    let mut headers = signed(&standin, "POST", "/_bulk", body, "aoss");
    assert_eq!(send(&standin, "POST", "/_bulk", &headers, body).unwrap().0, 200);
    headers.remove(1);
    assert_eq!(send(&standin, "POST", "/_bulk", &headers, body).unwrap().0, 403);
}

#[test]
fn refuses_a_body_without_its_final_newline() {
    let standin = StandIn::start(Auth::None);
    let (status, json) = bulk(&standin, "{\"index\":{\"_index\":\"a\"}}\n{\"a\":1}");
    assert_eq!(status, 400);
    assert_eq!(json["error"]["type"], "illegal_argument_exception");
    assert_eq!(json["error"]["reason"], "The bulk request must be terminated by a newline [\\n]");
}

#[test]
fn refuses_type_in_an_action_line_like_opensearch_2() {
    let standin = StandIn::start(Auth::None);
    let (status, json) = bulk(&standin, "{\"index\":{\"_index\":\"a\",\"_id\":\"1\"}}\n{}\n{\"index\":{\"_index\":\"a\",\"_type\":\"_doc\",\"_id\":\"2\"}}\n{}\n");
    assert_eq!(status, 400);
    assert_eq!(json["error"]["reason"], "Action/metadata line [3] contains an unknown parameter [_type]");
    assert_eq!(standin.count("a"), 0, "the whole request is refused");
}

#[test]
fn answers_item_by_item_in_request_order_with_real_shapes() {
    let standin = StandIn::start(Auth::None);
    let body = concat!(
        "{\"index\":{\"_index\":\"good\",\"_id\":\"1\"}}\n{\"n\":1}\n",
        "{\"index\":{\"_index\":\"Bad-Index\",\"_id\":\"2\"}}\n{\"n\":1}\n",
        "{\"index\":{\"_index\":\"good\",\"_id\":\"3\"}}\n{\"n\":\"not a number\"}\n",
        "{\"index\":{\"_index\":\"good\",\"_id\":\"4\"}}\n{\"n\":1,\"n\":2}\n",
        "{\"index\":{\"_index\":\"good\",\"_id\":\"1\"}}\n{\"n\":5}\n",
        "{\"create\":{\"_index\":\"good\",\"_id\":\"1\"}}\n{\"n\":6}\n",
    );
    let (status, json) = bulk(&standin, body);
    assert_eq!(status, 200, "partial failures are still 200");
    assert_eq!(json["errors"], true);
    let items = json["items"].as_array().unwrap();
    let status_of = |i: usize| items[i].as_object().unwrap().values().next().unwrap()["status"].as_u64().unwrap();
    assert_eq!((0..6).map(status_of).collect::<Vec<_>>(), [201, 400, 400, 400, 200, 409]);
    assert_eq!(items[0]["index"]["result"], "created");
    assert_eq!(items[1]["index"]["error"]["type"], "invalid_index_name_exception");
    assert_eq!(items[2]["index"]["error"]["type"], "mapper_parsing_exception");
    assert_eq!(
        items[2]["index"]["error"]["reason"],
        "failed to parse field [n] of type [long] in document with id '3'"
    );
    assert!(items[3]["index"]["error"]["reason"].as_str().unwrap().contains("Duplicate field 'n'"));
    assert_eq!(
        (items[4]["index"]["result"].as_str(), items[4]["index"]["_version"].as_u64()),
        (Some("updated"), Some(2))
    );
    assert_eq!(items[5]["create"]["error"]["type"], "version_conflict_engine_exception");
    assert_eq!(standin.document("good", "1").unwrap(), json!({"n": 5}));
}

#[test]
fn maps_dynamically_first_value_wins_and_coerces_like_opensearch() {
    let standin = StandIn::start(Auth::None);
    let (_, json) = bulk(
        &standin,
        concat!(
            "{\"index\":{\"_index\":\"m\",\"_id\":\"1\"}}\n{\"Query_time\":2,\"IP\":\"10.0.0.1\",\"@timestamp\":\"2026-11-21T10:15:31.402Z\",\"Full_scan\":true,\"o\":{\"k\":1}}\n",
            // Coerced: a float into the long, a numeric string into it, a number into text.
            "{\"index\":{\"_index\":\"m\",\"_id\":\"2\"}}\n{\"Query_time\":0.5,\"IP\":7,\"Full_scan\":\"false\"}\n",
            "{\"index\":{\"_index\":\"m\",\"_id\":\"3\"}}\n{\"Query_time\":\"12\"}\n",
            // Refused: a non-date into a date, a scalar into an object, a word into a boolean.
            "{\"index\":{\"_index\":\"m\",\"_id\":\"4\"}}\n{\"@timestamp\":\"yesterday\"}\n",
            "{\"index\":{\"_index\":\"m\",\"_id\":\"5\"}}\n{\"o\":3}\n",
            "{\"index\":{\"_index\":\"m\",\"_id\":\"6\"}}\n{\"Full_scan\":\"Yes\"}\n",
        ),
    );
    let statuses: Vec<u64> =
        json["items"].as_array().unwrap().iter().map(|i| i["index"]["status"].as_u64().unwrap()).collect();
    assert_eq!(statuses, [201, 201, 201, 400, 400, 400]);
    assert_eq!(standin.mapping("m", "Query_time"), Some(FieldType::Long), "the first value's type wins");
    assert_eq!(standin.mapping("m", "@timestamp"), Some(FieldType::Date));
    assert_eq!(standin.mapping("m", "o.k"), Some(FieldType::Long));
    assert!(json["items"][4]["index"]["error"]["reason"].as_str().unwrap().starts_with("object mapping for [o]"));
}

#[test]
fn scripted_faults_behave_like_the_real_failures() {
    let standin = StandIn::start(Auth::None);
    let two = "{\"index\":{\"_index\":\"f\",\"_id\":\"1\"}}\n{}\n{\"index\":{\"_index\":\"f\",\"_id\":\"2\"}}\n{}\n";

    standin.script(Fault::RejectItems(vec![1]));
    let (status, json) = bulk(&standin, two);
    assert_eq!((status, json["items"][1]["index"]["status"].as_u64()), (200, Some(429)));
    assert_eq!(json["items"][1]["index"]["error"]["type"], "es_rejected_execution_exception");
    assert_eq!(standin.count("f"), 1);

    standin.script(Fault::Status(429));
    let (status, json) = bulk(&standin, two);
    assert_eq!(
        (status, json["error"]["type"].as_str(), json["status"].as_u64()),
        (429, Some("es_rejected_execution_exception"), Some(429))
    );

    standin.script(Fault::Status(503));
    assert_eq!(bulk(&standin, two).0, 503);

    standin.script(Fault::HtmlBadGateway);
    let (status, _, text) = send(&standin, "POST", "/_bulk", &[], two.as_bytes()).unwrap();
    assert_eq!(status, 502);
    assert!(text.starts_with("<html>"));

    standin.script(Fault::DropConnection);
    assert!(send(&standin, "POST", "/_bulk", &[], two.as_bytes()).is_none());

    standin.script(Fault::Slow(Duration::from_millis(300)));
    let started = std::time::Instant::now();
    assert_eq!(bulk(&standin, two).0, 200);
    assert!(started.elapsed() >= Duration::from_millis(300));

    standin.set_max_body_bytes(10);
    let (status, json) = bulk(&standin, two);
    assert_eq!((status, json["Message"].as_str()), (413, Some("Request size exceeded 10 bytes")));
    assert_eq!(standin.count("f"), 2);
}

#[test]
fn refuses_a_bulk_body_without_a_json_content_type_as_opensearch_does() {
    let standin = StandIn::start(Auth::None);
    let body = b"{\"index\":{\"_index\":\"z\",\"_id\":\"1\"}}\n{\"a\":1}\n";
    let (status, json, _) = send(&standin, "POST", "/_bulk", &[("content-type", "text/plain".into())], body).unwrap();
    assert_eq!((status, json["error"].as_str()), (406, Some("Content-Type header [text/plain] is not supported")));
    let (status, json, _) = send(&standin, "POST", "/_bulk", &[("content-type", String::new())], body).unwrap();
    assert_eq!((status, json["error"].as_str()), (406, Some("Content-Type header is missing")));
    let (status, _, _) =
        send(&standin, "POST", "/_bulk", &[("content-type", "application/json; charset=UTF-8".into())], body).unwrap();
    assert_eq!(status, 200);
    assert_eq!(standin.count("z"), 1);
}

#[test]
fn accepts_gzip_bodies() {
    let standin = StandIn::start(Auth::None);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"{\"index\":{\"_index\":\"z\",\"_id\":\"1\"}}\n{\"a\":1}\n").unwrap();
    let body = gz.finish().unwrap();
    let (status, json, _) = send(&standin, "POST", "/_bulk", &[("content-encoding", "gzip".into())], &body).unwrap();
    assert_eq!((status, json["errors"].as_bool()), (200, Some(false)));
    assert_eq!(standin.count("z"), 1);
}

#[test]
fn every_document_we_make_indexes_without_mapping_conflicts() {
    use logs_to_opensearch::{config::Config, event, handler::encode_logs};
    let standin = StandIn::start(Auth::None);
    let mut batches = Vec::new();
    for entry in std::fs::read_dir(common::fixture("events")).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if path.is_file() && !name.starts_with("broken-") {
            batches.extend(event::decode_bytes(&std::fs::read(&path).unwrap()).unwrap());
        }
    }
    // The whole corpus as one log group: shapes from every server side by side in the same indices.
    if let Some(dir) = common::percona_corpus() {
        use logs_to_opensearch::slowlog_file::{EntrySplitter, EventMaker};
        let mut maker = EventMaker::new("/aws/rds/instance/corpus/slowquery", 1_795_256_131_000);
        let mut log_events = Vec::new();
        for file in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(file.unwrap().path()).unwrap();
            log_events.extend(EntrySplitter::new(&bytes[..]).map(|e| maker.event(e.unwrap())));
        }
        batches.push(event::LogsData {
            message_type: "DATA_MESSAGE".into(),
            owner: "1".into(),
            log_group: "/aws/rds/instance/corpus/slowquery".into(),
            log_stream: "corpus".into(),
            subscription_filters: vec![],
            log_events,
        });
    }
    let mut sent = 0;
    for batch in batches.into_iter().filter(|b| !b.is_control_message()) {
        let (encoded, _) = encode_logs(&Config::default(), batch, |_| {});
        sent += encoded.len();
        let (status, json, _) = send(&standin, "POST", "/_bulk", &[], encoded.body()).unwrap();
        assert_eq!(status, 200, "{json}");
        let refused: Vec<&Value> = json["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["index"]["status"].as_u64() != Some(201) && i["index"]["status"].as_u64() != Some(200))
            .collect();
        assert!(refused.is_empty(), "refused: {refused:#?}");
    }
    assert!(sent > 20);
    assert_eq!(
        standin.mapping("cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21", "Query_time"),
        Some(FieldType::Float)
    );
}

#[test]
fn refuses_overlapping_templates_of_one_priority_and_types_new_indices_by_the_winner() {
    let standin = StandIn::start(Auth::None);
    let put = |name: &str, body: Value| {
        let body = body.to_string();
        let path = format!("/_index_template/{name}");
        send(&standin, "PUT", &path, &[("content-type", "application/json".into())], body.as_bytes()).unwrap()
    };
    let broad = json!({"index_patterns": ["logs-*"], "priority": 100,
        "template": {"mappings": {"properties": {"status": {"type": "keyword"}}}}});
    assert_eq!(put("broad", broad).0, 200);
    let same_priority = json!({"index_patterns": ["logs-dead-*"], "priority": 100, "template": {}});
    let (status, json, _) = put("narrow", same_priority);
    assert_eq!((status, json["error"]["type"].as_str()), (400, Some("illegal_argument_exception")));
    let narrow = json!({"index_patterns": ["logs-dead-*"], "priority": 200,
        "template": {"mappings": {"dynamic": false, "properties": {"status": {"type": "long"}}}}});
    assert_eq!(put("narrow", narrow).0, 200);
    let (status, json, _) = put(
        "bad",
        json!({"index_patterns": ["x-*"], "template": {"mappings": {"properties": {"a": {"type": "strng"}}}}}),
    );
    // As the real node answers it (tests/real_cluster.rs compares the two).
    assert_eq!((status, json["error"]["type"].as_str()), (400, Some("illegal_argument_exception")));
    assert_eq!(json["error"]["caused_by"]["caused_by"]["type"], "mapper_parsing_exception");

    let (status, json) = bulk(
        &standin,
        "{\"index\":{\"_index\":\"logs-a\"}}\n{\"status\":500}\n{\"index\":{\"_index\":\"logs-dead-a\"}}\n{\"status\":\"x\",\"other\":1}\n",
    );
    assert_eq!(status, 200);
    assert_eq!(standin.mapping("logs-a", "status"), Some(FieldType::Text), "keyword from the broad template");
    assert_eq!(json["items"][1]["index"]["status"], 400, "the narrow template's long refuses \"x\"");
    let (_, json) =
        bulk(&standin, "{\"index\":{\"_index\":\"logs-dead-b\"}}\n{\"status\":7,\"other\":{\"deep\":true}}\n");
    assert_eq!(json["errors"], false);
    assert_eq!(standin.mapping("logs-dead-b", "other"), None, "dynamic false: unknown fields are not mapped");
}

#[test]
fn an_ism_policy_is_replaced_only_with_its_sequence_number() {
    let standin = StandIn::start(Auth::None);
    let policy =
        json!({"policy": {"default_state": "hot", "states": [{"name": "hot", "actions": [], "transitions": []}]}});
    let headers = [("content-type", "application/json".to_owned())];
    let path = "/_plugins/_ism/policies/p";
    let (status, json, _) = send(&standin, "PUT", path, &headers, policy.to_string().as_bytes()).unwrap();
    assert_eq!(status, 201);
    let seq_no = json["_seq_no"].as_u64().unwrap();
    let (status, _, _) = send(&standin, "PUT", path, &headers, policy.to_string().as_bytes()).unwrap();
    assert_eq!(status, 409, "an existing policy needs if_seq_no and if_primary_term");
    let with_seq = format!("{path}?if_seq_no={seq_no}&if_primary_term=1");
    let (status, _, _) = send(&standin, "PUT", &with_seq, &headers, policy.to_string().as_bytes()).unwrap();
    assert_eq!(status, 200);
    let bad = json!({"policy": {"default_state": "warm", "states": [{"name": "hot"}]}});
    let (status, _, _) =
        send(&standin, "PUT", "/_plugins/_ism/policies/q", &headers, bad.to_string().as_bytes()).unwrap();
    assert_eq!(status, 400);
}

#[test]
fn dashboards_import_wants_the_xsrf_header_and_a_file() {
    let standin = StandIn::start(Auth::None);
    let path = "/_dashboards/api/saved_objects/_import?overwrite=true";
    let body = "--b\r\nContent-Disposition: form-data; name=\"file\"; filename=\"x.ndjson\"\r\n\r\n{\"type\":\"index-pattern\",\"id\":\"p\",\"attributes\":{\"title\":\"cwl-*\"}}\r\n--b--\r\n";
    let form = ("content-type", "multipart/form-data; boundary=b".to_owned());
    let (status, _, _) = send(&standin, "POST", path, std::slice::from_ref(&form), body.as_bytes()).unwrap();
    assert_eq!(status, 400, "no osd-xsrf header");
    let (status, json, _) =
        send(&standin, "POST", path, &[form, ("osd-xsrf", "true".into())], body.as_bytes()).unwrap();
    assert_eq!((status, json["successCount"].as_u64()), (200, Some(1)));
    assert_eq!(standin.saved_objects(), [("index-pattern".to_owned(), "p".to_owned())]);
}
