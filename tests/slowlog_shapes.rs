//! Every slow-log shape RDS, Aurora, MySQL, MariaDB and Percona write, from `tests/fixtures/entries/`,
//! read into the document contract's fields with their types.

mod common;

use logs_to_opensearch::slowlog::{self, FieldValue, SlowQuery};
use std::net::IpAddr;

fn entry(name: &str) -> SlowQuery {
    let text =
        String::from_utf8_lossy(&std::fs::read(common::fixture(&format!("entries/{name}"))).unwrap()).into_owned();
    slowlog::parse(&text).unwrap_or_else(|| panic!("{name} is not read as a slow-log entry"))
}

fn extra<'a>(q: &'a SlowQuery, key: &str) -> &'a FieldValue {
    &q.extra.iter().find(|(k, _)| k == key).unwrap_or_else(|| panic!("no {key} in {:?}", q.extra)).1
}

#[test]
fn reads_rds_mysql57_entry_with_use_and_set_timestamp_preamble() {
    let q = entry("rds-mysql57-select.log");
    assert_eq!(q.time.as_deref(), Some("2026-11-21T10:15:30.123456Z"));
    assert_eq!(q.user_host.as_deref(), Some("app[app]"));
    assert_eq!(q.user.as_deref(), Some("app"));
    assert_eq!(q.host, None, "empty host is absent");
    assert_eq!(q.ip, Some("10.0.1.23".parse::<IpAddr>().unwrap()));
    assert_eq!(q.id, Some(123), "Id padded with spaces");
    assert_eq!(q.query_time, Some(5.123456));
    assert_eq!(q.lock_time, Some(0.000123));
    assert_eq!(q.rows_sent, Some(1));
    assert_eq!(q.rows_examined, Some(1_000_000));
    assert_eq!(q.schema.as_deref(), Some("shop"));
    assert_eq!(q.query.as_deref(), Some("SELECT * FROM orders WHERE customer_id = 42 AND status IN ('new', 'paid')"));
    assert_eq!(q.query_type.as_deref(), Some("SELECT"));
    assert_eq!(q.fingerprint.as_deref(), Some("select * from orders where customer_id = ? and status in(?+)"));
    assert_eq!(q.fingerprint_id.as_ref().map(String::len), Some(32));
    assert!(q.extra.is_empty() && q.warnings.is_empty(), "{q:?}");
}

#[test]
fn reads_every_log_slow_extra_field_of_mysql80_typed() {
    let q = entry("mysql80-log-slow-extra.log");
    assert_eq!(q.query_time, Some(7.412893));
    assert_eq!(q.rows_examined, Some(3_812_004));
    for (key, value) in [
        ("Thread_id", 48213),
        ("Errno", 0),
        ("Killed", 0),
        ("Bytes_received", 312),
        ("Bytes_sent", 2841),
        ("Read_first", 1),
        ("Read_last", 0),
        ("Read_key", 1),
        ("Read_next", 0),
        ("Read_prev", 0),
        ("Read_rnd", 0),
        ("Read_rnd_next", 3_812_005),
        ("Sort_merge_passes", 2),
        ("Sort_range_count", 0),
        ("Sort_rows", 20),
        ("Sort_scan_count", 1),
        ("Created_tmp_disk_tables", 0),
        ("Created_tmp_tables", 1),
    ] {
        assert_eq!(extra(&q, key), &FieldValue::Int(value), "{key}");
    }
    assert_eq!(extra(&q, "Start"), &FieldValue::Str("2026-11-21T10:15:23.989224Z".into()));
    assert_eq!(extra(&q, "End"), &FieldValue::Str("2026-11-21T10:15:31.402117Z".into()));
    assert_eq!(q.extra.len(), 20);
    // ASC after ORDER BY dropped, LIMIT offset collapsed.
    assert!(q.fingerprint.as_deref().unwrap().ends_with("order by o.created_at limit ?"));
}

#[test]
fn reads_aurora_mysql3_client_host_name_and_address() {
    let q = entry("aurora-mysql3-hostname.log");
    assert_eq!(q.host.as_deref(), Some("ip-10-0-3-17.eu-west-1.compute.internal"));
    assert_eq!(q.ip, Some("10.0.3.17".parse().unwrap()));
    assert_eq!(q.query_type.as_deref(), Some("DELETE"));
    assert_eq!(q.schema, None, "no use line, no Schema header");
}

