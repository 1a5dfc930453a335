//! Log group + event time → a daily OpenSearch index name.
//!
//! `/aws/rds/instance/prod-db-1/slowquery` at 2026-11-21 → `cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21`:
//! the prefix, the log group lower-cased with `/` and every character OpenSearch forbids in index
//! names (`\ / * ? " < > | space , # :`) turned into `-`, then the UTC date. The result is always a
//! valid index name: lower case, no forbidden character, not starting with `-`, `_` or `+`, at most
//! 255 bytes (a log group too long for that is cut and given a short hash of its full name, so two
//! long groups never share an index by accident). A group whose name sanitising changed beyond
//! case and `/` (a forbidden character, a leading `_`, `-` or `.`, a trailing `/`, nothing left)
//! also gets the hash: `/deadletter`, `.`, `..`, `_x`, `-x` all name different indices. Groups
//! that differ only in case, in `/` against `-`, or in a leading `/` still share one (RDS and
//! Aurora names are lower case and never differ so).
//!
//! Dead letters go to [`dead_letter_index`], a name no log group produces.
//!
//! Pure: no clock. The prefix is validated by `config`.

use chrono::{DateTime, Datelike};
use md5::{Digest, Md5};
use std::sync::Arc;

/// OpenSearch's limit on an index name, in bytes.
pub const MAX_INDEX_NAME_BYTES: usize = 255;
const DATE_SUFFIX_BYTES: usize = "-2026.11.21".len();

