//! Log group + event time → a daily OpenSearch index name.
//!
//! `/aws/rds/instance/prod-db-1/slowquery` at 2026-11-21 → `cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21`:
//! the prefix, the log group lower-cased with `/` and every character OpenSearch forbids in index
//! names (`\ / * ? " < > | space , # :`) turned into `-`, then the UTC date. The result is always a
//! valid index name: lower case, no forbidden character, not starting with `-`, `_` or `+`, at most
//! 255 bytes (a log group too long for that is cut and given a short hash of its full name, so two
//! long groups never share an index by accident).
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
        let mut base = String::with_capacity(prefix.len() + group.len() + 1);
        base.push_str(prefix);
        if !prefix.is_empty() && !group.is_empty() {
            base.push('-');
        }
        base.push_str(&group);
        if base.is_empty() {
            base.push_str("logs");
        }
        let room = MAX_INDEX_NAME_BYTES - DATE_SUFFIX_BYTES;
        if base.len() > room {
            let hash = Md5::digest(log_group.as_bytes());
            let tag = format!("-{:02x}{:02x}{:02x}{:02x}", hash[0], hash[1], hash[2], hash[3]);
            let mut cut = room - tag.len();
            while !base.is_char_boundary(cut) {
                cut -= 1;
            }
            base.truncate(cut);
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
        assert_eq!(got, "cwl-a-b-c-d-e-f-g-h-i-j-k-l-m-2026.11.21");
    }

    #[test]
    fn never_starts_with_dash_underscore_or_plus() {
        assert_eq!(name("", "/_+-group"), "group-2026.11.21");
        assert_eq!(name("", "///"), "logs-2026.11.21");
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
