//! `cargo bench --bench e2e`: the real binary, as Lambda runs it, end to end on loopback.
//!
//! The release binary runs with `AWS_LAMBDA_RUNTIME_API` set against the stand-in Lambda Runtime
//! API (`tests/common/runtime_api.rs`) and sends, SigV4-signed, to the OpenSearch stand-in
//! (`tests/common/standin.rs`), which checks the signature and indexes every document as a cluster
//! would, in this process, on the same two cores. The batch is the ~1 MiB one of the pipeline
//! benchmark (1,165 generated events). It prints:
//! - **cold start**: from spawning the process to its first request for an invocation (the
//!   initialisation: runtime, configuration, client), to its first event processed (the function
//!   logs `first document built` at debug level when the batch is decoded and its first entry is a
//!   document; the line is timestamped as it arrives on the pipe), to the first `_bulk` request arriving whole at the stand-in (every
//!   event of the batch encoded), and to the invocation's answer (all acknowledged); with the
//!   process's CPU time and page faults by then;
//! - **single invocation**: events per second from the invocation's start to its answer, cold;
//! - **50 back-to-back invocations** on one warm process and client: the median invocation and
//!   events per second over all 50, their CPU time and page faults;
//! - the process's peak RSS after them (`VmHWM`: runtime, client, buffers) and the binary's size.
//!
//! `BENCH_RUNS=N` sets the number of cold starts measured (default 11; 1 under `cargo test`).

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "generator.rs"]
#[allow(dead_code, reason = "the single-event generators are the pipeline benchmark's")]
mod generator;

use common::runtime_api::{function_command, FakeRuntimeApi};
use common::standin::{self, Auth, StandIn};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EVENTS: u64 = 1_165;
const WARM_INVOCATIONS: usize = 50;

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}

/// The function with credentials for `standin`, its logs discarded (a pipe left unread would fill).
/// This machine's CA bundle and directory, when it has both (Debian's).
fn system_ca_store() -> Option<(&'static str, &'static str)> {
    let (file, dir) = ("/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/certs");
    (std::path::Path::new(file).is_file() && std::path::Path::new(dir).is_dir()).then_some((file, dir))
}

fn spawn(api: &FakeRuntimeApi, standin: &StandIn) -> Child {
    spawn_with(api, standin, &[]).stdout(Stdio::null()).spawn().unwrap()
}

fn spawn_with(api: &FakeRuntimeApi, standin: &StandIn, extra: &[(&str, &str)]) -> Command {
    let env = [
        ("OPENSEARCH_ENDPOINT", standin.url.as_str()),
        ("AWS_REGION", standin::REGION),
        ("AWS_ACCESS_KEY_ID", standin::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", standin::SECRET_KEY),
        ("AWS_SESSION_TOKEN", "token"),
    ];
    let mut command = function_command(api, &env);
    // As in Lambda, where neither is set (this machine may set both).
    command.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
    command.envs(extra.iter().copied()).stderr(Stdio::null());
    command
}

/// Reads the child's log lines as they come, each with the moment it arrived.
fn timestamped_lines(child: &mut Child) -> std::thread::JoinHandle<Vec<(Instant, String)>> {
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        BufReader::new(stdout).lines().map_while(Result::ok).map(|line| (Instant::now(), line)).collect()
    })
}

fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Fields of `/proc/<pid>/stat` after the command name (which may hold spaces); Linux only.
fn stat_fields(pid: u32) -> Option<Vec<u64>> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(stat.rsplit_once(')')?.1.split_whitespace().map(|f| f.parse().unwrap_or(0)).collect())
}

/// CPU time (user + system) the process has used so far.
fn cpu_time(pid: u32) -> Option<Duration> {
    let fields = stat_fields(pid)?;
    Some(Duration::from_millis((fields.get(11)? + fields.get(12)?) * 10)) // USER_HZ is 100 on Linux
}

