//! Properties: no input panics (arbitrary text, mutations of real entries), every document
//! serializes to one valid NDJSON line, fingerprints ignore literal values and layout, and events
//! survive the gzip/base64 round trip.

mod common;

use logs_to_opensearch::bulk::Encoder;
use logs_to_opensearch::document::{DocumentBuilder, StreamMeta};
use logs_to_opensearch::event::{self, LogEvent};
use logs_to_opensearch::fingerprint::fingerprint;
use logs_to_opensearch::slowlog;
use logs_to_opensearch::slowlog_file::EntrySplitter;
use proptest::prelude::*;
use serde_json::Value;

fn entries() -> Vec<String> {
    let dir = common::fixture("entries");
    let mut texts: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| String::from_utf8_lossy(&std::fs::read(e.unwrap().path()).unwrap()).into_owned())
        .collect();
    texts.sort();
    texts
}

/// Builds a document and its bulk item; checks the item is two valid JSON lines carrying the message.
fn check_document(message: String) {
    let meta =
        StreamMeta { owner: "1".into(), log_group: "/aws/rds/instance/db/slowquery".into(), log_stream: "db".into() };
    let doc = DocumentBuilder::new("cwl", meta).build(LogEvent {
        id: "1".into(),
        timestamp: 1_795_256_131_000,
        message: message.clone(),
        extracted_fields: None,
    });
    let body = Encoder::default().encode_all([&doc]);
    let text = std::str::from_utf8(&body).unwrap();
    let lines: Vec<&str> = text.split_terminator('\n').collect();
    assert_eq!(lines.len(), 2, "one action line and one source line");
    let source: Value = serde_json::from_str(lines[1]).unwrap();
    assert_eq!(source["@message"], Value::String(message));
    if let Some(q) = doc.slow_query() {
        if let Some(v) = q.query_time {
            assert!(v.is_finite());
        }
    }
}

/// Arbitrary JSON, biased towards the keys of the envelopes we read.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,12}".prop_map(Value::from),
    ];
    let key = prop_oneof![
        Just("awslogs".to_owned()),
        Just("data".to_owned()),
        Just("Records".to_owned()),
        Just("kinesis".to_owned()),
        Just("eventSource".to_owned()),
        Just("requestPayload".to_owned()),
        ".{0,6}",
    ];
    leaf.prop_recursive(4, 32, 4, move |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::vec((key.clone(), inner), 0..4).prop_map(|kv| Value::Object(kv.into_iter().collect())),
        ]
    })
}

/// Random edits of a real entry: delete, insert, duplicate, truncate.
fn mutated_entry() -> impl Strategy<Value = String> {
    let entries = entries();
    (
        0..entries.len(),
        prop::collection::vec((0usize..4, any::<prop::sample::Index>(), any::<prop::sample::Index>(), ".{0,12}"), 1..6),
    )
        .prop_map(move |(which, edits)| {
            let mut text: Vec<char> = entries[which].chars().collect();
            for (kind, a, b, insert) in edits {
                if text.is_empty() {
                    break;
                }
                let (i, j) = (a.index(text.len()), b.index(text.len()));
                let (lo, hi) = (i.min(j), i.max(j));
                match kind {
                    0 => drop(text.drain(lo..hi)),
                    1 => {
                        let at = lo;
                        for (k, c) in insert.chars().enumerate() {
                            text.insert(at + k, c);
                        }
                    }
                    2 => {
                        let copy: Vec<char> = text[lo..hi].to_vec();
                        text.splice(hi..hi, copy);
                    }
                    _ => text.truncate(hi),
                }
            }
            text.into_iter().collect()
        })
}

