//! `cargo bench --bench digest`: `logs-to-opensearch digest` against the real `pt-query-digest`
//! on the same generated slow log, side by side, in one run.
//!
//! The log (`generator::slow_log`): 50,000 entries (about 40 MB) over one day in the three header
//! shapes of MySQL 5.7, MySQL 8.0 with `log_slow_extra` and MariaDB, statements of 300 shapes with
//! a skew. Both tools write JSON (`digest --format json`, `pt-query-digest --output json`) to a
//! pipe that the benchmark drains, and the runs alternate, ours then pt's, so a slow spell of the
//! machine hits both. It prints:
//! - the median wall-clock time of each, MB/s and entries/s, and the ratio of throughputs;
//! - each process's peak RSS (`ru_maxrss` from `wait4`), and ours again on a log ten times smaller
//!   and on one twice as large: memory follows the classes (300 in all three), not the entries;
//! - in-process, `Digest::add` alone over the entries (no process, no file, no output);
//! - that both found the same number of statements (and of classes, but for what the agreement
//!   test lists: none occur in this log).
//!
//! `BENCH_RUNS=N` sets the runs per median (default 5); `BENCH_ENTRIES=N` the log's size.
//! Under `cargo test` (quick mode) it runs once on 2,000 entries. Without pt-query-digest on PATH
//! it measures ours only and says so.

#[path = "generator.rs"]
#[allow(dead_code, reason = "the pipeline benchmark's event generators")]
mod generator;

use std::io::Read;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// One run of a process: its wall-clock time, peak RSS in KiB and what it wrote.
struct Run {
    wall: Duration,
    peak_kib: u64,
    stdout: Vec<u8>,
}

fn run(mut command: Command) -> Run {
    command.stdout(Stdio::piped()).stderr(Stdio::null());
    let started = Instant::now();
    let mut child = command.spawn().unwrap_or_else(|e| panic!("{command:?}: {e}"));
    let mut stdout = Vec::new();
    child.stdout.take().unwrap().read_to_end(&mut stdout).unwrap();
    let mut status = 0;
    // SAFETY: rusage is plain data, zeroed is a valid value, and wait4 fills it for this child.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: the pid is our own child, not yet reaped (std's Child is never waited on here).
    let pid = unsafe { libc::wait4(child.id() as libc::pid_t, &mut status, 0, &mut usage) };
    let wall = started.elapsed();
    assert_eq!(pid, child.id() as libc::pid_t, "wait4");
    let status = std::process::ExitStatus::from_raw(status);
    assert!(status.success(), "{command:?}: {status}");
    std::mem::forget(child);
    Run { wall, peak_kib: usage.ru_maxrss as u64, stdout }
}

fn ours(log: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_logs-to-opensearch"));
    command.args(["digest", "--format", "json", "--limit", "1000000"]).arg(log).env_remove("AWS_LAMBDA_RUNTIME_API");
    command
}

fn pt(log: &Path) -> Command {
    let mut command = Command::new("pt-query-digest");
    command.args(["--output", "json", "--limit", "1000000"]).arg(log);
    command
}

fn median(mut values: Vec<Duration>) -> Duration {
    values.sort();
    values[values.len() / 2]
}

