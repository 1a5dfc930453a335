//! `cargo bench --bench pipeline`: the whole pure path against its floor, side by side, in one run.
//!
//! For batches of 1,000, 1,165 (about 1 MiB decompressed) and 10,000 generated MySQL-family events
//! and 2,150 RDS PostgreSQL records (about 1 MiB too)
//! ([`generator`]), each starting from the Lambda event's JSON bytes:
//! - **floor**: base64 + gunzip + JSON parse of the same event into owned strings, nothing else
//!   (written here with the same crates, independent of ours);
//! - **full**: our path: decode → extract every field → fingerprint → documents → `_bulk` body;
//! - **+ SigV4**: full, then each request body as delivery builds it (cut at `BULK_MAX_BYTES`),
//!   signed with `aws-sigv4` exactly as the `opensearch` crate signs it (SHA-256 of the payload);
//! - **+ gzip + SigV4**: the same with `OPENSEARCH_COMPRESSION=gzip` (delivery's own gzip).
//!
//! It prints medians, MB/s of decompressed input, events/s, each path's throughput as a multiple
//! of the floor's, and peak RSS: each path runs again in a child process of its own (three times,
//! as a warm Lambda would) and reports its high-water mark (`VmHWM`), the event's bytes included.
//! Then how the cost of one event grows with its size (16 KiB to 250 KiB), and the fingerprint of
//! a 64 KiB statement.
//!
//! Single-threaded, like one invocation. `BENCH_RUNS=N` sets the runs per median (default 21;
//! `cargo test --bench pipeline` runs once, quickly); `BENCH_SIZES=1165,…` picks batch sizes.

#[path = "generator.rs"]
#[allow(dead_code, reason = "the digest benchmark's slow-log generator")]
mod generator;

use aws_sigv4::http_request::{sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use base64::Engine;
use logs_to_opensearch::bulk::{request_ranges, BulkBatch};
use logs_to_opensearch::config::Config;
use logs_to_opensearch::handler::encode_logs;
use logs_to_opensearch::{delivery, event, fingerprint};
use serde::Deserialize;
use std::borrow::Cow;
use std::hint::black_box;
use std::io::Read;
use std::process::Command;
use std::time::{Duration, Instant, SystemTime};

/// (engine, events, seed): the MySQL batches, and a PostgreSQL one of about 1 MiB decompressed, as
/// the second MySQL one (its records are shorter, so there are more of them).
const SIZES: [(&str, u64, u64); 4] =
    [("mysql", 1_000, 1), ("mysql", 1_165, 2), ("mysql", 10_000, 3), ("postgresql", 2_150, 2)];

#[derive(Clone, Copy, PartialEq)]
enum Path {
    Floor,
    Full,
    Signed,
    GzipSigned,
}

impl Path {
    const ALL: [Path; 4] = [Path::Floor, Path::Full, Path::Signed, Path::GzipSigned];

    fn name(self) -> &'static str {
        match self {
            Path::Floor => "floor",
            Path::Full => "full",
            Path::Signed => "+ SigV4",
            Path::GzipSigned => "+ gzip + SigV4",
        }
    }

    fn arg(self) -> &'static str {
        match self {
            Path::Floor => "floor",
            Path::Full => "full",
            Path::Signed => "signed",
            Path::GzipSigned => "gzip-signed",
        }
    }
}

/// The floor's view of the event: what any program must read to get at the log events.
#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    awslogs: AwsLogs<'a>,
}

#[derive(Deserialize)]
struct AwsLogs<'a> {
    #[serde(borrow)]
    data: Cow<'a, str>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
#[allow(dead_code, reason = "parsed, as the floor must, but not used")]
struct Payload {
    owner: String,
    log_group: String,
    log_stream: String,
    log_events: Vec<FloorEvent>,
}

#[derive(Deserialize)]
#[allow(dead_code, reason = "parsed, as the floor must, but not used")]
struct FloorEvent {
    id: String,
    timestamp: i64,
    message: String,
}

/// base64 + gunzip + JSON parse, nothing else.
fn floor(event: &[u8]) -> usize {
    let envelope: Envelope = serde_json::from_slice(event).unwrap();
    let gzipped = base64::engine::general_purpose::STANDARD.decode(envelope.awslogs.data.as_bytes()).unwrap();
    let mut json = Vec::with_capacity(gzipped.len() * 8);
    flate2::read::GzDecoder::new(&gzipped[..]).read_to_end(&mut json).unwrap();
    let payload: Payload = serde_json::from_slice(&json).unwrap();
    payload.log_events.len()
}

/// Our path up to the `_bulk` body, exactly as the handler runs it.
fn full(config: &Config, event: &[u8]) -> Vec<BulkBatch> {
    event::decode_bytes(event).unwrap().into_iter().map(|batch| encode_logs(config, batch, |_| {}).0).collect()
}

