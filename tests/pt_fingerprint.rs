//! Differential test against the real `pt-fingerprint` (Percona Toolkit; Debian's 3.2.1 here,
//! `apt-get install percona-toolkit`): every query of the Percona corpus (`../shared`) and of our
//! own entry fixtures, plus queries made to show each known difference, fingerprinted by both.
//! Each difference must be one of the [`KNOWN`] ones (README.md, "Fingerprints"); any other fails
//! the test with the query. Skips where `pt-fingerprint` is absent, unless `LTO_TOOLS_REQUIRED=1`
//! (CI). `LTO_PT_FINGERPRINT` names another copy to run.

mod common;

use logs_to_opensearch::fingerprint::fingerprint;
use logs_to_opensearch::slowlog;
use logs_to_opensearch::slowlog_file::EntrySplitter;
use regex::Regex;
use std::collections::BTreeMap;
use std::io::Write;
use std::process::{Command, Stdio};

#[allow(clippy::disallowed_methods, reason = "a test's fixed patterns")]
fn re(pattern: &str) -> Regex {
    Regex::new(pattern).unwrap()
}

/// Why our fingerprint may differ from pt-fingerprint 3.2.1's: (name, a test on the query and
/// both fingerprints). The first that holds explains a difference.
type Explains = fn(&str, &str, &str) -> bool;
const KNOWN: &[(&str, Explains)] = &[
    // pt 3.2.1 keeps TRUE/FALSE; pt 3.5.7 (and we) make them `?`.
    ("booleans are literals (pt 3.5.7's rule, not in 3.2.1)", |q, _, _| re(r"(?i)\b(true|false)\b").is_match(q)),
    // pt 3.2.1 drops `\'` and `\"` only, so `'\\'` runs on to the next quote; pt 3.5.7 (and we)
    // drop escaped backslashes first. Doubled quotes (`'it''s'`) are one string for us.
    ("escaped backslashes and doubled quotes (pt 3.5.7's escape steps; SQL's doubled quote)", |q, _, _| {
        q.contains('\\') || q.contains("''") || q.contains("\"\"")
    }),
    // pt drops `\s+asc` after ORDER BY even when it starts a word (`, ascii_col` → `,ii_col`).
    ("ASC dropped only as a whole word", |_, ours, _| {
        ours.contains("order by ") && re(r"order by .*\sasc\w").is_match(ours)
    }),
    // pt keeps the spacing of `CALL  proc(` (any whitespace other than one space).
    ("CALL's spacing ignored", |q, _, _| re(r"(?i)\A\s*call(\s\s|[^\S ])").is_match(q)),
    // pt's chomp removes one newline only; a trailing space (or tab) survives its collapse.
    ("trailing whitespace trimmed", |_, ours, pt| pt.trim_end() == ours),
];

/// Queries that show the known differences (pt-fingerprint must differ on each, or the list is
/// stale) and the rules both share.
const MADE: &[&str] = &[
    "UPDATE t SET a = TRUE WHERE b = false",
    r"SELECT '\\' FROM t WHERE a = 'x'",
    "SELECT 'it''s', 'x' FROM t",
    "SELECT * FROM t ORDER BY name, ascii_col",
    "CALL  proc(1, 2)",
    "select foo_1 from foo_2_3",
    "SELECT id FROM orders_2024_01 WHERE id IN (1, 2, 3) LIMIT 10, 20",
    "select a from t where id=1 union select a from t where id=2",
];

fn pt_fingerprint() -> Option<String> {
    #[allow(clippy::disallowed_methods, reason = "a test's own switch")]
    let program = std::env::var("LTO_PT_FINGERPRINT").unwrap_or_else(|_| "pt-fingerprint".to_owned());
    common::peer_tool(&program, "percona-toolkit").then_some(program)
}

