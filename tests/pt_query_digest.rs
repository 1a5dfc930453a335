//! Agreement with the real pt-query-digest (Percona Toolkit; Debian's 3.2.1 here, `apt-get install
//! percona-toolkit`): `digest --format json` and `pt-query-digest --output json` on the same
//! files give the same classes (by the 32-digit query id), the same count and total `Query_time`
//! per class, the same overall count and the same ranking by total time. Files: the Percona
//! corpus (`../shared`), our entry and slow-log fixtures, and a generated log of 5,000 entries in 300 shapes.
//! A difference is allowed only where [`KNOWN`] lists it, with its reason (README.md, "digest");
//! a listed difference that no longer occurs fails too, so the list stays true. Skips where
//! pt-query-digest is absent, unless `LTO_TOOLS_REQUIRED=1` (CI).

mod common;
#[path = "../bench/generator.rs"]
#[allow(dead_code, reason = "the benchmarks' other generators")]
mod generator;

use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Command;

/// (file name, query id, why): a class on which the two tools may disagree in that file.
const KNOWN: &[(&str, &str, &str)] = &[
    ("slow010.txt", "3294EC3F1FD275C7D0BE8439940461C2", "pt keeps the trailing space of `select foo `"),
    ("slow010.txt", "6A25A6E00CA973547CE9953EA3A36141", "… which our fingerprint trims (`select foo`)"),
    (
        "slow017.txt",
        "67157E199A0C5A1B7D624BB3E235108B",
        "a corrupt Query_time (MySQL's wrapped 2^64 µs): pt drops the entry, we count the statement without its time",
    ),
    (
        "slow041.txt",
        "EDBC971AEC392917AA353644DE4C4CB4",
        "the file starts with the headerless end of an entry (`# administrator command: Quit;`): pt counts it as a Quit, we count it as not a statement",
    ),
    (
        "slow056.txt",
        "D41D8CD98F00B204E9800998ECF8427E",
        "an entry of only `SET timestamp=…;` and `use test_db;`: pt's class is the empty fingerprint",
    ),
    ("slow056.txt", "DD749893CA4A219A6C099B0B73EA7633", "… ours is `use ?` (the `use` taken as the statement)"),
    ("corrupt-query-time.log", "67157E199A0C5A1B7D624BB3E235108B", "slow017.txt's entry, as a fixture"),
    (
        "header-oddities.log",
        "B91FB78E9BAF19A3C8459BEBEAF4F609",
        "a repeated `# Query_time:` line: pt takes the last, we take the first (with a warning in the document)",
    ),
    ("trailing-nul-bytes.log", "AAD35973172C5A68E59475166ECE3EE2", "pt keeps the NUL padding in the statement"),
    ("trailing-nul-bytes.log", "1FE1379FE2A31B8D16219655761820A2", "… which we strip (`select ?`)"),
];

/// Files whose overall count differs for a reason in [`KNOWN`].
const KNOWN_TOTALS: &[&str] = &["slow017.txt", "slow041.txt", "corrupt-query-time.log"];

#[derive(Debug, Clone, PartialEq)]
struct Class {
    count: u64,
    total: f64,
    fingerprint: String,
}

struct Report {
    statements: u64,
    classes: BTreeMap<String, Class>,
}

fn number(value: &Value) -> f64 {
    match value {
        Value::String(s) => s.parse().unwrap_or_else(|_| panic!("not a number: {s:?}")),
        other => other.as_f64().unwrap_or_else(|| panic!("not a number: {other}")),
    }
}

fn pt(path: &Path) -> Report {
    let out = Command::new("pt-query-digest")
        .args(["--output", "json", "--limit", "1000000"])
        .arg(path)
        .output()
        .expect("pt-query-digest runs");
    assert!(out.status.success(), "pt-query-digest {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Report { statements: 0, classes: BTreeMap::new() };
    }
    let json: Value = serde_json::from_str(&text).unwrap();
    let classes = json["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let total = c["metrics"].get("Query_time").map_or(0.0, |t| number(&t["sum"]));
            let class = Class {
                count: c["query_count"].as_u64().unwrap(),
                total,
                fingerprint: c["fingerprint"].as_str().unwrap().to_owned(),
            };
            (c["checksum"].as_str().unwrap().to_owned(), class)
        })
        .collect();
    Report { statements: json["global"]["query_count"].as_u64().unwrap(), classes }
}