#[test]
fn reads_aurora_mysql2_update() {
    let q = entry("aurora-mysql2-update.log");
    assert_eq!(q.query_type.as_deref(), Some("UPDATE"));
    assert_eq!(q.lock_time, Some(1.2));
    assert_eq!(q.schema.as_deref(), Some("inventory"));
    assert_eq!(
        q.fingerprint.as_deref(),
        Some("update stock set quantity = quantity ? ? where sku = ? and quantity > ?"),
        "pt turns a lone `-` into `?` too (its number rule needs no word boundary by default)"
    );
}

#[test]
fn reads_mariadb_headers_and_ignores_explain_lines() {
    let q = entry("mariadb-10-verbose.log");
    assert_eq!(q.time.as_deref(), Some("2026-11-21T10:15:32"), "MariaDB's YYMMDD time has no zone");
    assert_eq!(q.id, None);
    assert_eq!(q.schema.as_deref(), Some("analytics"), "from MariaDB's Schema: header");
    assert_eq!(extra(&q, "Thread_id"), &FieldValue::Int(1184));
    assert_eq!(extra(&q, "QC_hit"), &FieldValue::Bool(false));
    assert_eq!(extra(&q, "Full_scan"), &FieldValue::Bool(true));
    assert_eq!(extra(&q, "Tmp_table_on_disk"), &FieldValue::Bool(true));
    assert_eq!(extra(&q, "Priority_queue"), &FieldValue::Bool(false));
    assert_eq!(extra(&q, "Tmp_table_sizes"), &FieldValue::Int(16_777_216));
    assert_eq!(extra(&q, "Rows_affected"), &FieldValue::Int(0));
    assert!(q.extra.iter().all(|(k, _)| !k.eq_ignore_ascii_case("explain")), "{:?}", q.extra);
    assert_eq!(q.query.as_deref(), Some("SELECT DATE(created_at) AS d, COUNT(*) FROM events GROUP BY d ORDER BY d"));
    assert!(q.warnings.is_empty(), "{:?}", q.warnings);
}

#[test]
fn reads_percona_innodb_statistics_with_identifier_kept_as_string() {
    let q = entry("percona-server-innodb.log");
    assert_eq!(q.host.as_deref(), Some("worker-3.internal"));
    assert_eq!(q.id, Some(5521));
    assert_eq!(q.schema.as_deref(), Some("billing"));
    assert_eq!(extra(&q, "InnoDB_trx_id"), &FieldValue::Str("1A2B3C".into()));
    assert_eq!(extra(&q, "InnoDB_IO_r_wait"), &FieldValue::Float(0.412011));
    assert_eq!(extra(&q, "InnoDB_rec_lock_wait"), &FieldValue::Float(0.0));
    assert_eq!(extra(&q, "InnoDB_pages_distinct"), &FieldValue::Int(2981));
    assert_eq!(extra(&q, "Log_slow_rate_type"), &FieldValue::Str("query".into()));
    assert_eq!(extra(&q, "QC_Hit"), &FieldValue::Bool(false));
    assert_eq!(q.query_type.as_deref(), Some("UPDATE"));
}

#[test]
fn reads_mysql56_time_and_whole_second_times_as_floats() {
    let q = entry("mysql56-old-time-format.log");
    assert_eq!(q.time.as_deref(), Some("2014-11-07T09:04:41"), "space-padded hour");
    assert_eq!(q.query_time, Some(2.0));
    let json = serde_json::to_string(&q.query_time).unwrap();
    assert_eq!(json, "2.0", "a whole Query_time must index as a float, not a long");
    assert_eq!(q.schema.as_deref(), Some("old-db"), "back-quoted schema");
    assert_eq!(q.host.as_deref(), Some("localhost"));
}

#[test]
fn reads_old_time_format_with_a_fraction() {
    let q = slowlog::parse("# Time: 121123 19:56:06.0000001967\n# Query_time: 1\nSELECT 1;").unwrap();
    assert_eq!(q.time.as_deref(), Some("2012-11-23T19:56:06.000000196"));
    assert!(q.warnings.is_empty(), "{:?}", q.warnings);
}