/// Then each request as delivery sends it: a slice of the batch's body of at most
/// `BULK_MAX_BYTES`, gzipped when asked, signed over the bytes sent.
fn signed(config: &Config, event: &[u8], gzip: bool, identity: &Identity) -> usize {
    let mut sent = 0;
    for batch in full(config, event) {
        let sizes: Vec<usize> = (0..batch.len()).map(|i| batch.item(i).len()).collect();
        let batch = batch.share();
        for range in request_ranges(&sizes, config.bulk_max_bytes) {
            // As delivery builds each request: a slice of the batch's body.
            let items: Vec<usize> = range.collect();
            let body = batch.request_body(&items);
            let body = if gzip { delivery::gzip(&body).unwrap().into() } else { body };
            sent += sign_body(&body, gzip, identity).len();
        }
        batch.recycle();
    }
    sent
}

/// `opensearch::http::aws_auth::sign_request`, step for step: the signature of a POST /_bulk.
fn sign_body(body: &[u8], gzip: bool, identity: &Identity) -> String {
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = v4::SigningParams::builder()
        .identity(identity)
        .name("es")
        .region("eu-west-1")
        .time(SystemTime::now())
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let mut headers = vec![("content-type", "application/x-ndjson")];
    if gzip {
        headers.push(("content-encoding", "gzip"));
    }
    let request = SignableRequest::new(
        "POST",
        "https://search-logs-abc123.eu-west-1.es.amazonaws.com/_bulk",
        headers.into_iter(),
        SignableBody::Bytes(body),
    )
    .unwrap();
    let (instructions, signature) = sign(request, &params).unwrap().into_parts();
    black_box(instructions);
    signature
}

fn identity() -> Identity {
    let credentials = aws_credential_types::Credentials::new(
        "AKIDEXAMPLE",
        "bench-secret",
        Some("bench-token".into()),
        None,
        "bench",
    );
    Identity::new(credentials, None)
}

fn run(path: Path, config: &Config, event: &[u8], identity: &Identity) {
    match path {
        Path::Floor => {
            black_box(floor(black_box(event)));
        }
        Path::Full => {
            // Each body goes back for the next batch, as the sink gives it back once sent.
            for batch in black_box(full(config, black_box(event))) {
                batch.recycle();
            }
        }
        Path::Signed => {
            black_box(signed(config, black_box(event), false, identity));
        }
        Path::GzipSigned => {
            black_box(signed(config, black_box(event), true, identity));
        }
    }
}

/// [`run`], never inlined, so a profiler can count one path alone.
#[inline(never)]
fn profiled(path: Path, config: &Config, event: &[u8], identity: &Identity) {
    run(path, config, event, identity);
}

fn median(mut times: Vec<Duration>) -> Duration {
    times.sort();
    times[times.len() / 2]
}

