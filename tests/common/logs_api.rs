//! A stand-in of the CloudWatch Logs API on loopback (the JSON 1.1 protocol the AWS SDK speaks:
//! `POST /`, `X-Amz-Target: Logs_20140328.<Operation>`), holding log groups and their subscription
//! filters, with the limits and errors CloudWatch Logs has: two filters per log group,
//! `ResourceNotFoundException` for a missing log group or filter, pages of `DescribeLogGroups`.
//! Faults can be set per operation and log group. Also: a receiver for CloudFormation's
//! pre-signed `ResponseURL`.

use super::http::{self, Reply, Request, Response};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

pub const REGION: &str = "eu-west-1";
pub const ACCESS_KEY: &str = "AKIDLOGSSTANDIN";
pub const SECRET_KEY: &str = "logs-standin-secret-key";
/// `DescribeLogGroups` answers this many at most per page, so paging is exercised.
const PAGE: usize = 2;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub name: String,
    pub destination: String,
}

#[derive(Default)]
struct State {
    groups: BTreeMap<String, Vec<Filter>>,
    /// (operation, log group) → (status, __type, message).
    faults: BTreeMap<(String, String), (u16, String, String)>,
    /// Every call: operation and its JSON body.
    calls: Vec<(String, Value)>,
    unsigned: usize,
    /// Every answer waits this long (a slow or unreachable API).
    delay: Option<std::time::Duration>,
}

pub struct LogsApi {
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl LogsApi {
    pub fn start(groups: &[&str]) -> LogsApi {
        let state = Arc::new(Mutex::new(State::default()));
        for g in groups {
            state.lock().unwrap().groups.insert((*g).to_owned(), Vec::new());
        }
        let shared = Arc::clone(&state);
        let address = http::serve(Arc::new(move |request: Request| {
            let delay = shared.lock().unwrap().delay;
            match (serve(&shared, request), delay) {
                (Reply::Now(response), Some(by)) => Reply::Late(by, response),
                (reply, _) => reply,
            }
        }));
        LogsApi { url: format!("http://{address}"), state }
    }

    pub fn add_group(&self, name: &str, filters: &[(&str, &str)]) {
        let filters = filters.iter().map(|(n, d)| Filter { name: (*n).into(), destination: (*d).into() }).collect();
        self.state.lock().unwrap().groups.insert(name.to_owned(), filters);
    }

    pub fn filters(&self, group: &str) -> Vec<Filter> {
        self.state.lock().unwrap().groups.get(group).cloned().unwrap_or_default()
    }

    /// The log groups that have a filter named `name`.
    pub fn subscribed(&self, name: &str) -> Vec<String> {
        let state = self.state.lock().unwrap();
        state.groups.iter().filter(|(_, f)| f.iter().any(|f| f.name == name)).map(|(g, _)| g.clone()).collect()
    }

    pub fn fail(&self, operation: &str, group: &str, status: u16, kind: &str, message: &str) {
        self.state
            .lock()
            .unwrap()
            .faults
            .insert((operation.to_owned(), group.to_owned()), (status, kind.to_owned(), message.to_owned()));
    }

    /// The operations called, in order.
    pub fn calls(&self) -> Vec<String> {
        self.state.lock().unwrap().calls.iter().map(|(op, _)| op.clone()).collect()
    }

    /// The mutating calls (`Put…` / `Delete…`) and their log groups.
    pub fn changes(&self) -> Vec<(String, String)> {
        let state = self.state.lock().unwrap();
        state
            .calls
            .iter()
            .filter(|(op, _)| op.starts_with("Put") || op.starts_with("Delete"))
            .map(|(op, body)| (op.clone(), body["logGroupName"].as_str().unwrap_or_default().to_owned()))
            .collect()
    }

    /// Every answer from now on comes this late.
    pub fn delay(&self, by: std::time::Duration) {
        self.state.lock().unwrap().delay = Some(by);
    }

    pub fn unsigned_requests(&self) -> usize {
        self.state.lock().unwrap().unsigned
    }

    /// The environment that points the binary here, signed with the stand-in's credentials.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            ("AWS_REGION", REGION.to_owned()),
            ("AWS_ACCESS_KEY_ID", ACCESS_KEY.to_owned()),
            ("AWS_SECRET_ACCESS_KEY", SECRET_KEY.to_owned()),
            ("AWS_ENDPOINT_URL_CLOUDWATCH_LOGS", self.url.clone()),
        ]
    }
}

fn error(status: u16, kind: &str, message: &str) -> Reply {
    Reply::Now(Response::json(status, &json!({"__type": kind, "message": message})).with_json_11())
}

trait Json11 {
    fn with_json_11(self) -> Self;
}

impl Json11 for Response {
    fn with_json_11(mut self) -> Self {
        self.content_type = "application/x-amz-json-1.1";
        self
    }
}

