//! The benchmarks' input: a deterministic generator of CloudWatch Logs subscription events from
//! RDS slow-query log groups, as Lambda hands them over (`{"awslogs":{"data":base64(gzip(JSON))}}`).
//!
//! Entries have the field shapes of MySQL 5.7, MySQL 8.0 with `log_slow_extra` and MariaDB, six
//! users, clients by host name and address (IPv4 and IPv6), and statements from about 80 B to
//! 4 KiB (SELECTs, UPDATEs, DELETEs, multi-row INSERTs, multi-line JOINs, comment tails); and
//! RDS PostgreSQL records of the same statements ([`postgres_batch`]). The same arguments always
//! give the same bytes, so runs compare.

use base64::Engine;
use flate2::{write::GzEncoder, Compression};
use serde_json::{json, Value};
use std::io::Write;

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
}

const USERS: &[&str] = &["app", "app_rw", "reporting", "etl", "admin", "api"];
const TABLES: &[&str] = &["orders", "customers", "order_items", "invoices", "sessions", "events", "stock"];
const COLUMNS: &[&str] = &["id", "status", "created_at", "customer_id", "total", "email", "sku", "quantity"];

fn client(rng: &mut Rng) -> (String, String) {
    match rng.below(4) {
        0 => (String::new(), format!("2001:db8:{:x}::{:x}", rng.below(65536), rng.below(65536))),
        1 => (
            format!("ip-10-0-{}-{}.ec2.internal", rng.below(256), rng.below(256)),
            format!("10.0.{}.{}", rng.below(256), rng.below(256)),
        ),
        _ => (String::new(), format!("10.{}.{}.{}", rng.below(256), rng.below(256), rng.below(256))),
    }
}

fn statement(rng: &mut Rng) -> String {
    let table = rng.pick(TABLES);
    let mut sql = match rng.below(6) {
        0 | 1 => format!(
            "SELECT {}, {} FROM {table} WHERE {} = {} AND {} IN ({}, {}, {}) ORDER BY {} ASC LIMIT {}, 50",
            rng.pick(COLUMNS), rng.pick(COLUMNS), rng.pick(COLUMNS), rng.below(1_000_000),
            rng.pick(COLUMNS), rng.below(100), rng.below(100), rng.below(100), rng.pick(COLUMNS), rng.below(1000)
        ),
        2 => format!("UPDATE {table} SET {} = '{}' WHERE id = {}", rng.pick(COLUMNS), rng.next(), rng.below(1 << 30)),
        3 => format!("DELETE FROM {table} WHERE created_at < '2026-11-{:02} 00:00:00'", 1 + rng.below(28)),
        4 => {
            let rows: Vec<String> = (0..1 + rng.below(40)).map(|i| format!("({i}, 'sku-{}', {})", rng.next(), rng.below(100))).collect();
            format!("INSERT INTO {table} (id, sku, quantity) VALUES {}", rows.join(", "))
        }
        _ => format!(
            "SELECT c.id, c.email, SUM(o.total) AS spent\nFROM customers c\nJOIN {table} o ON o.customer_id = c.id\nWHERE o.created_at > '2026-10-01' AND c.status = 'active'\nGROUP BY c.id, c.email\nHAVING spent > {}\nORDER BY spent DESC",
            rng.below(10_000)
        ),
    };
    // A tail of conditions for long statements (up to ~4 KiB).
    if rng.below(10) == 0 {
        for i in 0..rng.below(60) {
            sql.push_str(&format!(" /* filter {i} */ "));
            sql.push_str(&format!("-- c{}\n", rng.next()));
        }
    }
    sql
}