fn measure(runs: usize, mut f: impl FnMut()) -> Duration {
    for _ in 0..3.min(runs) {
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

/// The process's peak resident set (`VmHWM`), in KiB; Linux only.
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Child mode (`--rss <path> <event file>`): runs one path three times and prints its peak RSS.
fn rss_child(path: &str, file: &str) {
    let event = std::fs::read(file).unwrap();
    let config = Config::default();
    let identity = identity();
    if let Some(path) = Path::ALL.into_iter().find(|p| p.arg() == path) {
        for _ in 0..3 {
            run(path, &config, &event, &identity);
        }
    }
    println!("{}", peak_rss_kib().map_or("n/a".to_owned(), |k| k.to_string()));
}

/// Peak RSS of `path` on `event`, measured in a fresh process.
fn peak_rss_of(path: &str, event: &[u8]) -> String {
    let file = std::env::temp_dir().join(format!("lto-bench-event-{}.json", std::process::id()));
    std::fs::write(&file, event).unwrap();
    let output =
        Command::new(std::env::current_exe().unwrap()).args(["--rss", path, file.to_str().unwrap()]).output().unwrap();
    std::fs::remove_file(&file).ok();
    let text = String::from_utf8_lossy(&output.stdout).trim().to_owned();
    match text.parse::<f64>() {
        Ok(kib) => format!("{:.1} MiB", kib / 1024.0),
        Err(_) => text,
    }
}

#[allow(clippy::disallowed_methods, reason = "the benchmark's own knobs, not the function's configuration")]
fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(at) = args.iter().position(|a| a == "--rss") {
        return rss_child(&args[at + 1], &args[at + 2]);
    }
    // `cargo bench` passes --bench; `cargo test --bench pipeline` does not: one quick pass.
    let quick = !args.iter().any(|a| a == "--bench");
    let runs: usize =
        std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 1 } else { 21 });
    let sizes = std::env::var("BENCH_SIZES").ok();
    let config = Config::default();
    let identity = identity();

    println!(
        "{:>10} {:>7} {:>7}  {:<15} {:>8} {:>8} {:>10} {:>7} {:>10}",
        "engine", "events", "input", "path", "ms", "MB/s", "events/s", "×floor", "peak RSS"
    );
    for (engine, count, seed) in SIZES {
        if sizes.as_deref().is_some_and(|s| !s.split(',').any(|s| s == count.to_string())) {
            continue;
        }
        let (event, raw_bytes) =
            if engine == "postgresql" { generator::postgres_batch(count, seed) } else { generator::batch(count, seed) };
        if let Ok(which) = std::env::var("BENCH_PROFILE") {
            // For perf / callgrind: one path alone (`floor`, `signed`, `gzip`; else the full
            // path), `runs` times, inside `profiled` so callgrind can count it alone
            // (`--toggle-collect=pipeline::profiled`).
            let path = match which.as_str() {
                "floor" => Path::Floor,
                "signed" => Path::Signed,
                "gzip" => Path::GzipSigned,
                _ => Path::Full,
            };
            // One run first, so the lazily built regexes and buffers are not counted.
            run(path, &config, &event, &identity);
            for _ in 0..runs {
                profiled(path, &config, &event, &identity);
            }
            continue;
        }
        // Every path's output is checked once, so a broken path cannot look fast.
        assert_eq!(floor(&event), count as usize);
        let batches = full(&config, &event);
        assert_eq!(batches.iter().map(BulkBatch::len).sum::<usize>(), count as usize);
        assert!(batches.iter().map(|b| b.body().len()).sum::<usize>() > raw_bytes, "the body carries every entry");
        assert!(signed(&config, &event, true, &identity) > 0);

        // Interleaved rounds, so a slow spell of the machine hits every path alike.
        for path in Path::ALL {
            run(path, &config, &event, &identity); // warm-up
        }
        let mut times: Vec<Vec<Duration>> = vec![Vec::new(); Path::ALL.len()];
        for _ in 0..runs {
            for (i, path) in Path::ALL.into_iter().enumerate() {
                let start = Instant::now();
                run(path, &config, &event, &identity);
                times[i].push(start.elapsed());
            }
        }
        let medians: Vec<Duration> = times.into_iter().map(median).collect();
        let floor_time = medians[0];
        for (path, time) in Path::ALL.into_iter().zip(&medians) {
            let rss = if quick { "-".to_owned() } else { peak_rss_of(path.arg(), &event) };
            let first = path == Path::Floor;
            println!(
                "{:>10} {:>7} {:>7}  {:<15} {:>8.2} {:>8.1} {:>10.0} {:>7.2} {:>10}",
                if first { engine } else { "" },
                if first { count.to_string() } else { String::new() },
                if first { format!("{:.2}M", raw_bytes as f64 / f64::from(1 << 20)) } else { String::new() },
                path.name(),
                time.as_secs_f64() * 1e3,
                raw_bytes as f64 / time.as_secs_f64() / 1e6,
                count as f64 / time.as_secs_f64(),
                floor_time.as_secs_f64() / time.as_secs_f64(),
                rss,
            );
        }
        if !quick {
            println!(
                "{:>10} {:>7} {:>7}  {:<15} {:>8} {:>8} {:>10} {:>7} {:>10}",
                "",
                "",
                "",
                "(no work)",
                "",
                "",
                "",
                "",
                { peak_rss_of("none", &event) }
            );
        }
    }
    println!(
        "medians of {runs} interleaved runs; MB/s of decompressed input; ×floor = throughput / the floor's; \
         peak RSS of a process running the path three times"
    );
    if sizes.is_some() || std::env::var("BENCH_PROFILE").is_ok() {
        return;
    }

    println!("\none event, by the size of its statement (the full path; linear means flat ns/byte):");
    for kib in [16usize, 64, 250] {
        let (event, raw_bytes) = generator::single(kib * 1024);
        let time = measure(runs, || run(Path::Full, &config, &event, &identity));
        println!(
            "  {kib:>4} KiB: {:>8.3} ms, {:>6.2} ns/byte",
            time.as_secs_f64() * 1e3,
            time.as_secs_f64() * 1e9 / raw_bytes as f64
        );
    }
    let statement = generator::long_statement(64 * 1024);
    let time = measure(runs, || {
        black_box(fingerprint::fingerprint(black_box(&statement)));
    });
    println!("fingerprint of a {} B statement: {:.3} ms (target ≤ 2 ms)", statement.len(), time.as_secs_f64() * 1e3);
}
