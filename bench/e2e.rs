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
//! `BENCH_BASELINE=<path>` measures another build of the binary (an earlier commit's) beside this
//! one in the same run: cold starts alternate between the two, then each runs its warm series.

#[path = "../tests/common/mod.rs"]
mod common;
#[path = "generator.rs"]
#[allow(dead_code, reason = "the single-event generators are the pipeline benchmark's")]
mod generator;

use common::runtime_api::{function_command_for, FakeRuntimeApi};
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

fn spawn_with(binary: &str, api: &FakeRuntimeApi, standin: &StandIn, extra: &[(&str, &str)]) -> Command {
    let env = [
        ("OPENSEARCH_ENDPOINT", standin.url.as_str()),
        ("AWS_REGION", standin::REGION),
        ("AWS_ACCESS_KEY_ID", standin::ACCESS_KEY),
        ("AWS_SECRET_ACCESS_KEY", standin::SECRET_KEY),
        ("AWS_SESSION_TOKEN", "token"),
    ];
    let mut command = function_command_for(binary, api, &env);
    // As in Lambda, where neither is set (this machine may set both).
    command.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
    command.envs(extra.iter().copied()).stderr(Stdio::null());
    command
}

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

/// One cold start: a new process and a new stand-in, so the first request is this process's.
struct Cold {
    init: Duration,
    first_document: Duration,
    first_bulk: Duration,
    answered: Duration,
    /// From the invocation's start to its answer.
    invocation: Duration,
    cpu: Duration,
    faults: u64,
}

fn cold_start(binary: &str, event: &[u8], tag: &str, extra: &[(&str, &str)]) -> Cold {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let api = FakeRuntimeApi::start(vec![(tag.to_owned(), event.to_vec())]);
    // The debug mark of this crate only: other crates' debug logs would slow the start.
    let mut env = vec![("RUST_LOG", "info,logs_to_opensearch=debug")];
    env.extend_from_slice(extra);
    let mut command = spawn_with(binary, &api, &standin, &env);
    let start = Instant::now();
    let mut child = command.spawn().unwrap();
    let lines = timestamped_lines(&mut child);
    let answers = api.wait_for_answers(1, &mut child);
    let cpu = cpu_time(child.id()).unwrap_or_default();
    let faults = page_faults(child.id()).unwrap_or_default();
    child.kill().ok();
    child.wait().ok();
    let lines = lines.join().unwrap();
    let (mark, _) = lines
        .iter()
        .find(|(_, line)| line.contains("first document built"))
        .expect("the function logs its first document at debug level");
    assert_eq!(indexed(&answers[0]), EVENTS, "every event indexed");
    let next = api.first_next_at().unwrap();
    Cold {
        init: next - start,
        first_document: *mark - start,
        first_bulk: standin.first_bulk_at().unwrap() - start,
        answered: answers[0].at - start,
        invocation: answers[0].at - next,
        cpu,
        faults,
    }
}

/// Back to back on one warm process: one warm-up invocation, then `invocations` measured ones.
struct Warm {
    median: Duration,
    elapsed: Duration,
    total: u64,
    cpu_each: Option<Duration>,
    faults: Option<u64>,
    rss_kib: Option<u64>,
}

fn warm(binary: &str, event: &[u8], invocations: usize) -> Warm {
    let standin = StandIn::start(Auth::SigV4 { service: "es" });
    let api =
        FakeRuntimeApi::start((0..=invocations).map(|i| (format!("warm-{i}"), event.to_vec())).collect::<Vec<_>>());
    let mut child = spawn_with(binary, &api, &standin, &[]).stdout(Stdio::null()).spawn().unwrap();
    let first = api.wait_for_answers(1, &mut child);
    let (cpu_before, faults_before) = (cpu_time(child.id()), page_faults(child.id()));
    let answers = api.wait_for_answers(invocations + 1, &mut child);
    let (rss_kib, cpu_after, faults_after) = (peak_rss_kib(child.id()), cpu_time(child.id()), page_faults(child.id()));
    assert_eq!(first[0].request_id, answers[0].request_id);
    child.kill().ok();
    child.wait().ok();
    let total: u64 = answers.iter().skip(1).map(indexed).sum();
    assert_eq!(total, EVENTS * invocations as u64);
    let each: Vec<Duration> = answers.windows(2).map(|w| w[1].at - w[0].at).collect();
    Warm {
        median: median(each),
        elapsed: answers[invocations].at - answers[0].at,
        total,
        cpu_each: cpu_before.zip(cpu_after).map(|(before, after)| (after - before) / invocations as u32),
        faults: faults_before.zip(faults_after).map(|(before, after)| after - before),
        rss_kib,
    }
}