fn entry(rng: &mut Rng, i: u64) -> String {
    let user = rng.pick(USERS);
    let (host, ip) = client(rng);
    let query_time = rng.below(30_000_000) as f64 / 1e6;
    let seconds = 1_795_256_131 + i;
    let sql = statement(rng);
    match rng.below(3) {
        0 => format!(
            "# Time: 2026-11-21T10:{:02}:{:02}.{:06}Z\n# User@Host: {user}[{user}] @ {host} [{ip}]  Id: {:>6}\n# Query_time: {query_time:.6}  Lock_time: 0.{:06} Rows_sent: {}  Rows_examined: {}\nuse shop;\nSET timestamp={seconds};\n{sql};\n",
            i / 60 % 60, i % 60, rng.below(1_000_000), rng.below(100_000), rng.below(1000), rng.below(1000), rng.below(50_000_000)
        ),
        1 => format!(
            "# Time: 2026-11-21T10:{:02}:{:02}.{:06}Z\n# User@Host: {user}[{user}] @ {host} [{ip}]  Id: {:>6}\n# Query_time: {query_time:.6}  Lock_time: 0.{:06} Rows_sent: {}  Rows_examined: {} Thread_id: {} Errno: 0 Killed: 0 Bytes_received: {} Bytes_sent: {} Read_first: 0 Read_last: 0 Read_key: {} Read_next: {} Read_prev: 0 Read_rnd: 0 Read_rnd_next: {} Sort_merge_passes: 0 Sort_range_count: 0 Sort_rows: {} Sort_scan_count: 1 Created_tmp_disk_tables: 0 Created_tmp_tables: {} Start: 2026-11-21T10:00:00.000000Z End: 2026-11-21T10:00:01.000000Z\nSET timestamp={seconds};\n{sql};\n",
            i / 60 % 60, i % 60, rng.below(1_000_000), rng.below(100_000), rng.below(1000), rng.below(1000), rng.below(50_000_000),
            rng.below(100_000), rng.below(5000), rng.below(100_000), rng.below(1000), rng.below(1000), rng.below(1_000_000), rng.below(1000), rng.below(3)
        ),
        _ => format!(
            "# Time: 261121 10:{:02}:{:02}\n# User@Host: {user}[{user}] @ {host} [{ip}]\n# Thread_id: {}  Schema: shop  QC_hit: No\n# Query_time: {query_time:.6}  Lock_time: 0.{:06}  Rows_sent: {}  Rows_examined: {}\n# Rows_affected: {}  Bytes_sent: {}\n# Full_scan: Yes  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No\n# Filesort: No  Filesort_on_disk: No  Merge_passes: 0  Priority_queue: No\nSET timestamp={seconds};\n{sql};\n",
            i / 60 % 60, i % 60, rng.below(100_000), rng.below(1_000_000), rng.below(1000), rng.below(50_000_000), rng.below(1000), rng.below(5000)
        ),
    }
}

/// A statement of one of a few hundred shapes (`shape` picks the table, columns and kind; only the
/// literals vary), as a digest sees a real workload: a few hundred classes, not one per entry.
fn shaped_statement(shape: u64, rng: &mut Rng) -> String {
    let mut s = Rng(0x9E37_79B9_7F4A_7C15 ^ (shape + 1).wrapping_mul(0xD1B5_4A32_D192_ED03));
    let table = s.pick(TABLES);
    let (a, b, c) = (s.pick(COLUMNS), s.pick(COLUMNS), s.pick(COLUMNS));
    let alias = format!("t{}", shape % 7);
    match s.below(7) {
        0 | 1 => format!(
            "SELECT {a}, {b} FROM {table} WHERE {c} = {} AND status IN ({}, {}, {}) ORDER BY {a} ASC LIMIT {}, 50",
            rng.below(1_000_000), rng.below(100), rng.below(100), rng.below(100), rng.below(1000)
        ),
        2 => format!("UPDATE {table} SET {a} = '{}' WHERE id = {}", rng.next(), rng.below(1 << 30)),
        3 => format!("DELETE FROM {table} WHERE {b} < '2026-11-{:02} 00:00:00' LIMIT {}", 1 + rng.below(28), 100 + s.below(900)),
        4 => {
            let rows: Vec<String> = (0..1 + rng.below(40)).map(|i| format!("({i}, 'sku-{}', {})", rng.next(), rng.below(100))).collect();
            format!("INSERT INTO {table} ({a}, {b}, {c}) VALUES {}", rows.join(", "))
        }
        5 => format!(
            "SELECT {alias}.id, {alias}.{a}, SUM(o.total) AS spent\nFROM customers {alias}\nJOIN {table} o ON o.customer_id = {alias}.id\nWHERE o.created_at > '2026-10-{:02}' AND {alias}.{b} = 'active'\nGROUP BY {alias}.id, {alias}.{a}\nHAVING spent > {}\nORDER BY spent DESC",
            1 + rng.below(28), rng.below(10_000)
        ),
        _ => format!("SELECT /* report {} */ COUNT(*) FROM {table} WHERE {a} BETWEEN {} AND {}", rng.next(), rng.below(1000), 1000 + rng.below(1000)),
    }
}