#[test]
fn keeps_localhost_with_empty_address_absent() {
    let q = entry("localhost-empty-ip.log");
    assert_eq!(q.host.as_deref(), Some("localhost"));
    assert_eq!(q.ip, None);
    assert_eq!(q.id, Some(9));
}

#[test]
fn uses_privilege_user_when_user_is_empty() {
    let q = entry("empty-user-replication.log");
    assert_eq!(q.user_host.as_deref(), Some("[SQL_SLAVE]"));
    assert_eq!(q.user.as_deref(), Some("SQL_SLAVE"));
    assert_eq!((q.host.as_deref(), q.ip), (None, None));
    assert_eq!(q.query_type.as_deref(), Some("UPDATE"), "lower-case statement");
}

#[test]
fn keeps_ipv6_client_address() {
    assert_eq!(entry("ipv6-client.log").ip, Some("2001:db8:0:1::17".parse().unwrap()));
    let mapped = entry("ipv4-mapped-ipv6-client.log");
    assert_eq!(mapped.ip, Some("::ffff:10.1.2.3".parse().unwrap()));
    assert_eq!(mapped.host.as_deref(), Some("app-host"));
}

#[test]
fn reads_administrator_command_as_admin() {
    let q = entry("administrator-command.log");
    assert_eq!(q.query.as_deref(), Some("administrator command: Ping"));
    assert_eq!(q.query_type.as_deref(), Some("ADMIN"));
    assert_eq!(q.fingerprint.as_deref(), Some("administrator command: Ping"));
}

#[test]
fn keeps_multi_line_statement_with_semicolons_and_keywords_in_strings() {
    let q = entry("multi-line-semicolons-in-strings.log");
    let query = q.query.as_deref().unwrap();
    assert!(query.starts_with("INSERT INTO pages (slug, body)\nVALUES ('select-me'"), "{query}");
    assert!(query.ends_with("('second', 'UPDATE x SET y = 1;')"), "only the final ; is removed: {query}");
    assert_eq!(q.query_type.as_deref(), Some("INSERT"));
    assert_eq!(q.fingerprint.as_deref(), Some("insert into pages (slug, body) values(?+)"));
}

#[test]
fn reads_call_with_ddl_cte_and_replace_verbs() {
    let call = entry("call-procedure.log");
    assert_eq!(
        (call.query_type.as_deref(), call.fingerprint.as_deref()),
        (Some("CALL"), Some("call shop.recalculate_totals"))
    );
    let cte = entry("with-cte.log");
    assert_eq!(cte.query_type.as_deref(), Some("WITH"));
    assert!(cte.query.as_deref().unwrap().lines().count() == 4);
    let ddl = entry("ddl-alter-table.log");
    assert_eq!(ddl.query_type.as_deref(), Some("ALTER"));
    assert_eq!(ddl.query_time, Some(120.0));
    let replace = entry("replace-multi-row.log");
    assert_eq!(replace.query_type.as_deref(), Some("REPLACE"));
    assert_eq!(replace.fingerprint.as_deref(), Some("replace into cache (k, v) values(?+)"));
}

#[test]
fn finds_the_verb_after_comments_and_parentheses() {
    let q = entry("commented-select.log");
    assert_eq!(q.query_type.as_deref(), Some("SELECT"));
    assert_eq!(
        q.fingerprint.as_deref(),
        Some("(select id from orders where id = ?) union (select id from archive where id = ?)")
    );
}

#[test]
fn strips_trailing_nul_bytes_from_the_statement() {
    let q = entry("trailing-nul-bytes.log");
    assert_eq!(q.query.as_deref(), Some("SELECT 1"));
}

#[test]
fn replaces_non_utf8_bytes_instead_of_failing() {
    let q = entry("non-utf8-bytes.log");
    assert_eq!(q.query.as_deref(), Some("SELECT * FROM people WHERE name = 'Ren\u{FFFD}e'"));
    assert_eq!(q.fingerprint.as_deref(), Some("select * from people where name = ?"));
}