/// Page faults (minor) the process has taken so far.
fn page_faults(pid: u32) -> Option<u64> {
    stat_fields(pid)?.get(7).copied()
}

fn indexed(answer: &common::runtime_api::Answer) -> u64 {
    assert_eq!(answer.kind, "response", "the invocation failed: {:?}", answer.body);
    answer.body["indexed"].as_u64().unwrap_or(0)
}

#[allow(clippy::disallowed_methods, reason = "the benchmark's own knob, not the function's configuration")]
fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs: usize =
        std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 1 } else { 11 });
    let (event, raw_bytes) = generator::batch(EVENTS, 2);
    let binary = env!("CARGO_BIN_EXE_logs-to-opensearch");
    println!(
        "binary: {binary}\n  {:.1} MB; batch: {EVENTS} events, {:.2} MiB decompressed, {:.0} KiB as the Lambda event",
        std::fs::metadata(binary).unwrap().len() as f64 / 1e6,
        raw_bytes as f64 / f64::from(1 << 20),
        event.len() as f64 / 1024.0
    );

    // Cold starts: a new process (and a new stand-in, so the first request is this process's).
    let (mut init, mut first_bulk, mut answered, mut cold_rate) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    let (mut cold_cpu, mut cold_faults, mut first_document) = (Vec::new(), Vec::new(), Vec::new());
    let (mut with_dir_init, mut with_dir_first_document) = (Vec::new(), Vec::new());
    for run in 0..runs {
        let standin = StandIn::start(Auth::SigV4 { service: "es" });
        let api = FakeRuntimeApi::start(vec![(format!("cold-{run}"), event.clone())]);
        // The debug mark of this crate only: other crates' debug logs would slow the start.
        let mut command = spawn_with(&api, &standin, &[("RUST_LOG", "info,logs_to_opensearch=debug")]);
        let start = Instant::now();
        let mut child = command.spawn().unwrap();
        let lines = timestamped_lines(&mut child);
        let answers = api.wait_for_answers(1, &mut child);
        cold_cpu.push(cpu_time(child.id()).unwrap_or_default());
        cold_faults.push(page_faults(child.id()).unwrap_or_default());
        child.kill().ok();
        child.wait().ok();
        let lines = lines.join().unwrap();
        let (mark, _) = lines
            .iter()
            .find(|(_, line)| line.contains("first document built"))
            .expect("the function logs its first document at debug level");
        first_document.push(*mark - start);
        assert_eq!(indexed(&answers[0]), EVENTS, "every event indexed");
        let next = api.first_next_at().unwrap();
        init.push(next - start);
        first_bulk.push(standin.first_bulk_at().unwrap() - start);
        answered.push(answers[0].at - start);
        cold_rate.push(answers[0].at - next);

        // The same start with the CA store as the TLS client finds it on its own (the bundle and
        // every file of the directory), which the binary avoids by naming the bundle alone.
        if let Some((file, dir)) = system_ca_store() {
            let standin = StandIn::start(Auth::SigV4 { service: "es" });
            let api = FakeRuntimeApi::start(vec![(format!("cold-ca-{run}"), event.clone())]);
            let extra = [("RUST_LOG", "info,logs_to_opensearch=debug"), ("SSL_CERT_FILE", file), ("SSL_CERT_DIR", dir)];
            let mut command = spawn_with(&api, &standin, &extra);
            let start = Instant::now();
            let mut child = command.spawn().unwrap();
            let lines = timestamped_lines(&mut child);
            let answers = api.wait_for_answers(1, &mut child);
            child.kill().ok();
            child.wait().ok();
            let lines = lines.join().unwrap();
            let (mark, _) = lines.iter().find(|(_, line)| line.contains("first document built")).unwrap();
            assert_eq!(indexed(&answers[0]), EVENTS);
            with_dir_first_document.push(*mark - start);
            with_dir_init.push(api.first_next_at().unwrap() - start);
        }
    }
    println!("\ncold start (median of {runs}), from spawning the process:");
    println!("  initialised (first request for an invocation): {:>7.2} ms", ms(median(init)));
    println!(
        "  first event processed (its document built):    {:>7.2} ms (target ≤ 10 ms)",
        ms(median(first_document))
    );
    println!(
        "  first _bulk request at the stand-in:           {:>7.2} ms (the whole batch encoded)",
        ms(median(first_bulk))
    );
    println!("  invocation answered, all indexed:              {:>7.2} ms", ms(median(answered)));
    if !with_dir_init.is_empty() {
        println!(
            "  the same, reading the CA directory too (SSL_CERT_DIR): initialised {:.2} ms, first event processed {:.2} ms",
            ms(median(with_dir_init)),
            ms(median(with_dir_first_document))
        );
    }
    cold_faults.sort_unstable();
    println!(
        "  the process's CPU time by then: {:.0} ms; page faults: {}",
        ms(median(cold_cpu)),
        cold_faults[cold_faults.len() / 2]
    );
    let cold = median(cold_rate);
    println!(
        "single invocation, cold: {:.2} ms from invocation to answer, {:.0} events/s, {:.1} MB/s",
        ms(cold),
        EVENTS as f64 / cold.as_secs_f64(),
        raw_bytes as f64 / cold.as_secs_f64() / 1e6
    );

    // Back to back on one warm process: one warm-up invocation, then the measured ones.
    let invocations = if quick { 3 } else { WARM_INVOCATIONS };
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let api =
        FakeRuntimeApi::start((0..=invocations).map(|i| (format!("warm-{i}"), event.clone())).collect::<Vec<_>>());
    let mut child = spawn(&api, &standin);
    let first = api.wait_for_answers(1, &mut child);
    let (cpu_before, faults_before) = (cpu_time(child.id()), page_faults(child.id()));
    let answers = api.wait_for_answers(invocations + 1, &mut child);
    let (rss, cpu_after, faults_after) = (peak_rss_kib(child.id()), cpu_time(child.id()), page_faults(child.id()));
    assert_eq!(first[0].request_id, answers[0].request_id);
    child.kill().ok();
    child.wait().ok();
    let total: u64 = answers.iter().skip(1).map(indexed).sum();
    assert_eq!(total, EVENTS * invocations as u64);
    let each: Vec<Duration> = answers.windows(2).map(|w| w[1].at - w[0].at).collect();
    let elapsed = answers[invocations].at - answers[0].at;
    println!(
        "{invocations} back-to-back invocations, warm: median {:.2} ms each, {:.0} events/s, {:.1} MB/s over all",
        ms(median(each)),
        total as f64 / elapsed.as_secs_f64(),
        raw_bytes as f64 * invocations as f64 / elapsed.as_secs_f64() / 1e6
    );
    if let (Some(before), Some(after)) = (cpu_before, cpu_after) {
        let each = (after - before) / invocations as u32;
        println!(
            "  the function's own CPU time: {:.1} ms per invocation ({:.0} events/s, {:.1} MB/s of CPU), the rest is the stand-in's",
            ms(each),
            EVENTS as f64 / each.as_secs_f64(),
            raw_bytes as f64 / each.as_secs_f64() / 1e6
        );
    }
    if let (Some(before), Some(after)) = (faults_before, faults_after) {
        // Invocations 2..=N+1: what a warm invocation still takes from the kernel (fresh heap
        // pages for buffers that grow with the batch and are not kept).
        println!(
            "  page faults (minor) of invocations 2..{}: {} in all, {:.0} per invocation",
            invocations + 1,
            after - before,
            (after - before) as f64 / invocations as f64
        );
    }
    println!(
        "peak RSS of the function after them: {} (target ≤ 24 MiB)",
        rss.map_or("n/a".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
    );
    println!("(the stand-in cluster runs in this process, on the same cores: its indexing is in every figure)");
}
