//! `REDACT_QUERY_LITERALS=true`: no literal and no comment text of a slow query survives in any
//! field of its document (`Query`, `Fingerprint`, `@message`, …), nor in the alert built from it.
//! 100,000 generated queries put secrets in every lexical position: quoted strings (with doubled
//! quotes and backslash escapes, `'a\\'` among them), numbers, hex literals, `X'…'`, comments of
//! all three kinds, and unterminated strings and comments at the end.

use logs_to_opensearch::alert::{slack, Collector, Rules, SlowQueryRule};
use logs_to_opensearch::document::{DocumentBuilder, StreamMeta};
use logs_to_opensearch::event::LogEvent;
use logs_to_opensearch::redact::Patterns;
use proptest::prelude::*;

/// A secret and where it sits.
#[derive(Debug, Clone)]
enum Piece {
    Single(String),
    Double(String),
    /// `'S\\'`: the string ends with an escaped backslash.
    EscapedBackslashAtEnd(String),
    /// `'it''s S'` and `'S \' more'`.
    Quoted(String),
    Number(u64),
    Decimal(u64, u32),
    Hex(String),
    HexString(String),
    Block(String),
    DashDash(String),
    Hash(String),
}

/// Forms that run to the end of the text.
#[derive(Debug, Clone)]
enum Tail {
    None,
    OpenSingle(String),
    OpenDouble(String),
    OpenBlock(String),
}

fn secret() -> impl Strategy<Value = String> {
    "[A-Za-z0-9_=@.+-]{10,16}".prop_map(|s| format!("zq{s}"))
}

fn piece() -> impl Strategy<Value = Piece> {
    prop_oneof![
        secret().prop_map(Piece::Single),
        secret().prop_map(Piece::Double),
        secret().prop_map(Piece::EscapedBackslashAtEnd),
        secret().prop_map(Piece::Quoted),
        (100_000_000_000u64..999_999_999_999_999).prop_map(Piece::Number),
        (100_000_000_000u64..999_999_999_999, 1000u32..9999).prop_map(|(a, b)| Piece::Decimal(a, b)),
        "[0-9A-F]{6}[0-9a-fA-F]{8,14}".prop_map(Piece::Hex),
        "[0-9A-F]{6}[0-9a-fA-F]{8,14}".prop_map(Piece::HexString),
        secret().prop_map(Piece::Block),
        secret().prop_map(Piece::DashDash),
        secret().prop_map(Piece::Hash),
    ]
}

fn tail() -> impl Strategy<Value = Tail> {
    prop_oneof![
        Just(Tail::None),
        secret().prop_map(Tail::OpenSingle),
        secret().prop_map(Tail::OpenDouble),
        secret().prop_map(Tail::OpenBlock),
    ]
}

/// The query and the texts that must not appear (lower case: fingerprints are lower-cased).
fn query(pieces: &[Piece], tail: &Tail) -> (String, Vec<String>) {
    let mut sql = String::from("SELECT a, b FROM orders WHERE c = 1");
    let mut secrets = Vec::new();
    for (n, piece) in pieces.iter().enumerate() {
        sql.push_str(&format!(" AND col{n} = "));
        match piece {
            Piece::Single(s) => sql.push_str(&format!("'{s}'")),
            Piece::Double(s) => sql.push_str(&format!("\"{s}\"")),
            Piece::EscapedBackslashAtEnd(s) => sql.push_str(&format!("'{s}\\\\'")),
            Piece::Quoted(s) => sql.push_str(&format!("'it''s {s}' OR d = 'x \\' {s}'")),
            Piece::Number(d) => sql.push_str(&d.to_string()),
            Piece::Decimal(a, b) => sql.push_str(&format!("-{a}.{b}e3")),
            Piece::Hex(h) => sql.push_str(&format!("0x{h}")),
            Piece::HexString(h) => sql.push_str(&format!("X'{h}'")),
            Piece::Block(s) => sql.push_str(&format!("1 /* token={s} */")),
            Piece::DashDash(s) => sql.push_str(&format!("1 -- api_key={s}\n")),
            Piece::Hash(s) => sql.push_str(&format!("1 # api_key={s}\n")),
        }
        secrets.push(match piece {
            Piece::Number(d) => d.to_string(),
            Piece::Decimal(a, _) => a.to_string(),
            Piece::Hex(h) | Piece::HexString(h) => h.to_lowercase(),
            Piece::Single(s)
            | Piece::Double(s)
            | Piece::EscapedBackslashAtEnd(s)
            | Piece::Quoted(s)
            | Piece::Block(s)
            | Piece::DashDash(s)
            | Piece::Hash(s) => s.to_lowercase(),
        });
    }
    match tail {
        Tail::None => sql.push(';'),
        Tail::OpenSingle(s) => sql.push_str(&format!(" AND z = 'open {s}")),
        Tail::OpenDouble(s) => sql.push_str(&format!(" AND z = \"open {s}")),
        Tail::OpenBlock(s) => sql.push_str(&format!(" /* open {s}")),
    }
    if let Tail::OpenSingle(s) | Tail::OpenDouble(s) | Tail::OpenBlock(s) = tail {
        secrets.push(s.to_lowercase());
    }
    (sql, secrets)
}