#[test]
fn keeps_leading_number_of_corrupt_query_time_with_a_warning() {
    let q = entry("corrupt-query-time.log");
    assert_eq!(q.query_time, "18446744073708.796870".parse().ok());
    assert!(q.warnings.iter().any(|w| w.starts_with("Query_time:")), "{:?}", q.warnings);
    assert_eq!(q.time.as_deref(), Some("2008-11-16T15:07:11"), "# Time: and # User@Host: on one line");
    assert_eq!(q.user.as_deref(), Some("user"));
    assert_eq!(q.host.as_deref(), Some("host"));
    assert_eq!(q.schema.as_deref(), Some("mydb"));
}

#[test]
fn start_up_banner_and_error_log_line_are_not_entries() {
    for name in ["startup-banner.log", "error-log-line.log"] {
        let text = common::read_fixture(&format!("entries/{name}"));
        assert_eq!(slowlog::parse(&text), None, "{name}");
    }
}

#[test]
fn entry_time_reads_time_header_else_set_timestamp() {
    assert_eq!(
        slowlog::entry_time_millis("# Time: 2016-07-20T18:13:25.698Z\n# Query_time: 1\nSELECT 1;"),
        Some(1_469_038_405_698)
    );
    assert_eq!(
        slowlog::entry_time_millis("# Query_time: 1\nuse db;\nSET timestamp=1469038405;\nSELECT 1;"),
        Some(1_469_038_405_000)
    );
    assert_eq!(
        slowlog::entry_time_millis("# Query_time: 1\nSELECT 1;\nSET timestamp=1;"),
        None,
        "only the preamble counts"
    );
}

#[test]
fn repeated_header_key_is_emitted_once() {
    let q = slowlog::parse("# Query_time: 1.0  Lock_time: 0.0  Rows_sent: 0  Rows_examined: 0  Rows_affected: 1\n# Rows_affected: 2  Rows_read: 3\nSELECT 1;").unwrap();
    let affected: Vec<&FieldValue> = q.extra.iter().filter(|(k, _)| k == "Rows_affected").map(|(_, v)| v).collect();
    assert_eq!(affected, [&FieldValue::Int(2)]);
}

#[test]
fn empty_schema_header_does_not_swallow_the_next_key() {
    let q = slowlog::parse("# User@Host: root[root] @ h []\n# Thread_id: 47  Schema:   Last_errno: 0  Killed: 0\n# Query_time: 0.1\nSELECT 1;").unwrap();
    assert_eq!(q.schema, None);
    assert_eq!(extra(&q, "Last_errno"), &FieldValue::Int(0));
    assert_eq!(extra(&q, "Thread_id"), &FieldValue::Int(47));
}

#[test]
fn a_name_in_the_address_brackets_becomes_the_host() {
    let q = slowlog::parse("# User@Host: foo[foo] @ [db-client]\n# Query_time: 0.1\nSELECT 1;").unwrap();
    assert_eq!(q.ip, None);
    assert_eq!(q.host.as_deref(), Some("db-client"));
}

#[test]
fn keeps_time_with_an_offset_from_log_timestamps_system() {
    let q = slowlog::parse("# Time: 2026-11-21T11:15:30.123456+01:00\n# Query_time: 1.5\nSELECT 1;").unwrap();
    assert_eq!(q.time.as_deref(), Some("2026-11-21T11:15:30.123456+01:00"));
    assert_eq!(
        slowlog::entry_time_millis("# Time: 2026-11-21T11:15:30.123+01:00\n# Query_time: 1\nSELECT 1;"),
        Some(1_795_256_130_123)
    );
}

/// Percona Server writes `# No InnoDB statistics available for this query` where the `# InnoDB_*`
/// lines go, then more `# Key: value` lines: the entry goes on to its statement.
#[test]
fn a_comment_line_in_the_header_block_does_not_end_the_entry() {
    // The entry, then another one: the splitter must end the first at the second's header.
    let mut log = std::fs::read(common::fixture("entries/percona-no-innodb-statistics.log")).unwrap();
    log.extend(std::fs::read(common::fixture("entries/rds-mysql57-select.log")).unwrap());
    let entries: Vec<_> =
        logs_to_opensearch::slowlog_file::EntrySplitter::new(&log[..]).collect::<std::io::Result<_>>().unwrap();
    assert_eq!(entries.len(), 2, "{entries:#?}");
    let first = slowlog::parse(&entries[0].text).unwrap();
    assert_eq!(first.query.as_deref(), Some("SELECT SLEEP(2)"));
    assert_eq!(first.query_time, Some(2.000123));
    assert!(matches!(extra(&first, "Log_slow_rate_limit"), FieldValue::Int(100)), "{:?}", first.extra);
    let second = slowlog::parse(&entries[1].text).unwrap();
    assert_eq!(second.query_time, Some(5.123456), "the next entry keeps its own header");
}