fn serve(state: &Mutex<State>, request: Request) -> Reply {
    let Some(target) = request.header("x-amz-target") else {
        return error(400, "UnknownOperationException", "no X-Amz-Target");
    };
    let Some(operation) = target.strip_prefix("Logs_20140328.") else {
        return error(400, "UnknownOperationException", target);
    };
    let body: Value = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
    let mut state = state.lock().unwrap();
    let signed = request.header("authorization").is_some_and(|a| {
        a.starts_with("AWS4-HMAC-SHA256 ")
            && a.contains(&format!("Credential={ACCESS_KEY}/"))
            && a.contains(&format!("/{REGION}/logs/aws4_request"))
    });
    if !signed {
        state.unsigned += 1;
        return error(400, "IncompleteSignatureException", "the request is not signed for logs");
    }
    state.calls.push((operation.to_owned(), body.clone()));
    let group = body["logGroupName"].as_str().unwrap_or_default().to_owned();
    if let Some((status, kind, message)) = state.faults.get(&(operation.to_owned(), group.clone())).cloned() {
        return error(status, &kind, &message);
    }
    let not_found = || error(400, "ResourceNotFoundException", "The specified log group does not exist.");
    match operation {
        "DescribeLogGroups" => {
            let prefix = body["logGroupNamePrefix"].as_str().unwrap_or_default();
            let after = body["nextToken"].as_str().unwrap_or_default();
            let names: Vec<&String> =
                state.groups.keys().filter(|g| g.starts_with(prefix) && g.as_str() > after).take(PAGE + 1).collect();
            let page: Vec<Value> =
                names.iter().take(PAGE).map(|g| json!({"logGroupName": g, "arn": format!("arn:aws:logs:{REGION}:123456789012:log-group:{g}:*")})).collect();
            let mut answer = json!({"logGroups": page});
            if names.len() > PAGE {
                answer["nextToken"] = json!(names[PAGE - 1]);
            }
            Reply::Now(Response::json(200, &answer).with_json_11())
        }
        "DescribeSubscriptionFilters" => match state.groups.get(&group) {
            None => not_found(),
            Some(filters) => {
                let list: Vec<Value> = filters
                    .iter()
                    .map(|f| json!({"filterName": f.name, "logGroupName": group, "destinationArn": f.destination, "filterPattern": ""}))
                    .collect();
                Reply::Now(Response::json(200, &json!({"subscriptionFilters": list})).with_json_11())
            }
        },
        "PutSubscriptionFilter" => {
            let name = body["filterName"].as_str().unwrap_or_default().to_owned();
            let destination = body["destinationArn"].as_str().unwrap_or_default().to_owned();
            if body.get("filterPattern").is_none() {
                return error(400, "InvalidParameterException", "filterPattern is required");
            }
            let Some(filters) = state.groups.get_mut(&group) else { return not_found() };
            if let Some(existing) = filters.iter_mut().find(|f| f.name == name) {
                existing.destination = destination;
            } else if filters.len() >= 2 {
                return error(400, "LimitExceededException", "Resource limit exceeded.");
            } else {
                filters.push(Filter { name, destination });
            }
            Reply::Now(Response::json(200, &json!({})).with_json_11())
        }
        "DeleteSubscriptionFilter" => {
            let name = body["filterName"].as_str().unwrap_or_default();
            let Some(filters) = state.groups.get_mut(&group) else { return not_found() };
            let before = filters.len();
            filters.retain(|f| f.name != name);
            if filters.len() == before {
                return error(400, "ResourceNotFoundException", "The specified subscription filter does not exist.");
            }
            Reply::Now(Response::json(200, &json!({})).with_json_11())
        }
        other => error(400, "UnknownOperationException", other),
    }
}

/// One answer received: method, content type, body.
pub type Received = (String, Option<String>, Value);

/// CloudFormation's side of a custom resource: the pre-signed URL the answer is PUT to.
pub struct ResponseUrl {
    pub url: String,
    answers: Arc<Mutex<Vec<Received>>>,
}

impl ResponseUrl {
    pub fn start() -> ResponseUrl {
        let answers = Arc::new(Mutex::new(Vec::new()));
        let shared = Arc::clone(&answers);
        let address = http::serve(Arc::new(move |request: Request| {
            let body = serde_json::from_slice(&request.body).unwrap_or(Value::Null);
            shared.lock().unwrap().push((
                request.method.clone(),
                request.header("content-type").map(str::to_owned),
                body,
            ));
            Reply::Now(Response::text(200, ""))
        }));
        ResponseUrl {
            url: format!("http://{address}/cloudformation-custom-resource-response-euwest1/stack%7Cid?X-Amz-Signature=SECRETSIGNATURE"),
            answers,
        }
    }

    /// (method, content type, body) of each answer received.
    pub fn answers(&self) -> Vec<Received> {
        self.answers.lock().unwrap().clone()
    }
}