fn ours(path: &Path) -> Report {
    let out = common::cli().args(["digest", "--format", "json", "--limit", "1000000"]).arg(path).output().unwrap();
    assert!(out.status.success(), "digest {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let classes = json["classes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let class = Class {
                count: c["count"].as_u64().unwrap(),
                total: c["query_time"]["total"].as_f64().unwrap(),
                fingerprint: c["fingerprint"].as_str().unwrap().to_owned(),
            };
            (c["fingerprint_id"].as_str().unwrap().to_owned(), class)
        })
        .collect();
    Report { statements: json["overall"]["statements"].as_u64().unwrap(), classes }
}

/// pt prints sums with six decimals.
fn same_total(a: f64, b: f64) -> bool {
    (a - b).abs() <= 1e-6 + a.abs() * 1e-12
}

/// The differences between the two reports of one file, as (query id, text).
fn differences(name: &str, pt: &Report, ours: &Report) -> Vec<(String, String)> {
    let mut found = Vec::new();
    let ids: BTreeSet<&String> = pt.classes.keys().chain(ours.classes.keys()).collect();
    for id in ids {
        match (pt.classes.get(id), ours.classes.get(id)) {
            (Some(p), Some(o)) if p.count == o.count && same_total(p.total, o.total) => {}
            (p, o) => found.push((id.clone(), format!("{name}: class {id}: pt-query-digest {p:?}, ours {o:?}"))),
        }
    }
    if pt.statements != ours.statements && !KNOWN_TOTALS.contains(&name) {
        found.push((
            String::new(),
            format!("{name}: {} statements by pt-query-digest, {} by us", pt.statements, ours.statements),
        ));
    }
    // The ranking by total time, without the known differences: the same totals rank by rank
    // (classes with equal totals may come in either order).
    let ranked = |r: &Report| {
        let mut totals: Vec<f64> = r
            .classes
            .iter()
            .filter(|(id, _)| !KNOWN.iter().any(|(file, known, _)| *file == name && known == id))
            .map(|(_, c)| c.total)
            .collect();
        totals.sort_by(|a, b| b.total_cmp(a));
        totals
    };
    let (p, o) = (ranked(pt), ranked(ours));
    if p.len() == o.len() && !p.iter().zip(&o).all(|(a, b)| same_total(*a, *b)) {
        found.push((String::new(), format!("{name}: the ranking by total time differs: pt {p:?}, ours {o:?}")));
    }
    found
}

fn files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = Vec::new();
    match common::percona_corpus() {
        Some(dir) => files.extend(std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.is_file())),
        None => eprintln!("../shared/corpus is absent: the corpus part is skipped"),
    }
    for fixtures in ["entries", "slowlogs"] {
        files.extend(std::fs::read_dir(common::fixture(fixtures)).unwrap().map(|e| e.unwrap().path()));
    }
    files.sort();
    files
}

#[test]
fn digest_agrees_with_pt_query_digest_but_for_the_listed_differences() {
    if !common::peer_tool("pt-query-digest", "percona-toolkit") {
        return;
    }
    let dir = std::env::temp_dir().join(format!("lto-pt-query-digest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let generated = dir.join("generated-5000.log");
    std::fs::write(&generated, generator::slow_log(5_000, 17)).unwrap();
    let mut files = files();
    files.push(generated.clone());

    let mut unexplained = Vec::new();
    let mut seen_known = BTreeSet::new();
    let mut compared = (0, 0);
    for path in &files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let (p, o) = (pt(path), ours(path));
        compared.0 += 1;
        compared.1 += o.classes.len();
        for (id, text) in differences(&name, &p, &o) {
            match KNOWN.iter().find(|(file, known, _)| *file == name && *known == id) {
                Some(known) => {
                    seen_known.insert((known.0, known.1));
                }
                None => unexplained.push(text),
            }
        }
        if path == &generated {
            assert!(o.classes.len() > 100, "the generated log has {} classes", o.classes.len());
            assert_eq!(o.statements, 5_000);
        }
    }
    assert!(unexplained.is_empty(), "differences not in KNOWN:\n{}", unexplained.join("\n"));
    if common::percona_corpus().is_some() {
        let stale: Vec<_> = KNOWN.iter().filter(|(f, id, _)| !seen_known.contains(&(*f, *id))).collect();
        assert!(stale.is_empty(), "listed differences that no longer occur: {stale:?}");
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!(
        "{} files, {} classes: the same as pt-query-digest's but for {} listed",
        compared.0,
        compared.1,
        KNOWN.len()
    );
}