fn print_cold(runs: &[Cold], raw_bytes: usize) {
    let pick = |f: fn(&Cold) -> Duration| median(runs.iter().map(f).collect());
    println!("  initialised (first request for an invocation): {:>7.2} ms", ms(pick(|c| c.init)));
    println!(
        "  first event processed (its document built):    {:>7.2} ms (target ≤ 10 ms)",
        ms(pick(|c| c.first_document))
    );
    println!(
        "  first _bulk request at the stand-in:           {:>7.2} ms (the whole batch encoded)",
        ms(pick(|c| c.first_bulk))
    );
    println!("  invocation answered, all indexed:              {:>7.2} ms", ms(pick(|c| c.answered)));
    let mut faults: Vec<u64> = runs.iter().map(|c| c.faults).collect();
    faults.sort_unstable();
    println!(
        "  the process's CPU time by then: {:.0} ms; page faults: {}",
        ms(pick(|c| c.cpu)),
        faults[faults.len() / 2]
    );
    let cold = pick(|c| c.invocation);
    println!(
        "  single invocation, cold: {:.2} ms from invocation to answer, {:.0} events/s, {:.1} MB/s",
        ms(cold),
        EVENTS as f64 / cold.as_secs_f64(),
        raw_bytes as f64 / cold.as_secs_f64() / 1e6
    );
}

fn print_warm(warm: &Warm, invocations: usize, raw_bytes: usize) {
    println!(
        "  {invocations} back-to-back invocations, warm: median {:.2} ms each, {:.0} events/s, {:.1} MB/s over all",
        ms(warm.median),
        warm.total as f64 / warm.elapsed.as_secs_f64(),
        raw_bytes as f64 * invocations as f64 / warm.elapsed.as_secs_f64() / 1e6
    );
    if let Some(each) = warm.cpu_each {
        println!(
            "  the function's own CPU time: {:.1} ms per invocation ({:.0} events/s, {:.1} MB/s of CPU), the rest is the stand-in's",
            ms(each),
            EVENTS as f64 / each.as_secs_f64(),
            raw_bytes as f64 / each.as_secs_f64() / 1e6
        );
    }
    if let Some(faults) = warm.faults {
        // Invocations 2..=N+1: what a warm invocation still takes from the kernel (fresh heap
        // pages for buffers that grow with the batch and are not kept).
        println!(
            "  page faults (minor) of invocations 2..{}: {faults} in all, {:.0} per invocation",
            invocations + 1,
            faults as f64 / invocations as f64
        );
    }
    println!(
        "  peak RSS of the function after them: {} (target ≤ 24 MiB)",
        warm.rss_kib.map_or("n/a".to_owned(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
    );
}

#[allow(clippy::disallowed_methods, reason = "the benchmark's own knobs, not the function's configuration")]
fn main() {
    let quick = !std::env::args().any(|a| a == "--bench");
    let runs: usize =
        std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(if quick { 1 } else { 11 });
    let (event, raw_bytes) = generator::batch(EVENTS, 2);
    let ours = env!("CARGO_BIN_EXE_logs-to-opensearch");
    // Another build to measure beside this one, in the same run (an earlier commit's binary).
    let baseline = std::env::var("BENCH_BASELINE").ok().filter(|path| !path.is_empty());
    let mut binaries = vec![("this build", ours.to_owned())];
    if let Some(path) = baseline {
        assert!(std::path::Path::new(&path).is_file(), "BENCH_BASELINE={path}: no such file");
        binaries.push(("baseline (BENCH_BASELINE)", path));
    }
    for (name, binary) in &binaries {
        println!("{name}: {binary}\n  {:.1} MB", std::fs::metadata(binary).unwrap().len() as f64 / 1e6);
    }
    println!(
        "batch: {EVENTS} events, {:.2} MiB decompressed, {:.0} KiB as the Lambda event",
        raw_bytes as f64 / f64::from(1 << 20),
        event.len() as f64 / 1024.0
    );

    // Cold starts, the binaries alternating run by run, so a slow spell hits each alike.
    let mut cold: Vec<Vec<Cold>> = binaries.iter().map(|_| Vec::new()).collect();
    let (mut with_dir_init, mut with_dir_first_document) = (Vec::new(), Vec::new());
    for run in 0..runs {
        for (i, (_, binary)) in binaries.iter().enumerate() {
            cold[i].push(cold_start(binary, &event, &format!("cold-{i}-{run}"), &[]));
        }
        // The same start with the CA store as the TLS client finds it on its own (the bundle and
        // every file of the directory), which the binary avoids by naming the bundle alone.
        if let Some((file, dir)) = system_ca_store() {
            let with_dir =
                cold_start(ours, &event, &format!("cold-ca-{run}"), &[("SSL_CERT_FILE", file), ("SSL_CERT_DIR", dir)]);
            with_dir_init.push(with_dir.init);
            with_dir_first_document.push(with_dir.first_document);
        }
    }
    let invocations = if quick { 3 } else { WARM_INVOCATIONS };
    let warm: Vec<Warm> = binaries.iter().map(|(_, binary)| warm(binary, &event, invocations)).collect();

    for (i, (name, _)) in binaries.iter().enumerate() {
        println!("\n{name}: cold start (median of {runs}), from spawning the process:");
        print_cold(&cold[i], raw_bytes);
        if i == 0 && !with_dir_init.is_empty() {
            println!(
                "  the same, reading the CA directory too (SSL_CERT_DIR): initialised {:.2} ms, first event processed {:.2} ms",
                ms(median(with_dir_init.clone())),
                ms(median(with_dir_first_document.clone()))
            );
        }
        print_warm(&warm[i], invocations, raw_bytes);
    }
    println!("\n(the stand-in cluster runs in this process, on the same cores: its indexing is in every figure)");
}