/// pt-fingerprint's fingerprints of `queries`, in one run: it reads `;\n`-separated queries.
fn run_pt(program: &str, queries: &[String]) -> Vec<String> {
    let mut child = Command::new(program)
        .arg("-")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    let mut input = Vec::new();
    for q in queries {
        input.extend_from_slice(q.as_bytes());
        input.extend_from_slice(b";\n");
    }
    let mut stdin = child.stdin.take().unwrap();
    let writer = std::thread::spawn(move || stdin.write_all(&input));
    let out = child.wait_with_output().unwrap();
    writer.join().unwrap().unwrap();
    assert!(out.status.success(), "{program} failed");
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_owned).collect()
}

/// The queries pt-fingerprint reads one for one: it splits its input at `;\n`, drops lines
/// starting with `#`, and skips a query that does not start with a word character.
fn usable(query: &str) -> bool {
    !query.contains(";\n")
        && !query.ends_with(';')
        && !query.lines().any(|l| l.starts_with('#'))
        && query.trim_start().starts_with(|c: char| c.is_ascii_alphanumeric() || c == '_')
        && !fingerprint(query).contains(['\n', '\r'])
}

fn corpus_and_fixture_queries() -> Vec<String> {
    let mut files = Vec::new();
    if let Some(dir) = common::percona_corpus() {
        files.extend(std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()));
    } else {
        eprintln!("the Percona corpus is absent (../shared): only our fixtures are compared");
    }
    files.extend(
        std::fs::read_dir(common::fixture("entries"))
            .unwrap()
            .map(|e| e.unwrap().path())
            .filter(|p| p.extension().is_some_and(|e| e == "log")),
    );
    files.sort();
    let mut queries = Vec::new();
    for path in files {
        for entry in EntrySplitter::new(&std::fs::read(&path).unwrap()[..]) {
            if let Some(query) = slowlog::parse(&entry.unwrap().text).and_then(|q| q.query) {
                queries.push(query);
            }
        }
    }
    queries
}

#[test]
fn fingerprints_agree_with_pt_fingerprint_but_for_the_listed_differences() {
    let Some(program) = pt_fingerprint() else { return };
    let mut queries: Vec<String> = corpus_and_fixture_queries().into_iter().filter(|q| usable(q)).collect();
    let from_files = queries.len();
    queries.extend(MADE.iter().map(|q| (*q).to_owned()));
    let theirs = run_pt(&program, &queries);
    assert_eq!(theirs.len(), queries.len(), "pt-fingerprint printed one line per query");

    let mut explained: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut unexplained = Vec::new();
    let mut same = 0;
    for (query, pt) in queries.iter().zip(&theirs) {
        let ours = fingerprint(query);
        if ours == *pt {
            same += 1;
            continue;
        }
        match KNOWN.iter().find(|(_, explains)| explains(query, &ours, pt)) {
            Some((name, _)) => explained.entry(name).or_default().push(query),
            None => unexplained.push(format!("query: {query:?}\n  ours: {ours:?}\n  pt:   {pt:?}")),
        }
    }
    eprintln!("{same} of {} fingerprints equal ({from_files} from the files); differences:", queries.len());
    for (name, queries) in &explained {
        eprintln!("  {name}: {}", queries.len());
        for query in queries.iter().take(3) {
            eprintln!("    {query:?}");
        }
    }
    assert!(unexplained.is_empty(), "differences not in the known list:\n{}", unexplained.join("\n"));
    // Every made query that shows a difference shows it, so the list is not stale.
    for made in &MADE[..5] {
        assert!(explained.values().flatten().any(|q| q == made), "pt-fingerprint no longer differs on {made:?}");
    }
    // And the shared rules agree where nothing known intervenes.
    for made in &MADE[5..] {
        assert!(!explained.values().flatten().any(|q| q == made), "{made:?} differs");
    }
    assert!(from_files >= 500, "{from_files} queries from the corpus and fixtures");
    assert!(same * 100 >= queries.len() * 95, "only {same} of {} agree", queries.len());
}
