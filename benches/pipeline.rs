//! `cargo bench --bench pipeline`: throughput of the whole pure path on realistic batches.
//!
//! A deterministic generator builds CloudWatch Logs subscription events from RDS slow-query log
//! groups (MySQL 5.7, MySQL 8.0 with `log_slow_extra`, MariaDB; IPv4 and IPv6 clients; statements
//! from about 80 B to 4 KiB), then, measured side by side in one run, for each batch size:
//! - floor: base64 + gunzip + JSON parse (`event::decode`), nothing else;
//! - full: decode → extract every field → fingerprint → documents → `_bulk` body.
//!
//! Prints medians over repeated runs, MB/s of decompressed input, events/s and full/floor.
//! Single-threaded, like one Lambda invocation. `BENCH_RUNS=N` changes the number of runs.

use base64::Engine;
use flate2::{write::GzEncoder, Compression};
use logs_to_opensearch::config::Config;
use logs_to_opensearch::document::{DocumentBuilder, StreamMeta};
use logs_to_opensearch::event;
use logs_to_opensearch::handler::encode_logs;
use serde_json::{json, Value};
use std::hint::black_box;
use std::io::Write;
use std::time::{Duration, Instant};

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

/// A subscription event of `count` entries; returns it and its decompressed size.
fn batch(count: u64, seed: u64) -> (Value, usize) {
    let mut rng = Rng(seed);
    let events: Vec<Value> = (0..count)
        .map(|i| json!({"id": format!("{:056}", 37_000_000 + i), "timestamp": 1_795_256_131_000u64 + i * 37, "message": entry(&mut rng, i)}))
        .collect();
    let payload = json!({
        "messageType": "DATA_MESSAGE", "owner": "123456789012", "logGroup": "/aws/rds/instance/prod-db-1/slowquery",
        "logStream": "prod-db-1", "subscriptionFilters": ["rds-to-opensearch"], "logEvents": events
    });
    let raw = payload.to_string();
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(raw.as_bytes()).unwrap();
    let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
    (json!({"awslogs": {"data": data}}), raw.len())
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..3 {
        f();
    }
    median(
        (0..runs)
            .map(|_| {
                let start = Instant::now();
                f();
                start.elapsed()
            })
            .collect(),
    )
}

#[allow(clippy::disallowed_methods, reason = "the benchmark's own knob, not the function's configuration")]
fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run a single quick pass.
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs: usize =
        std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 1 } else { 21 });
    let config = Config::default();
    println!(
        "{:>7} {:>9} {:>11} {:>11} {:>11} {:>12} {:>6}",
        "events", "input", "floor MB/s", "full MB/s", "full ms", "full ev/s", "ratio"
    );
    let mut stages = Vec::new();
    for (count, seed) in [(1_000u64, 1u64), (1_165, 2), (10_000, 3)] {
        let (event, raw_bytes) = batch(count, seed);
        let floor = measure(runs, || {
            black_box(event::decode(black_box(event.clone())).unwrap());
        });
        let mut body_bytes = 0;
        // Exactly the handler's pure path: decode, then build and encode each document.
        let full = measure(runs, || {
            for batch in event::decode(black_box(event.clone())).unwrap() {
                let (encoded, _) = encode_logs(&config, batch, |_| {});
                body_bytes = encoded.body().len();
                black_box(encoded);
            }
        });
        let documents = measure(runs, || {
            for batch in event::decode(black_box(event.clone())).unwrap() {
                let meta = StreamMeta { owner: batch.owner, log_group: batch.log_group, log_stream: batch.log_stream };
                let mut builder = DocumentBuilder::new(&config.index_prefix, meta);
                for event in batch.log_events {
                    black_box(builder.build(event));
                }
            }
        });
        let queries: Vec<String> = event::decode(event.clone())
            .unwrap()
            .into_iter()
            .flat_map(|b| b.log_events)
            .filter_map(|e| logs_to_opensearch::slowlog::parse(&e.message)?.query)
            .collect();
        let fingerprints = measure(runs, || {
            for q in &queries {
                black_box(logs_to_opensearch::fingerprint::fingerprint(black_box(q)));
            }
        });
        let mbps = |d: Duration| raw_bytes as f64 / d.as_secs_f64() / 1e6;
        stages.push(format!(
            "{count:>7}: decode {:.2} ms, +documents {:.2} ms (of which fingerprints {:.2} ms), +bulk body {:.2} ms",
            floor.as_secs_f64() * 1e3,
            (documents - floor).as_secs_f64() * 1e3,
            fingerprints.as_secs_f64() * 1e3,
            (full.saturating_sub(documents)).as_secs_f64() * 1e3
        ));
        println!(
            "{count:>7} {:>8.2}M {:>11.1} {:>11.1} {:>11.2} {:>12.0} {:>6.2}",
            raw_bytes as f64 / (1 << 20) as f64,
            mbps(floor),
            mbps(full),
            full.as_secs_f64() * 1e3,
            count as f64 / full.as_secs_f64(),
            floor.as_secs_f64() / full.as_secs_f64(),
        );
        assert!(body_bytes > raw_bytes, "the body carries every entry");
    }
    println!("(medians of {runs} runs; MB/s of decompressed input; ratio = full throughput / floor throughput)");
    println!("where the time goes (medians; differences of medians):");
    for line in stages {
        println!("  {line}");
    }
}