/// Characters OpenSearch refuses in an index name (`MetadataCreateIndexService.validateIndexOrAliasName`).
pub fn is_forbidden(c: char) -> bool {
    matches!(c, '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ',' | '#' | ':') || c.is_whitespace()
}

/// Names indices for one log group; caches the last day it named.
#[derive(Debug, Clone)]
pub struct GroupIndex {
    /// `<prefix>-<sanitised group>`, without the date.
    base: String,
    /// The last day named and its name, shared by the documents of that day.
    last_day: Option<(i64, Arc<str>)>,
}

impl GroupIndex {
    pub fn new(prefix: &str, log_group: &str) -> Self {
        let group = sanitise(log_group);
        // Sanitising that lost more than case, `/` and one leading `/` (forbidden characters,
        // leading `_`/`-`/`.`, a trailing `/`, nothing left) could make two groups one index: the
        // hash of the full name tells them apart.
        let canonical: String = log_group.strip_prefix('/').unwrap_or(log_group).to_lowercase().replace('/', "-");
        let tag = (group.is_empty() || group != canonical).then(|| hash_tag(log_group));
        let mut base = String::with_capacity(prefix.len() + group.len() + 10);
        base.push_str(prefix);
        if !prefix.is_empty() && !group.is_empty() {
            base.push('-');
        }
        base.push_str(&group);
        if base.is_empty() {
            base.push_str("logs");
        }
        let room = MAX_INDEX_NAME_BYTES - DATE_SUFFIX_BYTES;
        let tag_bytes = tag.as_ref().map_or(0, String::len);
        if base.len() + tag_bytes > room {
            let tag = tag.clone().unwrap_or_else(|| hash_tag(log_group));
            let mut cut = room - tag.len();
            while !base.is_char_boundary(cut) {
                cut -= 1;
            }
            base.truncate(cut);
            base.push_str(&tag);
        } else if let Some(tag) = tag {
            base.push_str(&tag);
        }
        GroupIndex { base, last_day: None }
    }

    /// The index for an event at `timestamp_ms` (UTC day). Timestamps chrono cannot represent
    /// fall on 1970-01-01; `document` flags those.
    pub fn for_timestamp(&mut self, timestamp_ms: i64) -> Arc<str> {
        let day = timestamp_ms.div_euclid(86_400_000);
        match &self.last_day {
            Some((last, name)) if *last == day => Arc::clone(name),
            _ => {
                let date = DateTime::from_timestamp_millis(timestamp_ms).unwrap_or_default();
                let name: Arc<str> =
                    format!("{}-{:04}.{:02}.{:02}", self.base, date.year(), date.month(), date.day()).into();
                self.last_day = Some((day, Arc::clone(&name)));
                name
            }
        }
    }
}

/// `-` and 8 hex digits of the group name's MD5.
fn hash_tag(log_group: &str) -> String {
    let hash = Md5::digest(log_group.as_bytes());
    format!("-{:02x}{:02x}{:02x}{:02x}", hash[0], hash[1], hash[2], hash[3])
}

/// The dead-letter index of `prefix` for a day (`2026.11.21`): `<prefix>-_deadletter-2026.11.21`.
/// No log group can name it: a group's part of a name never starts with `_`.
pub fn dead_letter_index(prefix: &str, day: &str) -> String {
    format!("{prefix}-{DEAD_LETTER_PART}-{day}")
}

/// What follows `<prefix>-` in a dead-letter index's name.
pub const DEAD_LETTER_PART: &str = "_deadletter";

/// The log group as an index-name fragment: lower case, forbidden characters → `-`, no leading
/// `-`, `_`, `+`, `.` and no trailing `-`.
fn sanitise(log_group: &str) -> String {
    let mut out = String::with_capacity(log_group.len());
    for c in log_group.chars() {
        if is_forbidden(c) {
            out.push('-');
        } else {
            out.extend(c.to_lowercase());
        }
    }
    let trimmed = out.trim_start_matches(['-', '_', '+', '.']).trim_end_matches('-');
    trimmed.to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOV_21_2026: i64 = 1_795_255_200_000; // 2026-11-21T10:00:00Z

    fn name(prefix: &str, group: &str) -> String {
        GroupIndex::new(prefix, group).for_timestamp(NOV_21_2026).to_string()
    }

    #[test]
    fn names_rds_slowquery_group_as_the_contract_says() {
        assert_eq!(
            name("cwl", "/aws/rds/instance/prod-db-1/slowquery"),
            "cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21"
        );
        assert_eq!(
            name("cwl", "/aws/rds/cluster/Aurora-Main/slowquery"),
            "cwl-aws-rds-cluster-aurora-main-slowquery-2026.11.21"
        );
    }

    #[test]
    fn uses_the_configured_prefix() {
        assert_eq!(
            name("rds-logs", "/aws/rds/instance/db/slowquery"),
            "rds-logs-aws-rds-instance-db-slowquery-2026.11.21"
        );
    }

    #[test]
    fn joins_a_group_without_leading_slash_with_a_dash() {
        assert_eq!(name("cwl", "MyApp"), "cwl-myapp-2026.11.21");
    }

    #[test]
    fn replaces_every_forbidden_character() {
        let got = name("cwl", "a\\b/c*d?e\"f<g>h|i j,k#l:m");
        assert!(got.starts_with("cwl-a-b-c-d-e-f-g-h-i-j-k-l-m-") && got.ends_with("-2026.11.21"), "{got}");
        assert_eq!(got.len(), "cwl-a-b-c-d-e-f-g-h-i-j-k-l-m-".len() + 8 + "-2026.11.21".len(), "a hash: {got}");
    }

    #[test]
    fn never_starts_with_dash_underscore_or_plus() {
        let n = name("", "/_+-group");
        assert!(n.starts_with("group-") && n.ends_with("-2026.11.21"), "{n}");
        assert!(!name("", "///").starts_with(['-', '_', '+']));
    }

    #[test]
    fn groups_that_sanitise_alike_get_distinct_names() {
        let groups = [".", "..", "/", "___", "_x", "-x", "x", "/a#b", "/a-b", "/a/", "/a", "/deadletter"];
        let names: std::collections::BTreeSet<String> = groups.iter().map(|g| name("cwl", g)).collect();
        assert_eq!(names.len(), groups.len(), "{names:?}");
        assert_eq!(name("cwl", "x"), "cwl-x-2026.11.21");
        assert_eq!(name("cwl", "/a-b"), "cwl-a-b-2026.11.21");
        assert!(name("cwl", "/a#b").starts_with("cwl-a-b-") && name("cwl", "/a#b") != "cwl-a-b-2026.11.21");
        for group in groups {
            let n = name("cwl", group);
            assert!(!n.starts_with(&dead_letter_index("cwl", "")), "{group} → {n}");
        }
    }

    #[test]
    fn no_log_group_names_the_dead_letter_index() {
        let dead = dead_letter_index("cwl", "2026.11.21");
        assert_eq!(dead, "cwl-_deadletter-2026.11.21");
        for group in
            ["deadletter", "/deadletter", "_deadletter", "/_deadletter", "-_deadletter", "/deadletter/app", "_"]
        {
            assert_ne!(name("cwl", group), dead, "{group}");
            assert!(!name("cwl", group).starts_with("cwl-_"), "{group}");
        }
    }

    #[test]
    fn uses_the_utc_day_of_the_event() {
        let mut index = GroupIndex::new("cwl", "/g");
        assert_eq!(&*index.for_timestamp(1_795_305_599_999), "cwl-g-2026.11.21"); // 23:59:59.999Z
        assert_eq!(&*index.for_timestamp(1_795_305_600_000), "cwl-g-2026.11.22");
        assert_eq!(&*index.for_timestamp(-1), "cwl-g-1969.12.31");
    }

    #[test]
    fn cuts_long_groups_to_255_bytes_with_a_distinguishing_hash() {
        let long_a = format!("/aws/{}/a", "x".repeat(600));
        let long_b = format!("/aws/{}/b", "x".repeat(600));
        let (a, b) = (name("cwl", &long_a), name("cwl", &long_b));
        assert!(a.len() <= MAX_INDEX_NAME_BYTES, "{} bytes", a.len());
        assert!(a.ends_with("-2026.11.21"));
        assert_ne!(a, b);
        let multibyte = format!("/{}", "é".repeat(300));
        let m = name("cwl", &multibyte);
        assert!(m.len() <= MAX_INDEX_NAME_BYTES);
    }

    #[test]
    fn lower_cases_non_ascii_too() {
        assert_eq!(name("cwl", "/ÄPP"), "cwl-äpp-2026.11.21");
    }
}