proptest! {
    #[test]
    fn parsing_arbitrary_text_never_panics(text in any::<String>()) {
        let _ = slowlog::parse(&text);
        let _ = slowlog::entry_time_millis(&text);
        let _ = fingerprint(&text);
        check_document(text);
    }

    #[test]
    fn header_like_text_never_panics(text in "(# (Time|User@Host|Query_time|Schema|Id|Thread_id): ?[ -~]{0,40}\n){0,6}[ -~\n]{0,80}") {
        let _ = slowlog::parse(&text);
        check_document(text);
    }

    #[test]
    fn mutated_real_entries_never_panic_and_stay_indexable(text in mutated_entry()) {
        let _ = fingerprint(&text);
        check_document(text);
    }

    #[test]
    fn splitting_arbitrary_bytes_never_panics_and_keeps_every_line(bytes in prop::collection::vec(any::<u8>(), 0..600)) {
        let entries: Vec<_> = EntrySplitter::new(&bytes[..]).collect::<std::io::Result<_>>().unwrap();
        let kept: String = entries.iter().map(|e| e.text.as_str()).collect();
        let original = String::from_utf8_lossy(&bytes);
        // NUL bytes at a line's start are dropped (a file's hole between entries), nothing else.
        let non_blank = |t: &str| {
            t.lines().map(|l| l.trim_start_matches('\0')).filter(|l| !l.trim().is_empty()).map(str::to_owned).collect::<Vec<_>>()
        };
        prop_assert_eq!(non_blank(&kept), non_blank(&original));
    }

    #[test]
    fn fingerprint_ignores_number_and_string_values(n in any::<i64>(), m in any::<u32>(), s in "[a-zA-Z0-9 _.@-]{0,20}") {
        let base = fingerprint("SELECT * FROM orders WHERE id = 1 AND email = 'x' LIMIT 5");
        let other = fingerprint(&format!("SELECT * FROM orders WHERE id = {n} AND email = '{s}' LIMIT {m}"));
        prop_assert_eq!(other, base);
    }

    #[test]
    fn fingerprint_ignores_layout(which in any::<prop::sample::Index>(), spaces in "[ \t\n]{1,4}") {
        // SQL statements only: `administrator command: X` is matched by its exact prefix, as in pt.
        let queries: Vec<String> = entries()
            .iter()
            .filter_map(|e| slowlog::parse(e)?.query)
            .filter(|q| !q.starts_with("administrator command:"))
            .collect();
        let query = which.get(&queries);
        // Widen every run of spaces; the fingerprint must not move.
        let widened = query.replace(' ', &format!(" {spaces}"));
        prop_assert_eq!(fingerprint(&widened), fingerprint(query), "query: {}", query);
    }

    #[test]
    fn decoding_arbitrary_events_never_panics(event in json_value()) {
        let _ = event::decode(event);
    }

    #[test]
    fn hostile_payload_fields_fail_cleanly_or_index(
        message_type in prop_oneof![Just(Value::from("DATA_MESSAGE")), Just(Value::from("CONTROL_MESSAGE")), json_value()],
        log_group in json_value(),
        id in json_value(),
        timestamp in json_value(),
        message in json_value(),
        extracted in json_value(),
    ) {
        let payload = serde_json::json!({
            "messageType": message_type, "owner": "1", "logGroup": log_group, "logStream": "s",
            "logEvents": [{"id": id, "timestamp": timestamp, "message": message, "extractedFields": extracted}],
        });
        match event::decode(common::awslogs_event(&payload)) {
            Err(e) => prop_assert!(e.to_string().contains("JSON layer"), "{}", e),
            Ok(batches) => {
                for batch in batches {
                    let (encoded, _) = logs_to_opensearch::handler::encode_logs(&Default::default(), batch, |_| {});
                    for line in encoded.body().split(|b| *b == b'\n').filter(|l| !l.is_empty()) {
                        prop_assert!(serde_json::from_slice::<Value>(line).is_ok());
                    }
                }
            }
        }
    }

    #[test]
    fn events_survive_the_gzip_base64_round_trip(messages in prop::collection::vec(any::<String>(), 0..5), group in "/[a-z0-9/_.-]{1,30}") {
        let refs: Vec<&str> = messages.iter().map(String::as_str).collect();
        let payload = common::payload(&group, "s", &refs);
        let batches = event::decode(common::awslogs_event(&payload)).unwrap();
        let decoded: Vec<&str> = batches[0].log_events.iter().map(|e| e.message.as_str()).collect();
        prop_assert_eq!(decoded, refs);
        prop_assert_eq!(&batches[0].log_group, &group);
    }

    #[test]
    fn every_entry_lands_in_exactly_one_digest_class(
        picks in prop::collection::vec((any::<prop::sample::Index>(), any::<bool>()), 1..30),
        mutated in mutated_entry(),
        window in prop::option::of((1_795_200_000_000i64..1_795_300_000_000, 0i64..50_000_000)),
    ) {
        use logs_to_opensearch::digest::{Digest, OrderBy, Selection};
        use std::collections::HashMap;
        // A file of real entries (some mutated), split as `digest` splits it.
        let fixtures = entries();
        let mut file = String::new();
        for (which, mutate) in picks {
            file.push_str(if mutate { &mutated } else { &fixtures[which.index(fixtures.len())] });
            file.push('\n');
        }
        let texts: Vec<String> =
            EntrySplitter::new(file.as_bytes()).map(|e| e.unwrap().text).collect();
        let selection = Selection {
            since_ms: window.map(|(since, _)| since),
            until_ms: window.map(|(since, length)| since + length),
            filter: Vec::new(),
        };
        let mut digest = Digest::new(selection, Default::default());
        for text in &texts {
            digest.add(text);
        }
        let o = &digest.overall;
        // Each entry is counted once: in a class or under exactly one reason it was left out.
        prop_assert_eq!(o.entries, texts.len() as u64);
        prop_assert_eq!(o.queries + o.not_statements + o.outside_window + o.undated + o.filtered_out, o.entries);
        let classes = digest.ranked(OrderBy::Total);
        prop_assert_eq!(classes.iter().map(|c| c.count).sum::<u64>(), o.queries);
        prop_assert_eq!(classes.len(), digest.class_count());
        // Without a window, each statement is in the class of its own Fingerprint_id.
        if window.is_none() {
            let mut expected: HashMap<String, u64> = HashMap::new();
            for text in &texts {
                let q = if logs_to_opensearch::postgres::looks_like(text) {
                    logs_to_opensearch::postgres::parse(text)
                } else {
                    slowlog::parse(text)
                };
                if let Some(id) = q.and_then(|q| q.fingerprint_id) {
                    *expected.entry(id).or_default() += 1;
                }
            }
            let got: HashMap<String, u64> = classes.iter().map(|c| (c.fingerprint_id.clone(), c.count)).collect();
            prop_assert_eq!(got, expected);
        }
    }
}