/// A raw slow-log file of `count` entries over one day (2026-11-21, UTC) as `digest` and
/// pt-query-digest read it: the three header shapes of [`batch`], statements of 300 shapes chosen
/// with a skew (a few shapes most of the time, as in a real workload), and a `Query_time` typical
/// of its shape. About 800 bytes an entry (50,000 entries: about 40 MB).
pub fn slow_log(count: u64, seed: u64) -> Vec<u8> {
    const SHAPES: f64 = 300.0;
    let mut rng = Rng(seed);
    let mut out = Vec::with_capacity(count as usize * 720);
    for i in 0..count {
        let u = rng.below(1 << 20) as f64 / f64::from(1 << 20);
        let shape = (SHAPES * u * u * u) as u64;
        let mut sql = shaped_statement(shape, &mut rng);
        // Half the statements carry the application's leading comment (a request id, a trace),
        // as ORMs and tracing libraries write it; both tools drop it from the fingerprint.
        if rng.below(2) == 0 {
            sql = format!(
                "/* app=checkout-service controller={} action=show request_id={:016x}{:016x} traceparent=00-{:032x}-{:016x}-01 db_driver=mysql2 framework=rails-7.1 */ {sql}",
                rng.pick(TABLES), rng.next(), rng.next(), u128::from(rng.next()) << 64 | u128::from(rng.next()), rng.next()
            );
        }
        let typical = 0.05 + (shape % 17) as f64 * 0.4;
        let query_time = typical * (0.5 + rng.below(1000) as f64 / 1000.0);
        let second = i * 86_400 / count.max(1);
        out.extend_from_slice(entry_at(&mut rng, second, query_time, &sql).as_bytes());
    }
    out
}

/// One entry at `second` past midnight of 2026-11-21 UTC, in one of the three header shapes.
fn entry_at(rng: &mut Rng, second: u64, query_time: f64, sql: &str) -> String {
    let user = rng.pick(USERS);
    let (host, ip) = client(rng);
    let (h, m, s) = (second / 3600, second / 60 % 60, second % 60);
    let epoch = 1_795_219_200 + second;
    match rng.below(3) {
        0 => format!(
            "# Time: 2026-11-21T{h:02}:{m:02}:{s:02}.{:06}Z\n# User@Host: {user}[{user}] @ {host} [{ip}]  Id: {:>6}\n# Query_time: {query_time:.6}  Lock_time: 0.{:06} Rows_sent: {}  Rows_examined: {}\nuse shop;\nSET timestamp={epoch};\n{sql};\n",
            rng.below(1_000_000), rng.below(100_000), rng.below(1000), rng.below(1000), rng.below(5_000_000)
        ),
        1 => format!(
            "# Time: 2026-11-21T{h:02}:{m:02}:{s:02}.{:06}Z\n# User@Host: {user}[{user}] @ {host} [{ip}]  Id: {:>6}\n# Query_time: {query_time:.6}  Lock_time: 0.{:06} Rows_sent: {}  Rows_examined: {} Thread_id: {} Errno: 0 Killed: 0 Bytes_received: {} Bytes_sent: {} Read_first: 0 Read_last: 0 Read_key: {} Read_next: {} Read_prev: 0 Read_rnd: 0 Read_rnd_next: {} Sort_merge_passes: 0 Sort_range_count: 0 Sort_rows: {} Sort_scan_count: 1 Created_tmp_disk_tables: 0 Created_tmp_tables: {} Start: 2026-11-21T{h:02}:{m:02}:{s:02}.000000Z End: 2026-11-21T{h:02}:{m:02}:{s:02}.500000Z\nSET timestamp={epoch};\n{sql};\n",
            rng.below(1_000_000), rng.below(100_000), rng.below(1000), rng.below(1000), rng.below(5_000_000),
            rng.below(100_000), rng.below(5000), rng.below(100_000), rng.below(1000), rng.below(1000), rng.below(1_000_000), rng.below(1000), rng.below(3)
        ),
        _ => format!(
            "# Time: 261121 {h:2}:{m:02}:{s:02}\n# User@Host: {user}[{user}] @ {host} [{ip}]\n# Thread_id: {}  Schema: shop  QC_hit: No\n# Query_time: {query_time:.6}  Lock_time: 0.{:06}  Rows_sent: {}  Rows_examined: {}\n# Rows_affected: {}  Bytes_sent: {}\n# Full_scan: Yes  Full_join: No  Tmp_table: No  Tmp_table_on_disk: No\n# Filesort: No  Filesort_on_disk: No  Merge_passes: 0  Priority_queue: No\nSET timestamp={epoch};\n{sql};\n",
            rng.below(100_000), rng.below(1_000_000), rng.below(1000), rng.below(5_000_000), rng.below(1000), rng.below(5000)
        ),
    }
}

/// A subscription event of `count` entries (seeded: the same arguments give the same bytes), as
/// Lambda hands it over; returns its JSON and the size of its decompressed CloudWatch Logs payload.
pub fn batch(count: u64, seed: u64) -> (Vec<u8>, usize) {
    let mut rng = Rng(seed);
    let events: Vec<Value> = (0..count)
        .map(|i| json!({"id": format!("{:056}", 37_000_000 + i), "timestamp": 1_795_256_131_000u64 + i * 37, "message": entry(&mut rng, i)}))
        .collect();
    envelope(events)
}

