//! The Percona Toolkit slow-log corpus (`../shared/corpus/percona-slowlogs`, 40 files, ~600 entries
//! of MySQL 5.0–5.7, Percona, MariaDB-style lines, banners, corrupt values): the splitter and the
//! extractor never fail, nothing is dropped, and every entry with a `# Query_time` line yields
//! `Query_time`. Skips (with a note) where `../shared` is absent.

mod common;

use logs_to_opensearch::document::{DocumentBuilder, StreamMeta};
use logs_to_opensearch::slowlog;
use logs_to_opensearch::slowlog_file::{EntrySplitter, EventMaker, RawEntry};

fn corpus_files() -> Option<Vec<std::path::PathBuf>> {
    let Some(dir) = common::percona_corpus() else {
        eprintln!("skipped: ../shared/corpus/percona-slowlogs is not beside the repository");
        return None;
    };
    let mut files: Vec<_> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    Some(files)
}

fn split(bytes: &[u8]) -> Vec<RawEntry> {
    EntrySplitter::new(bytes).collect::<std::io::Result<_>>().unwrap()
}

#[test]
fn splitter_keeps_every_non_blank_line_of_every_file() {
    let Some(files) = corpus_files() else { return };
    assert!(files.len() >= 40, "{} files", files.len());
    for path in files {
        let bytes = std::fs::read(&path).unwrap();
        let entries = split(&bytes);
        let original = String::from_utf8_lossy(&bytes);
        let kept: String = entries.iter().map(|e| e.text.as_str()).collect();
        let non_blank =
            |text: &str| text.lines().filter(|l| !l.trim().is_empty()).map(str::to_owned).collect::<Vec<_>>();
        assert_eq!(non_blank(&kept), non_blank(&original), "{}: a line was lost or reordered", path.display());
        for entry in &entries {
            let at = &bytes[entry.offset as usize..];
            let first_line = entry.text.lines().next().unwrap();
            assert!(
                String::from_utf8_lossy(at).starts_with(first_line),
                "{}: offset {} is wrong",
                path.display(),
                entry.offset
            );
        }
    }
}

#[test]
fn every_entry_with_a_query_time_line_yields_query_time() {
    let Some(files) = corpus_files() else { return };
    let (mut entries_seen, mut with_query_time) = (0, 0);
    for path in files {
        for entry in split(&std::fs::read(&path).unwrap()) {
            entries_seen += 1;
            let has_query_time =
                entry.text.lines().any(|l| l.trim_start_matches(['#', ' ']).starts_with("Query_time:"));
            let parsed = slowlog::parse(&entry.text);
            if has_query_time {
                with_query_time += 1;
                let q = parsed.unwrap_or_else(|| {
                    panic!("{} @{}: not read as an entry:\n{}", path.display(), entry.offset, entry.text)
                });
                assert!(q.query_time.is_some(), "{} @{}: no Query_time:\n{}", path.display(), entry.offset, entry.text);
            }
        }
    }
    assert!(entries_seen >= 600, "{entries_seen} entries");
    assert!(with_query_time >= 590, "{with_query_time} entries with Query_time");
}

#[test]
fn every_corpus_entry_becomes_a_valid_document() {
    let Some(files) = corpus_files() else { return };
    for path in files {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let meta = StreamMeta { owner: String::new(), log_group: "/corpus/slowquery".into(), log_stream: name.clone() };
        let mut builder = DocumentBuilder::new("cwl", meta);
        let mut maker = EventMaker::new("/corpus/slowquery", 0);
        for entry in split(&std::fs::read(&path).unwrap()) {
            let doc = builder.build(maker.event(entry));
            let json: serde_json::Value = serde_json::from_slice(&doc.source_json()).unwrap();
            let object = json.as_object().unwrap();
            // Typed as the contract says, whatever the input.
            for float in ["Query_time", "Lock_time"] {
                assert!(object.get(float).is_none_or(|v| v.is_f64()), "{name}: {float} = {:?}", object.get(float));
            }
            for int in ["Rows_sent", "Rows_examined", "Id"] {
                assert!(object.get(int).is_none_or(|v| v.is_i64()), "{name}: {int} = {:?}", object.get(int));
            }
            if let Some(ip) = object.get("IP") {
                assert!(ip.as_str().unwrap().parse::<std::net::IpAddr>().is_ok(), "{name}: IP {ip}");
            }
            if let Some(fingerprint) = object.get("Fingerprint") {
                assert!(
                    !fingerprint.as_str().unwrap().is_empty() || object["Query"] == "",
                    "{name}: empty fingerprint"
                );
            }
        }
    }
}

#[test]
fn start_up_banners_in_the_middle_of_files_are_their_own_plain_entries() {
    let Some(dir) = common::percona_corpus() else {
        return;
    };
    let bytes = std::fs::read(dir.join("mysql5.7.log")).unwrap();
    let entries = split(&bytes);
    let banners: Vec<&RawEntry> = entries.iter().filter(|e| e.text.contains("started with:")).collect();
    assert_eq!(banners.len(), 2, "the file starts with two banners");
    for banner in banners {
        assert!(slowlog::parse(&banner.text).is_none());
        assert!(banner.text.trim_end().ends_with("Argument"), "{}", banner.text);
    }
}
