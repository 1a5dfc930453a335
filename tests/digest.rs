//! `logs-to-opensearch digest`, driven as a user drives it: the real binary on real files, gzip
//! and standard input, with its errors. Agreement with pt-query-digest is `pt_query_digest.rs`.

mod common;

use serde_json::Value;
use std::io::Write;
use std::process::{Output, Stdio};

const LOG: &str = "slowlogs/rds-mysql80-slowquery.log";

fn run(args: &[&str]) -> Output {
    common::cli().args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn log_path() -> String {
    common::fixture(LOG).to_str().unwrap().to_owned()
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("lto-digest-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn the_fixture_digest_has_its_known_classes_totals_and_ranking() {
    let report = json_of(&run(&["digest", "--format", "json", &log_path()]));
    assert_eq!(report["format"], "logs-to-opensearch-digest/1");
    let o = &report["overall"];
    assert_eq!((o["entries"].as_u64(), o["statements"].as_u64(), o["classes"].as_u64()), (Some(11), Some(10), Some(4)));
    assert_eq!(o["not_statements"], 1, "the start-up banner");
    assert!((o["query_time"]["total"].as_f64().unwrap() - 50.077_286).abs() < 1e-6);
    assert_eq!(o["first_seen"], "2026-11-21T10:00:01.104Z");
    let classes = report["classes"].as_array().unwrap();
    let summary: Vec<(&str, u64)> =
        classes.iter().map(|c| (c["fingerprint"].as_str().unwrap(), c["count"].as_u64().unwrap())).collect();
    assert_eq!(
        summary,
        vec![
            ("select date(created_at) as day, sum(total) from orders where created_at >= ? group by date(created_at)", 2),
            ("select id, total from orders where customer_id = ? and status = ? order by created_at desc limit ?", 4),
            ("update stock set quantity = quantity ? ? where sku = ?", 3),
            ("delete from sessions where expires_at < ?", 1),
        ]
    );
    let top = &classes[0];
    assert_eq!(top["fingerprint_id"], "245E81B1FC2DD16DA2B99B015652E324");
    assert!((top["query_time"]["total"].as_f64().unwrap() - 30.802_262).abs() < 1e-6);
    assert_eq!(top["query_time"]["max"], 16.000031);
    assert_eq!(top["rows_examined"]["total"], 10_124_211.0);
    assert_eq!(top["users"], serde_json::json!([{"value": "reporting", "count": 2}]));
    assert_eq!(top["example"]["time"], "2026-11-21T10:09:59.777Z");
    assert!(top["example"]["query"].as_str().unwrap().contains("'2026-11-01'"));
    let update = &classes[2];
    assert_eq!(update["lock_time"]["max"], 2.1003);
    assert_eq!(update["hosts"].as_array().unwrap().len(), 2);
}

#[test]
fn order_limit_window_and_filter_change_what_is_shown() {
    let path = log_path();
    let by_count = json_of(&run(&["digest", "--format", "json", "--order-by", "count", "--limit", "2", &path]));
    let counts: Vec<u64> =
        by_count["classes"].as_array().unwrap().iter().map(|c| c["count"].as_u64().unwrap()).collect();
    assert_eq!(counts, vec![4, 3]);
    assert_eq!((by_count["rest"]["classes"].as_u64(), by_count["rest"]["count"].as_u64()), (Some(2), Some(3)));
    let by_lock = json_of(&run(&["digest", "--format", "json", "--order-by", "rows_examined", &path]));
    assert_eq!(by_lock["classes"][0]["fingerprint_id"], "245E81B1FC2DD16DA2B99B015652E324");

    let window = ["--since", "2026-11-21 10:05:00", "--until", "2026-11-21T10:10:00Z"];
    let windowed = json_of(&run(&[&["digest", "--format", "json"][..], &window, &[&path]].concat()));
    assert_eq!(windowed["overall"]["statements"], 3);
    assert_eq!(windowed["overall"]["outside_window"], 7);

    let filtered = json_of(&run(&["digest", "--format", "json", "--filter", "Lock_time>=0.5 && User==app_rw", &path]));
    assert_eq!(
        (filtered["overall"]["statements"].as_u64(), filtered["overall"]["filtered_out"].as_u64()),
        (Some(3), Some(7))
    );
}

#[test]
fn gzip_and_standard_input_read_the_same_as_the_plain_file() {
    let plain = std::fs::read(common::fixture(LOG)).unwrap();
    let dir = temp_dir("gzip");
    // Two gzip members, as a rotated file appended to: one digest of both halves.
    let (first, second) = plain.split_at(plain.len() / 2);
    let mut gz = Vec::new();
    for part in [first, second] {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        encoder.write_all(part).unwrap();
        gz.extend(encoder.finish().unwrap());
    }
    let gz_path = dir.join("slowquery.log.1"); // no .gz: told by the bytes
    std::fs::write(&gz_path, &gz).unwrap();
    let classes = |report: &Value| report["classes"].clone();
    let expected = json_of(&run(&["digest", "--format", "json", &log_path()]));
    let from_gzip = json_of(&run(&["digest", "--format", "json", gz_path.to_str().unwrap()]));
    assert_eq!(classes(&from_gzip), classes(&expected));
    assert_eq!(from_gzip["files"][0]["bytes"].as_u64(), Some(plain.len() as u64));

    let mut child = common::cli()
        .args(["digest", "--format", "json", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&gz));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    let from_stdin = json_of(&out);
    assert_eq!(classes(&from_stdin), classes(&expected));
    assert_eq!(from_stdin["files"][0]["name"], "standard input");

    // Two files make one digest: every class twice as large.
    let twice = json_of(&run(&["digest", "--format", "json", &log_path(), gz_path.to_str().unwrap()]));
    assert_eq!(twice["overall"]["statements"], 20);
    assert_eq!(twice["classes"][0]["count"], 4);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn bad_input_and_arguments_fail_with_a_clear_error() {
    let out = run(&["digest", "/nonexistent/slow.log"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("/nonexistent/slow.log: cannot open the slow-log file"),
        "{}",
        text(&out.stderr)
    );

    let dir = temp_dir("corrupt");
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(&std::fs::read(common::fixture(LOG)).unwrap()).unwrap();
    let gz = encoder.finish().unwrap();
    let cut = dir.join("cut.log.gz");
    std::fs::write(&cut, &gz[..gz.len() / 2]).unwrap();
    let out = run(&["digest", cut.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cut.log.gz: read failed"), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty(), "no partial report");
    std::fs::remove_dir_all(dir).unwrap();

    for (args, expected) in [
        (vec!["--since", "yesterday"], "--since: \"yesterday\" is not a time"),
        (vec!["--since", "2026-11-22", "--until", "2026-11-21"], "is not before --until"),
        (vec!["--filter", "Query_time>>1"], "--filter:"),
        (vec!["--order-by", "speed"], "invalid value 'speed'"),
        (vec!["-", "-"], "can be named once"),
    ] {
        let out = run(&[&["digest"][..], &args, &[&log_path()]].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(expected), "{args:?}: {}", text(&out.stderr));
    }
}

#[test]
fn text_and_markdown_reports_and_redaction() {
    let out = run(&["digest", &log_path()]);
    assert!(out.status.success());
    let report = text(&out.stdout);
    assert!(report.contains("# Overall: 10 statements, 4 unique, in 11 entries read"), "{report}");
    let profile: Vec<&str> = report.lines().filter(|l| l.starts_with("#    ")).collect();
    assert_eq!(profile.len(), 4, "{report}");
    assert!(
        profile[0].contains("0x245E81B1FC2DD16DA2B99B015652E324") && profile[0].contains("30.8023"),
        "{}",
        profile[0]
    );
    assert!(report.contains("'sku-0007'"), "the examples are as logged");

    let out = run(&["digest", "--format", "markdown", &log_path()]);
    let markdown = text(&out.stdout);
    assert!(
        markdown.lines().any(|l| l.starts_with("| 1 | `245E81B1FC2DD16DA2B99B015652E324` | mysql | 2 | 30.80s |")),
        "{markdown}"
    );

    let out = common::cli().args(["digest", &log_path()]).env("REDACT_QUERY_LITERALS", "true").output().unwrap();
    let masked = text(&out.stdout);
    assert!(!masked.contains("sku-0007") && !masked.contains("2026-11-01"), "{masked}");
    assert!(masked.contains("UPDATE stock SET quantity = quantity - ? WHERE sku = ?"), "{masked}");
}

#[test]
fn postgresql_logs_are_digested_like_slow_logs() {
    let dir = common::fixture("postgresql");
    let mut files: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path().to_str().unwrap().to_owned()).collect();
    files.sort();
    let args: Vec<&str> = ["digest", "--format", "json"].into_iter().chain(files.iter().map(String::as_str)).collect();
    let report = json_of(&run(&args));
    let classes = report["classes"].as_array().unwrap();
    assert!(!classes.is_empty());
    assert!(classes.iter().all(|c| c["engine"] == "postgresql"), "{classes:?}");
    let counted: u64 = classes.iter().map(|c| c["count"].as_u64().unwrap()).sum();
    assert_eq!(counted, report["overall"]["statements"].as_u64().unwrap());
}

#[test]
fn the_chart_of_a_file_has_one_line_per_top_fingerprint() {
    let dir = temp_dir("chart");
    let chart = dir.join("digest.png");
    let out = run(&["digest", "--chart", chart.to_str().unwrap(), &log_path()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let bytes = std::fs::read(&chart).unwrap();
    let mut reader = png::Decoder::new(bytes.as_slice()).read_info().unwrap();
    let mut pixels = vec![0; reader.output_buffer_size()];
    let info = reader.next_frame(&mut pixels).unwrap();
    assert_eq!((info.width, info.height), (960, 540));
    let drawn = |colour: [u8; 3]| pixels.chunks(3).filter(|p| *p == colour).count();
    let palette = logs_to_opensearch::digest::chart::PALETTE;
    assert!((0..4).all(|k| drawn(palette[k]) > 50), "the fixture's four classes");
    assert_eq!(drawn(palette[4]), 0);
    std::fs::remove_dir_all(dir).unwrap();

    let out = run(&["digest", "--window", "60"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("an endpoint to ask"), "{}", text(&out.stderr));
    let out = run(&["digest", "--post", &log_path()]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn every_field_of_the_json_report_is_in_the_readme_table() {
    let report = json_of(&run(&["digest", "--format", "json", &log_path()]));
    let readme = common::readme();
    let start = readme.find("| `format` |").expect("the JSON table");
    let table: String = readme[start..].lines().take_while(|l| l.starts_with('|')).collect::<Vec<_>>().join("\n");
    let mut names: Vec<String> = Vec::new();
    for (key, value) in report.as_object().unwrap() {
        names.push(key.clone());
        let nested = match value {
            Value::Object(o) => Some(o),
            Value::Array(items) => items.first().and_then(Value::as_object),
            _ => None,
        };
        for inner in nested.into_iter().flat_map(|o| o.keys()) {
            if !["query_time", "lock_time", "rows_sent", "rows_examined"].contains(&inner.as_str()) || key == "overall"
            {
                names.push(inner.clone());
            }
        }
    }
    let missing: Vec<&String> = names
        .iter()
        .filter(|n| {
            !table.contains(&format!("`{n}")) && !table.contains(&format!(", {n}")) && !table.contains(&format!("{n}`"))
        })
        .collect();
    assert!(missing.is_empty(), "JSON fields the README's table does not name: {missing:?}");
}