fn entry(sql: &str) -> String {
    format!(
        "# Time: 2026-11-21T10:15:31.402561Z\n# User@Host: app[app] @  [10.0.1.23]  Id: 8812\n\
         # Query_time: 7.500000  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 2000000\n\
         use shop;\nSET timestamp=1795256131;\n{sql}"
    )
}

fn meta() -> StreamMeta {
    StreamMeta { owner: "1".into(), log_group: "/aws/rds/instance/db/slowquery".into(), log_stream: "db".into() }
}

fn build(message: String, builder: DocumentBuilder) -> logs_to_opensearch::document::Document {
    let mut builder = builder;
    builder.build(LogEvent { id: "1".into(), timestamp: 1_795_256_131_000, message, extracted_fields: None })
}

/// The document's whole `_source` and the Slack message an alert on it sends, lower-cased.
fn everything_said(doc: &logs_to_opensearch::document::Document, redact: bool) -> String {
    let mut text = String::from_utf8(doc.source_json()).unwrap();
    let rules = Rules {
        slow_query: Some(SlowQueryRule {
            seconds: 1.0,
            min_rows_examined: None,
            ignore_users: Vec::new(),
            ignore_fingerprints: Vec::new(),
        }),
        ..Rules::default()
    };
    let mut collector = Collector::new(&rules);
    collector.observe(doc);
    let alerts = collector.finish(5);
    assert_eq!(alerts.messages.len(), 1, "the entry alerts");
    for payload in slack::payloads(&alerts, &slack::MessageOptions { redact, ..Default::default() }) {
        text.push_str(&payload.to_string());
    }
    text.to_lowercase()
}

#[test]
fn the_generator_puts_secrets_where_an_unredacted_document_shows_them() {
    // Without redaction each secret is in the document: the property below would catch a leak.
    let pieces =
        [Piece::Single("zqsecretone".into()), Piece::Block("zqsecrettwo".into()), Piece::Hex("ABCDEF12345678".into())];
    let (sql, secrets) = query(&pieces, &Tail::OpenSingle("zqsecretthree".into()));
    let said = everything_said(&build(entry(&sql), DocumentBuilder::new("cwl", meta())), false);
    for secret in &secrets {
        assert!(said.contains(secret.as_str()), "{secret} not shown without redaction: {said}");
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 100_000, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn no_literal_or_comment_text_survives_redaction(pieces in prop::collection::vec(piece(), 1..6), tail in tail()) {
        let (sql, secrets) = query(&pieces, &tail);
        let doc = build(entry(&sql), DocumentBuilder::new("cwl", meta()).redact_literals(true));
        prop_assert!(doc.slow_query().is_some_and(|q| q.fingerprint_id.is_some()), "still a slow query");
        let said = everything_said(&doc, true);
        for secret in &secrets {
            prop_assert!(!said.contains(secret.as_str()), "{} survived in {}", secret, said);
        }
    }
}

#[test]
fn the_users_patterns_are_masked_everywhere() {
    let patterns =
        Patterns::new(&["[\\w.+-]+@[\\w-]+\\.[\\w.]+".to_owned(), "sk_live_[0-9A-Za-z]+".to_owned()]).unwrap();
    let slow = entry("SELECT * FROM users WHERE note LIKE '%ann@example.com%' /* sk_live_abc123 */;");
    let doc = build(slow, DocumentBuilder::new("cwl", meta()).redact_patterns(patterns.clone()));
    let said = String::from_utf8(doc.source_json()).unwrap();
    assert!(!said.contains("ann@example.com") && !said.contains("sk_live_abc123"), "{said}");
    assert!(said.contains("SELECT * FROM users WHERE note LIKE '%?%' /* ? */;"), "the rest kept: {said}");
    let app = r#"login {"user": "ann@example.com", "nested": {"key": "sk_live_Z9"}, "n": 1}"#.to_owned();
    let meta = StreamMeta { log_group: "/aws/lambda/auth".into(), ..meta() };
    let doc = build(app, DocumentBuilder::new("cwl", meta).redact_patterns(patterns));
    let said = String::from_utf8(doc.source_json()).unwrap();
    assert!(!said.contains("ann@example.com") && !said.contains("sk_live_Z9"), "{said}");
    assert!(said.contains(r#""user":"?""#) && said.contains(r#""n":1"#), "{said}");
    // Bad patterns are refused naming the pattern.
    let (pattern, problem) = Patterns::new(&["(unclosed".to_owned()]).unwrap_err();
    assert_eq!(pattern, "(unclosed");
    assert!(!problem.is_empty());
    assert!(Patterns::new(&["x*".to_owned()]).unwrap_err().1.contains("empty"));
}