/// One RDS PostgreSQL record (RDS's prefix `%t:%r:%u@%d:[%p]:`): a statement with its duration
/// most often, else an `execute` with its `DETAIL` parameters in the same event, auto_explain's
/// text plan, or a bare duration.
fn postgres_record(rng: &mut Rng, i: u64) -> String {
    let user = rng.pick(USERS);
    let (_, ip) = client(rng);
    let prefix = format!(
        "2026-11-21 10:{:02}:{:02} UTC:{ip}({}):{user}@shop:[{}]:",
        i / 60 % 60,
        i % 60,
        1024 + rng.below(60_000),
        1000 + rng.below(30_000)
    );
    let duration = format!("{}.{:03}", rng.below(30_000), rng.below(1000));
    let sql = statement(rng).replace('\n', "\n\t");
    match rng.below(20) {
        0..=11 => format!("{prefix}LOG:  duration: {duration} ms  statement: {sql}\n"),
        12..=16 => format!(
            "{prefix}LOG:  duration: {duration} ms  execute S_{}: SELECT * FROM orders WHERE customer_id = $1 AND status = $2\n{prefix}DETAIL:  parameters: $1 = '{}', $2 = 'paid'\n",
            rng.below(50),
            rng.below(1_000_000)
        ),
        17 => format!(
            "{prefix}LOG:  duration: {duration} ms  plan:\n\tQuery Text: {sql}\n\tSeq Scan on orders  (cost=0.00..{}.00 rows={} width=64)\n\t  Filter: (status = 'paid'::text)\n",
            rng.below(100_000),
            rng.below(10_000)
        ),
        _ => format!("{prefix}LOG:  duration: {duration} ms\n"),
    }
}

/// A subscription event of `count` records from an RDS PostgreSQL log group, like [`batch`].
pub fn postgres_batch(count: u64, seed: u64) -> (Vec<u8>, usize) {
    let mut rng = Rng(seed);
    let events: Vec<Value> = (0..count)
        .map(|i| json!({"id": format!("{:056}", 38_000_000 + i), "timestamp": 1_795_256_131_000u64 + i * 37, "message": postgres_record(&mut rng, i)}))
        .collect();
    envelope_for("/aws/rds/instance/prod-pg-1/postgresql", events)
}

/// One event whose message is a slow-log entry around a statement of about `bytes` bytes
/// (CloudWatch's largest event is 256 KiB): for how the cost grows with the size of one entry.
pub fn single(bytes: usize) -> (Vec<u8>, usize) {
    let sql = long_statement(bytes);
    let message = format!(
        "# Time: 2026-11-21T10:00:00.000000Z\n# User@Host: app[app] @  [10.0.0.1]  Id: 7\n# Query_time: 12.000000  Lock_time: 0.000100 Rows_sent: 1  Rows_examined: 100\nSET timestamp=1795256131;\n{sql};\n"
    );
    envelope(vec![json!({"id": format!("{:056}", 1), "timestamp": 1_795_256_131_000u64, "message": message})])
}

/// A SELECT of about `bytes` bytes with everything the fingerprint rewrites: numbers, strings,
/// comments, IN lists, NULL, booleans, line breaks.
pub fn long_statement(bytes: usize) -> String {
    let mut sql = String::from("SELECT o.id, o.total FROM orders o WHERE o.status = 'open'");
    let mut i = 0u64;
    while sql.len() < bytes {
        sql.push_str(&format!(
            "\n  OR (o.customer_id = {i} AND o.note = 'note {i}' AND o.sku IN ({}, {}, {}) /* c{i} */ AND o.deleted IS NULL AND o.flag = TRUE)",
            i * 3, i * 3 + 1, i * 3 + 2
        ));
        i += 1;
    }
    sql.push_str(" ORDER BY o.id ASC LIMIT 10, 50");
    sql
}

fn envelope(events: Vec<Value>) -> (Vec<u8>, usize) {
    envelope_for("/aws/rds/instance/prod-db-1/slowquery", events)
}

fn envelope_for(log_group: &str, events: Vec<Value>) -> (Vec<u8>, usize) {
    let payload = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": log_group,
        "logStream": "prod-db-1", "subscriptionFilters": ["rds-to-opensearch"], "logEvents": events
    });
    let raw = payload.to_string();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(raw.as_bytes()).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    (json!({"awslogs": {"data": data}}).to_string().into_bytes(), raw.len())
}
