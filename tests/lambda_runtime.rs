//! The Lambda face, end to end: the real binary with `AWS_LAMBDA_RUNTIME_API` set runs the real
//! `lambda_runtime` loop against a stand-in of the Lambda Runtime API on loopback (the
//! `/2018-06-01/runtime/invocation/…` endpoints), which hands out events and records what the
//! function answers: a response (the summary) or an error with its `errorType`.

mod common;

use serde_json::Value;
use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
struct Answer {
    request_id: String,
    kind: &'static str, // "response" | "error"
    error_type_header: Option<String>,
    body: Value,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Vec<u8>)>,
    answers: Vec<Answer>,
}

/// A minimal HTTP/1.1 server speaking the Runtime API, one thread per connection (keep-alive).
struct FakeRuntimeApi {
    address: String,
    state: Arc<Mutex<State>>,
}

impl FakeRuntimeApi {
    fn start(events: Vec<(String, Vec<u8>)>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State { queue: events.into(), answers: Vec::new() }));
        let shared = Arc::clone(&state);
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = Arc::clone(&shared);
                std::thread::spawn(move || serve(stream, state));
            }
        });
        FakeRuntimeApi { address, state }
    }

    fn wait_for_answers(&self, count: usize, child: &mut Child) -> Vec<Answer> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let answers = self.state.lock().unwrap().answers.clone();
            if answers.len() >= count {
                return answers;
            }
            if let Some(status) = child.try_wait().unwrap() {
                panic!("the function exited early with {status}; answers so far: {answers:?}");
            }
            assert!(Instant::now() < deadline, "timed out; answers so far: {answers:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn serve(stream: TcpStream, state: Arc<Mutex<State>>) {
    stream.set_read_timeout(Some(Duration::from_secs(60))).ok();
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut writer = stream;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut headers = Vec::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end().to_owned();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let header = |name: &str| headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.clone());
        let body = if header("transfer-encoding").is_some_and(|v| v.contains("chunked")) {
            read_chunked(&mut reader)
        } else {
            let length: usize = header("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
            let mut body = vec![0; length];
            reader.read_exact(&mut body).unwrap();
            body
        };
        let path = request_line.split_whitespace().nth(1).unwrap_or("").to_owned();
        if path == "/2018-06-01/runtime/invocation/next" {
            let next = loop {
                if let Some(next) = state.lock().unwrap().queue.pop_front() {
                    break next;
                }
                // No more events: hold the request, as Lambda does between invocations.
                std::thread::sleep(Duration::from_millis(50));
            };
            let (request_id, event) = next;
            let deadline =
                std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + 60_000;
            write!(
                writer,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: {request_id}\r\n\
                 Lambda-Runtime-Deadline-Ms: {deadline}\r\nLambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:eu-west-1:123456789012:function:logs-to-opensearch\r\n\
                 Lambda-Runtime-Trace-Id: Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1\r\n\
                 Content-Length: {}\r\n\r\n",
                event.len()
            )
            .unwrap();
            writer.write_all(&event).unwrap();
        } else if let Some(rest) = path.strip_prefix("/2018-06-01/runtime/invocation/") {
            let (request_id, kind) = rest.split_once('/').unwrap();
            let kind = if kind == "response" { "response" } else { "error" };
            let body = serde_json::from_slice(&body).unwrap_or(Value::Null);
            state.lock().unwrap().answers.push(Answer {
                request_id: request_id.to_owned(),
                kind,
                error_type_header: header("lambda-runtime-function-error-type"),
                body,
            });
            writer.write_all(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n{\"status\":\"OK\"}\n").unwrap();
        } else {
            writer.write_all(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n").unwrap();
        }
        writer.flush().unwrap();
    }
}

fn read_chunked(reader: &mut impl BufRead) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size).unwrap();
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap(), 16).unwrap();
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk).unwrap();
        if size == 0 {
            return body;
        }
        body.extend_from_slice(&chunk[..size]);
    }
}

#[test]
fn runs_as_a_lambda_function_and_answers_each_invocation() {
    let event = |name: &str| std::fs::read(common::fixture(&format!("events/{name}"))).unwrap();
    let api = FakeRuntimeApi::start(vec![
        ("req-1".into(), event("rds-mysql80-slowquery.json")),
        ("req-2".into(), event("broken-gzip.json")),
        ("req-3".into(), event("control-message.json")),
        ("req-4".into(), event("kinesis-cross-account.json")),
    ]);
    let mut child = Command::new(env!("CARGO_BIN_EXE_logs-to-opensearch"))
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "logs-to-opensearch")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .env_remove("INDEX_PREFIX")
        .env_remove("INDEX_TYPE")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let answers = api.wait_for_answers(4, &mut child);
    child.kill().ok();
    let output = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);

    let by_id = |id: &str| answers.iter().find(|a| a.request_id == id).unwrap_or_else(|| panic!("no answer for {id}"));
    let first = by_id("req-1");
    assert_eq!(first.kind, "response");
    assert_eq!((first.body["events"].as_u64(), first.body["documents"].as_u64()), (Some(5), Some(5)));

    let broken = by_id("req-2");
    assert_eq!(broken.kind, "error");
    assert_eq!(broken.body["errorType"], "NonRetryable.Gzip");
    assert_eq!(broken.error_type_header.as_deref(), Some("unhandled"), "reported as a function error");
    assert!(broken.body["errorMessage"].as_str().unwrap().contains("awslogs.data: gzip layer"), "{:?}", broken.body);

    let control = by_id("req-3");
    assert_eq!((control.kind, control.body["control_messages"].as_u64()), ("response", Some(1)));

    let kinesis = by_id("req-4");
    assert_eq!((kinesis.body["batches"].as_u64(), kinesis.body["documents"].as_u64()), (Some(3), Some(4)));

    // With AWS_LAMBDA_LOG_FORMAT=JSON every log line is JSON; the dry-run body is NDJSON too.
    let lines: Vec<Value> =
        stdout.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}"))).collect();
    let summaries: Vec<&Value> = lines.iter().filter(|l| l["fields"]["message"] == "invocation summary").collect();
    assert_eq!(summaries.len(), 3, "one summary line per successful invocation:\n{stdout}");
    assert_eq!(summaries[0]["fields"]["documents"], 5);
    assert!(lines.iter().any(|l| l["index"]["_index"] == "cwl-aws-rds-instance-prod-db-1-slowquery-2026.11.21"));
    // The runtime logs the error with {:?}: it must read as a sentence, not a struct dump.
    let error_line = lines.iter().find(|l| l["level"] == "ERROR").expect("the failed invocation is logged");
    assert_eq!(error_line["span"]["requestId"], "req-2");
    assert!(
        error_line["fields"]["message"]
            .as_str()
            .unwrap()
            .starts_with("cannot decode the event: awslogs.data: gzip layer"),
        "{error_line}"
    );
}
