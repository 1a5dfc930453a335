//! The README's configuration tables and the binary agree: every variable the binary reads
//! (`config::VARIABLES`) has a row, every row names a variable the binary reads (or one the Lambda
//! runtime reads), and every default `--help` states is the README's default. The environment
//! part of `--help` is laid out by hand, so no line of it may be long enough for clap to wrap.

mod common;

use logs_to_opensearch::config::VARIABLES;
use std::collections::{BTreeMap, BTreeSet};

/// Read by the logging set-up and the Lambda runtime, not by `config`.
const RUNTIME: &[&str] = &["RUST_LOG", "AWS_LAMBDA_LOG_LEVEL", "AWS_LAMBDA_LOG_FORMAT", "AWS_LAMBDA_RUNTIME_API"];

/// The README's `| variable | default | meaning |` tables: each variable named in a row's first
/// column → that row's default column.
fn readme_rows() -> BTreeMap<String, String> {
    let readme = common::readme();
    let mut rows = BTreeMap::new();
    let mut in_table = false;
    for line in readme.lines() {
        if line.starts_with("| variable | default | meaning |") {
            in_table = true;
            continue;
        }
        if !line.starts_with('|') {
            in_table = false;
            continue;
        }
        if !in_table || line.starts_with("|---") {
            continue;
        }
        let cells: Vec<&str> = line.trim_matches('|').split('|').collect();
        assert!(cells.len() >= 3, "a row without three cells: {line}");
        for name in cells[0].split('`').skip(1).step_by(2) {
            if name.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_') {
                // A row repeated in another section (a cross-reference) must give the same default.
                if let Some(before) = rows.insert(name.to_owned(), cells[1].trim().to_owned()) {
                    assert_eq!(before, cells[1].trim(), "{name}'s two rows give different defaults");
                }
            }
        }
    }
    rows
}

#[test]
fn every_variable_has_a_readme_row_and_every_row_is_read() {
    let rows = readme_rows();
    let documented: BTreeSet<&str> = rows.keys().map(String::as_str).collect();
    let read: BTreeSet<&str> = VARIABLES.iter().copied().chain(RUNTIME.iter().copied()).collect();
    let missing: Vec<_> = read.difference(&documented).collect();
    let stale: Vec<_> = documented.difference(&read).collect();
    assert!(missing.is_empty(), "read by the binary, no row in README.md: {missing:?}");
    assert!(stale.is_empty(), "a row in README.md for a variable nothing reads: {stale:?}");
    // The module's own table (cargo doc) lists the same variables.
    let source = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/src/config/mod.rs")).unwrap();
    let in_doc: BTreeSet<&str> = source
        .lines()
        .filter_map(|l| l.strip_prefix("//! | "))
        .flat_map(|row| row.split('|').next().unwrap().split('`').skip(1).step_by(2))
        .collect();
    for name in VARIABLES {
        assert!(in_doc.contains(name), "{name} is not in config's doc table (src/config/mod.rs)");
    }
}

#[test]
fn the_defaults_help_states_are_the_readmes() {
    let rows = readme_rows();
    let help = String::from_utf8(common::cli().arg("--help").output().unwrap().stdout).unwrap();
    let mut checked = 0;
    let mut current: Vec<String> = Vec::new();
    for line in help.lines().skip_while(|l| !l.starts_with("Environment")) {
        // A line starting with two spaces and a name starts a variable's entry; later lines go on.
        let names: Vec<String> = line
            .trim_start()
            .split([' ', ',', '('])
            .take_while(|w| !w.is_empty() || !line.starts_with("   "))
            .filter(|w| w.len() > 2 && w.chars().all(|c| c.is_ascii_uppercase() || c == '_'))
            .map(str::to_owned)
            .collect();
        if line.starts_with("  ") && !line.starts_with("   ") && !names.is_empty() {
            current = names;
        }
        let Some(at) = line.find("(default: ") else { continue };
        let default = line[at + "(default: ".len()..].split([')', ';', ',']).next().unwrap().trim();
        let name = current.last().unwrap_or_else(|| panic!("a default without a variable: {line}"));
        let row = rows.get(name).unwrap_or_else(|| panic!("{name}: no README row"));
        let plain = row.replace('`', "");
        let default = if default == "none" { "unset" } else { default };
        assert!(
            plain.contains(default) || (default == "warn" && plain.contains("warn")),
            "{name}: --help says the default is {default:?}, README.md says {row:?}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "{checked} defaults checked:\n{help}");
}

#[test]
fn no_environment_line_of_help_is_long_enough_to_be_rewrapped() {
    let help = String::from_utf8(common::cli().arg("--help").output().unwrap().stdout).unwrap();
    for line in help.lines().skip_while(|l| !l.starts_with("Environment")).take_while(|l| !l.starts_with("Exit status"))
    {
        assert!(line.chars().count() <= 100, "wrapped by clap (over 100 columns): {line}");
        // A wrapped line loses its indentation: every line of an entry is indented.
        assert!(line.is_empty() || !line.starts_with(char::is_lowercase), "a line clap wrapped: {line:?}");
    }
}