/// `# Time: 9999-12-31…` and `SET timestamp=99999999999999999` are refused with warnings, not
/// used to date the entry; an impossible date (`2026-02-30`) is refused too.
#[test]
fn implausible_and_impossible_times_are_refused_with_warnings() {
    let q = entry("implausible-times.log");
    assert_eq!((q.time.as_deref(), q.time_ms), (None, None));
    assert!(q.warnings.iter().any(|w| w.contains("Time: 9999-12-31") && w.contains("plausible")), "{:?}", q.warnings);
    assert!(q.warnings.iter().any(|w| w.contains("SET timestamp=99999999999999999")), "{:?}", q.warnings);
    assert_eq!(q.query_time, Some(1.5), "the rest is read as usual");
    let text = std::fs::read_to_string(common::fixture("entries/implausible-times.log")).unwrap();
    assert_eq!(slowlog::entry_time_millis(&text), None, "a backfill keeps the previous entry's time");

    let feb_30 =
        text.replace("9999-12-31T23:59:59.000000Z", "2026-02-30T10:00:00Z").replace("99999999999999999", "1795256131");
    let q = slowlog::parse(&feb_30).unwrap();
    assert_eq!(q.time, None);
    assert!(q.warnings.iter().any(|w| w.contains("2026-02-30")), "{:?}", q.warnings);
    assert_eq!(slowlog::entry_time_millis(&feb_30), Some(1_795_256_131_000), "SET timestamp dates it instead");
}

/// Each header oddity has a defined result and a warning: a negative Lock_time is dropped, a
/// repeated Query_time line keeps the first, key-shaped names no server writes are ignored.
#[test]
fn header_oddities_have_a_defined_result_and_a_warning() {
    let q = entry("header-oddities.log");
    assert_eq!(q.query_time, Some(2.5), "the first Query_time");
    assert_eq!(q.lock_time, None, "negative: dropped");
    assert_eq!(q.rows_examined, Some(10));
    assert_eq!(q.query.as_deref(), Some("SELECT id FROM orders WHERE id = 7"));
    let has = |needle: &str| q.warnings.iter().any(|w| w.contains(needle));
    assert!(has("Lock_time: -0.000100 is negative"), "{:?}", q.warnings);
    assert!(has("Query_time: repeated (2.5, then 9.000000): the first is kept"), "{:?}", q.warnings);
    assert!(has("Lock_time: repeated"), "the second Lock_time is not taken either: {:?}", q.warnings);
    for name in ["_id:", "@timestamp:", "Foo.Bar:"] {
        assert!(has(&format!("{name} header pair ignored")), "{name}: {:?}", q.warnings);
    }
    assert!(q.extra.iter().all(|(k, _)| !k.contains('.') && !k.starts_with(['_', '@'])), "{:?}", q.extra);

    let text = std::fs::read_to_string(common::fixture("entries/header-oddities.log")).unwrap();
    let only_use =
        slowlog::parse(text.trim_end().strip_suffix("SELECT id FROM orders WHERE id = 7;").unwrap()).unwrap();
    assert_eq!(only_use.query.as_deref(), Some("use shop"), "as pt-query-digest reports it");
    assert!(only_use.warnings.iter().any(|w| w.contains("no statement after the preamble")), "{:?}", only_use.warnings);
    let nothing = slowlog::parse(text.split("use shop;").next().unwrap()).unwrap();
    assert_eq!(nothing.query, None);
    assert!(nothing.warnings.iter().any(|w| w.contains("the entry has no statement")), "{:?}", nothing.warnings);
}
