//! A stand-in of the Lambda Runtime API on loopback (the `/2018-06-01/runtime/invocation/…`
//! endpoints): it hands out events and records what the function answers, a response (the
//! summary) or an error with its `errorType`, and when.

use super::http::{self, Reply, Request, Response};
use serde_json::Value;
use std::collections::VecDeque;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Answer {
    pub request_id: String,
    pub kind: &'static str, // "response" | "error"
    pub error_type_header: Option<String>,
    pub body: Value,
    /// When the function posted it.
    pub at: Instant,
}

#[derive(Default)]
struct State {
    queue: VecDeque<(String, Vec<u8>)>,
    answers: Vec<Answer>,
    /// Each invocation's time limit (Lambda-Runtime-Deadline-Ms = now + this).
    budget_ms: u128,
    /// When the function first asked for an invocation (its initialisation was done).
    first_next_at: Option<Instant>,
    /// `/runtime/init/error` posts: the error type header and the body.
    init_errors: Vec<(Option<String>, Value)>,
    /// Answer `/next` without `Lambda-Runtime-Deadline-Ms` (a broken emulator).
    omit_deadline: bool,
}

/// The Runtime API's invocation endpoints, on the shared loopback HTTP server.
pub struct FakeRuntimeApi {
    pub address: String,
    state: Arc<Mutex<State>>,
}

impl FakeRuntimeApi {
    pub fn start(events: Vec<(String, Vec<u8>)>) -> Self {
        Self::with_budget(events, Duration::from_secs(60))
    }

    pub fn with_budget(events: Vec<(String, Vec<u8>)>, budget: Duration) -> Self {
        let state = Arc::new(Mutex::new(State {
            queue: events.into(),
            answers: Vec::new(),
            budget_ms: budget.as_millis(),
            first_next_at: None,
            init_errors: Vec::new(),
            omit_deadline: false,
        }));
        let shared = Arc::clone(&state);
        let address = http::serve(Arc::new(move |request: Request| runtime_api(&shared, request)));
        FakeRuntimeApi { address, state }
    }

    /// `/next` answers lack `Lambda-Runtime-Deadline-Ms` from now on.
    pub fn omit_deadline(&self) {
        self.state.lock().unwrap().omit_deadline = true;
    }

    /// What the function posted to `/runtime/init/error`.
    pub fn init_errors(&self) -> Vec<(Option<String>, Value)> {
        self.state.lock().unwrap().init_errors.clone()
    }

    /// When the function first asked for an invocation.
    pub fn first_next_at(&self) -> Option<Instant> {
        self.state.lock().unwrap().first_next_at
    }

    pub fn wait_for_answers(&self, count: usize, child: &mut Child) -> Vec<Answer> {
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

fn runtime_api(state: &Mutex<State>, request: Request) -> Reply {
    if request.path == "/2018-06-01/runtime/invocation/next" {
        state.lock().unwrap().first_next_at.get_or_insert_with(Instant::now);
        let (request_id, event) = loop {
            if let Some(next) = state.lock().unwrap().queue.pop_front() {
                break next;
            }
            // No more events: hold the request, as Lambda does between invocations.
            std::thread::sleep(Duration::from_millis(50));
        };
        let (budget, omit_deadline) = {
            let state = state.lock().unwrap();
            (state.budget_ms, state.omit_deadline)
        };
        let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() + budget;
        let mut headers = vec![
            ("Lambda-Runtime-Aws-Request-Id", request_id),
            ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
            (
                "Lambda-Runtime-Invoked-Function-Arn",
                "arn:aws:lambda:eu-west-1:123456789012:function:logs-to-opensearch".into(),
            ),
            (
                "Lambda-Runtime-Trace-Id",
                "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1".into(),
            ),
        ];
        if omit_deadline {
            headers.retain(|(name, _)| *name != "Lambda-Runtime-Deadline-Ms");
        }
        return Reply::Now(Response {
            status: 200,
            content_type: "application/json",
            body: event,
            headers: headers.into_iter().map(|(n, v)| (n.to_owned(), v)).collect(),
        });
    }
    if request.path == "/2018-06-01/runtime/init/error" {
        let error_type = request.header("lambda-runtime-function-error-type").map(str::to_owned);
        let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
        state.lock().unwrap().init_errors.push((error_type, body));
        return Reply::Now(Response::json(202, &serde_json::json!({"status": "OK"})));
    }
    if let Some(rest) = request.path.strip_prefix("/2018-06-01/runtime/invocation/") {
        let (request_id, kind) = rest.split_once('/').unwrap();
        state.lock().unwrap().answers.push(Answer {
            request_id: request_id.to_owned(),
            kind: if kind == "response" { "response" } else { "error" },
            error_type_header: request.header("lambda-runtime-function-error-type").map(str::to_owned),
            body: serde_json::from_slice(&request.body).unwrap_or(Value::Null),
            at: Instant::now(),
        });
        return Reply::Now(Response::json(202, &serde_json::json!({"status": "OK"})));
    }
    Reply::Now(Response::json(404, &serde_json::json!({"message": "not found"})))
}

/// The real binary as Lambda starts it, against `api`, with `env`: every configuration variable
/// cleared first, plus what Lambda always sets. Output is piped.
pub fn function_command(api: &FakeRuntimeApi, env: &[(&str, &str)]) -> Command {
    function_command_for(env!("CARGO_BIN_EXE_logs-to-opensearch"), api, env)
}

/// [`function_command`] for another build of the binary (the e2e benchmark's baseline).
#[allow(dead_code, reason = "only the e2e benchmark measures another build")]
pub fn function_command_for(binary: &str, api: &FakeRuntimeApi, env: &[(&str, &str)]) -> Command {
    let mut command = Command::new(binary);
    for var in logs_to_opensearch::config::VARIABLES {
        command.env_remove(var);
    }
    command
        .env("AWS_LAMBDA_RUNTIME_API", &api.address)
        .env("AWS_LAMBDA_FUNCTION_NAME", "logs-to-opensearch")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_LOG_FORMAT", "JSON")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    command
}

/// Runs the real binary as a Lambda function ([`function_command`]) until it has answered
/// `count` invocations; returns the answers and its stdout.
pub fn run_function(api: &FakeRuntimeApi, env: &[(&str, &str)], count: usize) -> (Vec<Answer>, String) {
    let mut child = function_command(api, env).spawn().unwrap();
    let answers = api.wait_for_answers(count, &mut child);
    child.kill().ok();
    let output = child.wait_with_output().unwrap();
    (answers, String::from_utf8_lossy(&output.stdout).into_owned())
}
