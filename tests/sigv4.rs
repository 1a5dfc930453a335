//! SigV4 with fixed credentials and a pinned clock: the exact headers the real client sends, and
//! a signature equal to the one our independent implementation (checked against AWS's published
//! test vector in `standin.rs`) computes for the request as it arrived.

mod common;

use aws_smithy_async::time::StaticTimeSource;
use common::http::{self, Reply, Request, Response};
use common::standin::{self, Signing};
use logs_to_opensearch::bulk::BulkBatch;
use logs_to_opensearch::config::RawConfig;
use logs_to_opensearch::delivery::{transport, OpenSearchSink};
use logs_to_opensearch::handler::Sink;
use serde_json::json;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// 2026-11-21T10:15:30Z
const PINNED: u64 = 1_795_256_130;
const TOKEN: &str = "IQoJb3JpZ2luX2VjEXAMPLETOKEN";

fn recorded_request(extra: &[(&str, &str)], body_items: &[&[u8]]) -> Request {
    let seen: Arc<Mutex<Vec<Request>>> = Arc::default();
    let record = Arc::clone(&seen);
    let address = http::serve(Arc::new(move |request: Request| {
        record.lock().unwrap().push(request);
        Reply::Now(Response::json(
            200,
            &json!({"took": 1, "errors": false, "items": [{"index": {"_index": "cwl-x", "_id": "1", "status": 201}}]}),
        ))
    }));
    let mut vars: HashMap<String, String> = [
        ("OPENSEARCH_ENDPOINT", format!("http://{address}")),
        ("AWS_REGION", standin::REGION.to_owned()),
        ("AWS_ACCESS_KEY_ID", standin::ACCESS_KEY.to_owned()),
        ("AWS_SECRET_ACCESS_KEY", standin::SECRET_KEY.to_owned()),
        ("AWS_SESSION_TOKEN", TOKEN.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| (k.to_string(), v.to_string())));
    let config = RawConfig::read(|name| Ok(vars.get(name).cloned())).unwrap().validate().unwrap();
    let opensearch = config.opensearch.clone().unwrap();
    let clock = StaticTimeSource::new(SystemTime::UNIX_EPOCH + Duration::from_secs(PINNED));
    let transport = transport(&opensearch, Some(aws_types::sdk_config::SharedTimeSource::new(clock))).unwrap();
    let sink = OpenSearchSink::with_transport(&config, &opensearch, transport);
    let mut batch = BulkBatch::with_capacity(0, 0);
    for item in body_items {
        batch.push_encoded(item);
    }
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let report = runtime.block_on(sink.submit(batch, Instant::now() + Duration::from_secs(10))).unwrap();
    assert_eq!(report.indexed, 1);
    let request = seen.lock().unwrap().pop().unwrap();
    request
}

/// The signature our own implementation computes for `request` as received.
fn expected_signature(request: &Request, service: &str) -> (String, String) {
    let authorization = request.header("authorization").unwrap();
    let signed_names = authorization.split("SignedHeaders=").nth(1).unwrap().split(',').next().unwrap();
    let headers: Vec<(&str, &str)> =
        signed_names.split(';').map(|name| (name, request.header(name).unwrap())).collect();
    let signature = standin::signature(&Signing {
        secret: standin::SECRET_KEY,
        method: &request.method,
        path: &request.path,
        query: &request.query,
        headers: &headers,
        payload_hash: &standin::sha256_hex(&request.body),
        amz_date: "20261121T101530Z",
        region: standin::REGION,
        service,
    });
    (signed_names.to_owned(), signature)
}

const ITEM: &[u8] = b"{\"index\":{\"_index\":\"cwl-x\",\"_id\":\"1\"}}\n{\"@message\":\"SELECT 1\"}\n";

#[test]
fn signs_bulk_requests_with_the_exact_sigv4_headers() {
    let request = recorded_request(&[], &[ITEM]);
    assert_eq!((request.method.as_str(), request.path.as_str()), ("POST", "/_bulk"));
    assert_eq!(request.body, ITEM);
    assert_eq!(request.header("x-amz-date"), Some("20261121T101530Z"));
    assert_eq!(request.header("x-amz-content-sha256"), Some(standin::sha256_hex(ITEM).as_str()));
    assert_eq!(request.header("x-amz-security-token"), Some(TOKEN));
    assert_eq!(request.header("content-type"), Some("application/x-ndjson"));
    let (signed_headers, signature) = expected_signature(&request, "es");
    assert_eq!(signed_headers, "accept;content-type;host;x-amz-content-sha256;x-amz-date;x-amz-security-token");
    assert_eq!(
        request.header("authorization").unwrap(),
        format!(
            "AWS4-HMAC-SHA256 Credential=AKIDSTANDINEXAMPLE/20261121/eu-west-1/es/aws4_request, SignedHeaders={signed_headers}, Signature={signature}"
        )
    );
}

#[test]
fn serverless_and_gzip_sign_the_compressed_bytes_for_aoss() {
    let request = recorded_request(&[("OPENSEARCH_SERVICE", "aoss"), ("OPENSEARCH_COMPRESSION", "gzip")], &[ITEM]);
    assert_eq!(request.header("content-encoding"), Some("gzip"));
    assert_ne!(request.body, ITEM, "the body went compressed");
    assert_eq!(request.header("x-amz-content-sha256"), Some(standin::sha256_hex(&request.body).as_str()));
    let (signed_headers, signature) = expected_signature(&request, "aoss");
    assert!(signed_headers.contains("content-encoding"), "{signed_headers}");
    let authorization = request.header("authorization").unwrap();
    assert!(authorization
        .starts_with("AWS4-HMAC-SHA256 Credential=AKIDSTANDINEXAMPLE/20261121/eu-west-1/aoss/aws4_request, "));
    assert!(authorization.ends_with(&format!("Signature={signature}")), "{authorization}");
}