fn has_pt() -> bool {
    Command::new("pt-query-digest")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// (statements, classes) of a JSON report of either tool.
fn counts(json: &[u8], ours: bool) -> (u64, usize) {
    let v: serde_json::Value = serde_json::from_slice(json).unwrap();
    if ours {
        (v["overall"]["statements"].as_u64().unwrap(), v["classes"].as_array().unwrap().len())
    } else {
        (v["global"]["query_count"].as_u64().unwrap(), v["classes"].as_array().unwrap().len())
    }
}

/// Writes the log in a child process (this binary again): the generator's buffers would
/// otherwise stay in this process, and a child's peak RSS starts from its parent's at `fork`.
fn write_log(dir: &Path, entries: u64) -> (PathBuf, u64) {
    let path = dir.join(format!("slow-{entries}.log"));
    let status = Command::new(std::env::current_exe().unwrap())
        .arg("--write-log")
        .arg(&path)
        .arg(entries.to_string())
        .status()
        .unwrap();
    assert!(status.success(), "writing {}", path.display());
    let bytes = std::fs::metadata(&path).unwrap().len();
    (path, bytes)
}

#[allow(clippy::disallowed_methods, reason = "the benchmark's own switches")]
fn setting(name: &str) -> Option<u64> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let [_, flag, path, entries] = args.as_slice() {
        if flag == "--write-log" {
            std::fs::write(path, generator::slow_log(entries.parse().unwrap(), 17)).unwrap();
            return;
        }
    }
    let quick = !std::env::args().any(|a| a == "--bench");
    let entries = setting("BENCH_ENTRIES").unwrap_or(if quick { 2_000 } else { 50_000 });
    let runs = setting("BENCH_RUNS").unwrap_or(if quick { 1 } else { 5 }) as usize;
    let dir = std::env::temp_dir().join(format!("lto-bench-digest-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let (log, bytes) = write_log(&dir, entries);
    let smaller = write_log(&dir, (entries / 10).max(1));
    let larger = write_log(&dir, entries * 2);
    let mb = bytes as f64 / 1e6;
    println!("digest: {entries} entries, {mb:.1} MB, {runs} runs each, alternating");
    let with_pt = has_pt();
    if !with_pt {
        println!("pt-query-digest is not on PATH (apt-get install percona-toolkit): ours only");
    }

    let (mut our_walls, mut pt_walls) = (Vec::new(), Vec::new());
    let (mut our_peak, mut pt_peak) = (0, 0);
    let (mut our_counts, mut pt_counts) = ((0, 0), (0, 0));
    for _ in 0..runs {
        let r = run(ours(&log));
        our_counts = counts(&r.stdout, true);
        our_walls.push(r.wall);
        our_peak = our_peak.max(r.peak_kib);
        if with_pt {
            let r = run(pt(&log));
            pt_counts = counts(&r.stdout, false);
            pt_walls.push(r.wall);
            pt_peak = pt_peak.max(r.peak_kib);
        }
    }
    let ours_median = median(our_walls);
    let row = |name: &str, t: Duration, peak: u64| {
        println!(
            "  {name:<16} median {:>9.3} s  {:>8.1} MB/s  {:>9.0} entries/s  peak RSS {:>7.1} MiB",
            t.as_secs_f64(),
            mb / t.as_secs_f64(),
            entries as f64 / t.as_secs_f64(),
            peak as f64 / 1024.0
        );
    };
    row("digest", ours_median, our_peak);
    assert_eq!(our_counts.0, entries, "digest counts every generated entry");
    if with_pt {
        let pt_median = median(pt_walls);
        row("pt-query-digest", pt_median, pt_peak);
        println!(
            "  ratio: digest's throughput is {:.1}x pt-query-digest's (target >= 20x); statements {} / {}, classes {} / {}",
            pt_median.as_secs_f64() / ours_median.as_secs_f64(),
            our_counts.0,
            pt_counts.0,
            our_counts.1,
            pt_counts.1
        );
        assert_eq!(our_counts, pt_counts, "both tools see the same statements and classes");
    }

    // Memory against the number of entries: the same 300 shapes, a tenth and twice the entries.
    for (size, (path, size_bytes)) in [((entries / 10).max(1), smaller), (entries * 2, larger)] {
        let r = run(ours(&path));
        println!(
            "  digest of {:>7} entries ({:>5.1} MB): {:>4} classes, peak RSS {:>6.1} MiB, {:.3} s",
            size,
            size_bytes as f64 / 1e6,
            counts(&r.stdout, true).1,
            r.peak_kib as f64 / 1024.0,
            r.wall.as_secs_f64()
        );
        let _ = std::fs::remove_file(path);
    }

    // In-process: Digest::add alone.
    let text = std::fs::read(&log).unwrap();
    let texts: Vec<String> =
        logs_to_opensearch::slowlog_file::EntrySplitter::new(text.as_slice()).map(|e| e.unwrap().text).collect();
    let mut times = Vec::new();
    for _ in 0..runs.max(3) {
        let started = Instant::now();
        let mut digest = logs_to_opensearch::digest::Digest::new(Default::default(), Default::default());
        for t in &texts {
            digest.add(t);
        }
        std::hint::black_box(digest.class_count());
        times.push(started.elapsed());
    }
    let t = median(times);
    println!(
        "  Digest::add alone: median {:.3} s, {:.1} MB/s, {:.2} us an entry",
        t.as_secs_f64(),
        mb / t.as_secs_f64(),
        t.as_secs_f64() * 1e6 / entries as f64
    );
    let _ = std::fs::remove_dir_all(&dir);
}
