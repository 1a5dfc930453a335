//! A strict OpenSearch stand-in on loopback, for tests (OpenSearch cannot be installed here).
//!
//! It checks what a real Amazon OpenSearch Service domain checks on everything we touch, and
//! answers with the documented shapes (`../shared/OPENSEARCH-FACTS.md`); when it accepts
//! something, a real cluster must accept it too:
//! - SigV4: region, service, signed headers, payload hash (`x-amz-content-sha256`), the
//!   signature itself against [`ACCESS_KEY`]/[`SECRET_KEY`]; refused with AWS's 403 bodies;
//! - `Content-Encoding: gzip` bodies (signed over the compressed bytes, as AWS does);
//! - `_bulk` NDJSON: the final newline, one action per item, no `_type` (OpenSearch 2 refuses it
//!   for the whole request), index-name rules, duplicate fields, `create` conflicts;
//! - dynamic mapping per index: the first value's type wins, later values are coerced as
//!   OpenSearch coerces (numeric strings into numbers, numbers into text) or refused with a
//!   per-item 400 `mapper_parsing_exception`;
//! - scripted faults: per-item 429s, whole-request 429/5xx, 413 over a size, an HTML 502 from a
//!   load balancer, a slow answer, a dropped connection.
//!
//! [`StandIn::front`] puts the same checks and faults in front of a real node instead: the
//! signature is verified here (the node has no SigV4), faults are injected here, and everything
//! else is forwarded, so the real cluster decides what is indexed and what is refused.

use super::http::{self, Reply, Request, Response};
use hmac::{Hmac, Mac};
use serde_json::{json, Map, Value};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, VecDeque};
use std::io::Read;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub const ACCESS_KEY: &str = "AKIDSTANDINEXAMPLE";
pub const SECRET_KEY: &str = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
pub const REGION: &str = "eu-west-1";

/// How requests must authenticate.
#[derive(Debug, Clone, PartialEq)]
pub enum Auth {
    None,
    /// SigV4 with the test credentials, for `es` (managed domains) or `aoss` (Serverless).
    SigV4 {
        service: &'static str,
    },
    /// HTTP basic auth, as the OpenSearch security plugin checks it on a self-managed cluster.
    Basic {
        username: &'static str,
        password: &'static str,
    },
}

/// A failure to inject into the next `_bulk` request.
#[derive(Debug, Clone)]
pub enum Fault {
    /// Items at these positions are rejected with a per-item 429 (write queue full).
    RejectItems(Vec<usize>),
    /// The whole request is answered with this status and OpenSearch's body for it (429, 5xx).
    Status(u16),
    /// A load balancer's HTML 502 page.
    HtmlBadGateway,
    /// The connection is closed without an answer.
    DropConnection,
    /// The request is handled, but answered after this pause.
    Slow(Duration),
    /// The whole request refused with 429 and `Retry-After: <seconds>`.
    RetryAfter(u64),
    /// No fault: the request is handled normally (lines a random script up with requests).
    Pass,
    /// This status, content type and body, as a proxy, a login page or a security plugin answers.
    Answer(u16, &'static str, String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Text,
    Long,
    Float,
    Boolean,
    Date,
    Object,
    /// An `ip` field: only IPv4 / IPv6 addresses.
    Ip,
}

#[derive(Debug, Default)]
struct Index {
    mappings: BTreeMap<String, FieldType>,
    docs: BTreeMap<String, (u64, Value)>,
    /// `dynamic: false` from the index template: unknown fields are kept in `_source`, not mapped.
    dynamic_false: bool,
    /// `date_detection: false` from the index template: strings are never mapped as dates.
    no_date_detection: bool,
    /// The ISM policy managing the index: from a policy's `ism_template` when the index was made
    /// after it, or attached by `_plugins/_ism/add`.
    policy_id: Option<String>,
}

#[derive(Debug)]
struct State {
    auth: Auth,
    max_body_bytes: Option<usize>,
    faults: VecDeque<Fault>,
    indices: BTreeMap<String, Index>,
    bulk_requests: usize,
    /// `_bulk` requests being handled now, and the most at once.
    bulk_in_flight: usize,
    most_bulk_in_flight: usize,
    /// How long each `_bulk` request takes before it is handled (a busy cluster's latency).
    bulk_latency: Duration,
    /// When the first `_bulk` request arrived, whole (before it is checked).
    first_bulk_at: Option<Instant>,
    next_seq_no: u64,
    /// An OpenSearch Serverless time-series collection: documents may not carry an `_id`.
    time_series: bool,
    /// Composable index templates by name.
    templates: BTreeMap<String, Value>,
    /// ISM policies by id, with their `_seq_no`.
    policies: BTreeMap<String, (u64, Value)>,
    /// Dashboards saved objects by (type, id).
    saved_objects: BTreeMap<(String, String), Value>,
    /// Faults for requests other than `_bulk`: (path prefix, faults used in order).
    path_faults: Vec<(String, VecDeque<Fault>)>,
    /// In front of a real node (`http://127.0.0.1:PORT`): forward instead of answering.
    upstream: Option<String>,
}

/// A running stand-in; cheap to clone.
#[derive(Clone)]
pub struct StandIn {
    /// `http://127.0.0.1:PORT`
    pub url: String,
    state: Arc<Mutex<State>>,
}

impl StandIn {
    pub fn start(auth: Auth) -> StandIn {
        Self::serve(auth, None)
    }

    /// Checks `auth` and injects the scripted faults like [`StandIn::start`], but forwards every
    /// request that gets through to the real node at `upstream` and answers with its answer.
    /// Items a [`Fault::RejectItems`] names are not forwarded: they are answered 429 here, as a
    /// node whose write queue is full answers them.
    pub fn front(auth: Auth, upstream: &str) -> StandIn {
        Self::serve(auth, Some(upstream.trim_end_matches('/').to_owned()))
    }

    fn serve(auth: Auth, upstream: Option<String>) -> StandIn {
        let state = Arc::new(Mutex::new(State {
            auth,
            max_body_bytes: None,
            faults: VecDeque::new(),
            indices: BTreeMap::new(),
            bulk_requests: 0,
            bulk_in_flight: 0,
            most_bulk_in_flight: 0,
            bulk_latency: Duration::ZERO,
            first_bulk_at: None,
            next_seq_no: 0,
            time_series: false,
            templates: BTreeMap::new(),
            policies: BTreeMap::new(),
            saved_objects: BTreeMap::new(),
            path_faults: Vec::new(),
            upstream,
        }));
        let shared = Arc::clone(&state);
        let address = http::serve(Arc::new(move |request: Request| handle(&shared, request)));
        StandIn { url: format!("http://{address}"), state }
    }

    /// Every `_bulk` request waits this long before it is handled, so requests sent at once are
    /// in flight together (see [`StandIn::most_bulk_in_flight`]).
    #[allow(dead_code)] // not every test binary uses it
    pub fn set_bulk_latency(&self, latency: Duration) {
        self.state.lock().unwrap().bulk_latency = latency;
    }

    /// The most `_bulk` requests that were being handled at once.
    #[allow(dead_code)] // not every test binary uses it
    pub fn most_bulk_in_flight(&self) -> usize {
        self.state.lock().unwrap().most_bulk_in_flight
    }

    /// Requests larger than this get Amazon OpenSearch Service's 413.
    pub fn set_max_body_bytes(&self, bytes: usize) {
        self.state.lock().unwrap().max_body_bytes = Some(bytes);
    }

    /// Behaves as an OpenSearch Serverless time-series collection, which refuses document ids.
    pub fn set_time_series(&self) {
        self.state.lock().unwrap().time_series = true;
    }

    /// Queues a fault for the next `_bulk` request (faults are used in order, one per request).
    pub fn script(&self, fault: Fault) {
        self.state.lock().unwrap().faults.push_back(fault);
    }

    /// Queues a fault for the next request whose path starts with `path` (not `_bulk`'s: see
    /// [`StandIn::script`]); faults are used in order, one per request.
    #[allow(dead_code)] // not every test binary uses it
    pub fn script_path(&self, path: &str, fault: Fault) {
        let mut state = self.state.lock().unwrap();
        match state.path_faults.iter_mut().find(|(p, _)| p == path) {
            Some((_, faults)) => faults.push_back(fault),
            None => state.path_faults.push((path.to_owned(), VecDeque::from([fault]))),
        }
    }

    /// Makes an empty index, as a document indexed before setup ran would have (templates and
    /// ISM templates apply as they are now), optionally under an ISM policy.
    #[allow(dead_code)] // not every test binary uses it
    pub fn create_index(&self, name: &str, policy_id: Option<&str>) {
        let mut state = self.state.lock().unwrap();
        let mut index = new_index(&state.templates, &state.policies, name);
        if let Some(policy) = policy_id {
            index.policy_id = Some(policy.to_owned());
        }
        state.indices.insert(name.to_owned(), index);
    }

    /// The ISM policy managing an index.
    #[allow(dead_code)] // not every test binary uses it
    pub fn index_policy(&self, index: &str) -> Option<String> {
        self.state.lock().unwrap().indices.get(index)?.policy_id.clone()
    }

    /// Drops the faults not yet used: the cluster is healthy again.
    #[allow(dead_code)] // not every test binary uses it
    pub fn clear_faults(&self) {
        self.state.lock().unwrap().faults.clear();
    }

    pub fn document(&self, index: &str, id: &str) -> Option<Value> {
        self.state.lock().unwrap().indices.get(index)?.docs.get(id).map(|(_, doc)| doc.clone())
    }

    pub fn version(&self, index: &str, id: &str) -> Option<u64> {
        self.state.lock().unwrap().indices.get(index)?.docs.get(id).map(|(version, _)| *version)
    }

    /// Number of documents in an index (0 when it does not exist).
    pub fn count(&self, index: &str) -> usize {
        self.state.lock().unwrap().indices.get(index).map_or(0, |i| i.docs.len())
    }

    pub fn indices(&self) -> Vec<String> {
        self.state.lock().unwrap().indices.keys().cloned().collect()
    }

    pub fn mapping(&self, index: &str, field: &str) -> Option<FieldType> {
        self.state.lock().unwrap().indices.get(index)?.mappings.get(field).copied()
    }

    pub fn bulk_requests(&self) -> usize {
        self.state.lock().unwrap().bulk_requests
    }

    /// When the first `_bulk` request arrived (its body read whole).
    pub fn first_bulk_at(&self) -> Option<Instant> {
        self.state.lock().unwrap().first_bulk_at
    }

    pub fn template(&self, name: &str) -> Option<Value> {
        self.state.lock().unwrap().templates.get(name).cloned()
    }

    pub fn policy(&self, id: &str) -> Option<Value> {
        self.state.lock().unwrap().policies.get(id).map(|(_, p)| p.clone())
    }

    /// Saved objects imported into Dashboards, as `(type, id)`.
    pub fn saved_objects(&self) -> Vec<(String, String)> {
        self.state.lock().unwrap().saved_objects.keys().cloned().collect()
    }
}

/// An OpenSearch index pattern (`*` wildcards) against an index name.
pub fn pattern_matches(pattern: &str, index: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == index,
        Some((prefix, rest)) => {
            index.starts_with(prefix) && (prefix.len()..=index.len()).any(|at| pattern_matches(rest, &index[at..]))
        }
    }
}

/// A new index, with the mappings of the highest-priority template whose patterns match it, and
/// under the ISM policy whose `ism_template` matches it (the highest priority).
fn new_index(templates: &BTreeMap<String, Value>, policies: &BTreeMap<String, (u64, Value)>, name: &str) -> Index {
    let policy_id = policies
        .iter()
        .filter_map(|(id, (_, policy))| {
            let templates = policy["policy"]["ism_template"].as_array()?;
            let matching = templates.iter().filter(|t| {
                t["index_patterns"]
                    .as_array()
                    .is_some_and(|p| p.iter().any(|p| p.as_str().is_some_and(|p| pattern_matches(p, name))))
            });
            matching.map(|t| t["priority"].as_u64().unwrap_or(0)).max().map(|priority| (priority, id))
        })
        .max()
        .map(|(_, id)| id.clone());
    let mut index = new_index_mappings(templates, name);
    index.policy_id = policy_id;
    index
}

fn new_index_mappings(templates: &BTreeMap<String, Value>, name: &str) -> Index {
    let matching = templates.values().filter(|t| {
        t["index_patterns"]
            .as_array()
            .is_some_and(|p| p.iter().any(|p| p.as_str().is_some_and(|p| pattern_matches(p, name))))
    });
    let Some(template) = matching.max_by_key(|t| t["priority"].as_u64().unwrap_or(0)) else { return Index::default() };
    let mappings = &template["template"]["mappings"];
    let mut index = Index {
        dynamic_false: mappings["dynamic"] == json!(false) || mappings["dynamic"] == "false",
        no_date_detection: mappings["date_detection"] == json!(false),
        ..Index::default()
    };
    for (field, mapping) in mappings["properties"].as_object().into_iter().flatten() {
        let field_type = match mapping["type"].as_str() {
            Some("keyword" | "text" | "wildcard") => FieldType::Text,
            Some("long" | "integer" | "short" | "byte") => FieldType::Long,
            Some("double" | "float" | "half_float" | "scaled_float") => FieldType::Float,
            Some("boolean") => FieldType::Boolean,
            Some("date") => FieldType::Date,
            Some("ip") => FieldType::Ip,
            _ => FieldType::Object,
        };
        index.mappings.insert(field.clone(), field_type);
    }
    index
}

/// `PUT _index_template/<name>`: what OpenSearch checks of a composable template.
fn put_template(state: &Mutex<State>, name: &str, body: &[u8]) -> Reply {
    let Ok(template) = serde_json::from_slice::<Value>(body) else {
        return refuse(400, "parse_exception", "request body is required and must be JSON");
    };
    let patterns: Vec<&str> =
        template["index_patterns"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    if patterns.is_empty() {
        return refuse(400, "action_request_validation_exception", "Validation Failed: 1: index patterns are missing;");
    }
    if let Some(unknown) = template.as_object().unwrap().keys().find(|k| {
        !matches!(
            k.as_str(),
            "index_patterns" | "template" | "priority" | "version" | "_meta" | "composed_of" | "data_stream"
        )
    }) {
        return refuse(400, "x_content_parse_exception", &format!("[index_template] unknown field [{unknown}]"));
    }
    for (field, mapping) in template["template"]["mappings"]["properties"].as_object().into_iter().flatten() {
        let known = ["keyword", "text", "long", "integer", "double", "float", "boolean", "date", "ip", "object"];
        if !mapping["type"].as_str().is_some_and(|t| known.contains(&t)) {
            // As OpenSearch answers (checked against the real node): the composition fails,
            // with the mapper's refusal as its cause.
            let cause = format!(
                "No handler for type [{}] declared on field [{field}]",
                mapping["type"].as_str().unwrap_or("?")
            );
            let reason = format!("composable template [{name}] template after composition is invalid");
            let mut body = error_body(400, "illegal_argument_exception", &reason);
            body["error"]["caused_by"] = json!({"type": "illegal_argument_exception", "reason": format!("invalid composite mappings for [{name}]"),
                "caused_by": {"type": "mapper_parsing_exception", "reason": format!("Failed to parse mapping [_doc]: {cause}")}});
            return Reply::Now(Response::json(400, &body));
        }
    }
    let priority = template["priority"].as_u64().unwrap_or(0);
    let mut state = state.lock().unwrap();
    for (other_name, other) in &state.templates {
        let overlap = other["index_patterns"].as_array().into_iter().flatten().filter_map(Value::as_str).any(|o| {
            patterns
                .iter()
                .any(|p| pattern_matches(p, o.trim_end_matches('*')) || pattern_matches(o, p.trim_end_matches('*')))
        });
        if other_name != name && overlap && other["priority"].as_u64().unwrap_or(0) == priority {
            return refuse(
                400,
                "illegal_argument_exception",
                &format!("index template [{name}] has index patterns {patterns:?} matching patterns from existing templates [{other_name}] that have the same priority [{priority}], multiple index templates may not match during index creation, please use a different priority"),
            );
        }
    }
    state.templates.insert(name.to_owned(), template);
    Reply::Now(Response::json(200, &json!({"acknowledged": true})))
}

/// `GET` / `PUT _plugins/_ism/policies/<id>`: an existing policy is only replaced with the
/// `if_seq_no` / `if_primary_term` of the version read, as the ISM plugin wants.
fn ism_policy(state: &Mutex<State>, method: &str, id: &str, query: &str, body: &[u8]) -> Reply {
    let mut state = state.lock().unwrap();
    if method == "GET" {
        return match state.policies.get(id) {
            Some((seq_no, policy)) => Reply::Now(Response::json(
                200,
                &json!({"_id": id, "_version": 1, "_seq_no": seq_no, "_primary_term": 1, "policy": policy["policy"]}),
            )),
            None => refuse(404, "status_exception", "Policy not found"),
        };
    }
    let Ok(policy) = serde_json::from_slice::<Value>(body) else {
        return refuse(400, "parse_exception", "request body is required and must be JSON");
    };
    let states = policy["policy"]["states"].as_array();
    let default_state = policy["policy"]["default_state"].as_str();
    if states.is_none_or(|s| !s.iter().any(|s| s["name"].as_str() == default_state)) {
        return refuse(400, "illegal_argument_exception", "Policy must have a default_state that is one of its states");
    }
    let seq_no = state.next_seq_no;
    state.next_seq_no += 1;
    match state.policies.get(id) {
        Some((current, _)) => {
            if !query.contains(&format!("if_seq_no={current}")) || !query.contains("if_primary_term=1") {
                return refuse(
                    409,
                    "version_conflict_engine_exception",
                    &format!("[{id}]: version conflict, required seqNo and primaryTerm to update a policy"),
                );
            }
            state.policies.insert(id.to_owned(), (seq_no, policy));
            Reply::Now(Response::json(200, &json!({"_id": id, "_seq_no": seq_no, "_primary_term": 1})))
        }
        None => {
            state.policies.insert(id.to_owned(), (seq_no, policy));
            Reply::Now(Response::json(201, &json!({"_id": id, "_seq_no": seq_no, "_primary_term": 1})))
        }
    }
}

/// `GET _plugins/_ism/explain/<patterns>`: each matching index with its policy (null keys for an
/// index no policy manages), and how many are managed; ISM's answer shape.
fn ism_explain(state: &Mutex<State>, patterns: &str) -> Reply {
    let state = state.lock().unwrap();
    let mut answer = serde_json::Map::new();
    let mut managed = 0;
    for (name, index) in &state.indices {
        if !patterns.split(',').any(|p| pattern_matches(p, name)) {
            continue;
        }
        let entry = match &index.policy_id {
            Some(id) => {
                managed += 1;
                json!({
                    "index.plugins.index_state_management.policy_id": id,
                    "index.opendistro.index_state_management.policy_id": id,
                    "index": name, "index_uuid": format!("uuid-{name}"), "policy_id": id, "enabled": true
                })
            }
            None => json!({
                "index.plugins.index_state_management.policy_id": null,
                "index.opendistro.index_state_management.policy_id": null,
                "enabled": null
            }),
        };
        answer.insert(name.clone(), entry);
    }
    answer.insert("total_managed_indices".into(), json!(managed));
    Reply::Now(Response::json(200, &Value::Object(answer)))
}

/// `POST _plugins/_ism/add/<patterns>` with `{"policy_id"}`: attaches the policy to each matching
/// index without one; those with one are named in `failed_indices`, as ISM does.
fn ism_add(state: &Mutex<State>, patterns: &str, body: &[u8]) -> Reply {
    let Some(policy_id) =
        serde_json::from_slice::<Value>(body).ok().and_then(|b| b["policy_id"].as_str().map(str::to_owned))
    else {
        return refuse(400, "illegal_argument_exception", "Missing policy_id");
    };
    let mut state = state.lock().unwrap();
    if !state.policies.contains_key(&policy_id) {
        return refuse(404, "status_exception", &format!("Could not find policy={policy_id}"));
    }
    let (mut updated, mut failed) = (0, Vec::new());
    for (name, index) in
        state.indices.iter_mut().filter(|(name, _)| patterns.split(',').any(|p| pattern_matches(p, name)))
    {
        if index.policy_id.is_some() {
            failed.push(json!({
                "index_name": name, "index_uuid": format!("uuid-{name}"),
                "reason": "This index already has a policy, use the update policy API to update index policies"
            }));
        } else {
            index.policy_id = Some(policy_id.clone());
            updated += 1;
        }
    }
    Reply::Now(Response::json(
        200,
        &json!({"updated_indices": updated, "failures": !failed.is_empty(), "failed_indices": failed}),
    ))
}

/// `POST <dashboards>/api/saved_objects/_import?overwrite=true`: a multipart form with one NDJSON
/// file of saved objects; Dashboards wants the `osd-xsrf` header.
fn import_saved_objects(state: &Mutex<State>, request: &Request) -> Reply {
    if request.header("osd-xsrf").is_none() {
        return Reply::Now(Response::json(
            400,
            &json!({"statusCode": 400, "error": "Bad Request", "message": "Request must contain a osd-xsrf header."}),
        ));
    }
    let Some(boundary) = request.header("content-type").and_then(|c| c.split("boundary=").nth(1)) else {
        return Reply::Now(Response::json(415, &json!({"statusCode": 415, "error": "Unsupported Media Type"})));
    };
    let text = String::from_utf8_lossy(&request.body);
    let delimiter = format!("--{}", boundary.trim_matches('"'));
    let Some(part) = text.split(delimiter.as_str()).find(|p| p.contains("name=\"file\"")) else {
        return Reply::Now(Response::json(
            400,
            &json!({"statusCode": 400, "error": "Bad Request", "message": "[request body.file]: expected value of type [Stream]"}),
        ));
    };
    let Some((_, ndjson)) = part.split_once("\r\n\r\n") else {
        return Reply::Now(Response::json(
            400,
            &json!({"statusCode": 400, "error": "Bad Request", "message": "malformed part"}),
        ));
    };
    let overwrite = request.query.contains("overwrite=true");
    let mut state = state.lock().unwrap();
    let (mut imported, mut errors) = (0, Vec::new());
    for line in ndjson.trim_end_matches("\r\n").lines().filter(|l| !l.trim().is_empty()) {
        let Ok(object) = serde_json::from_str::<Value>(line) else {
            return Reply::Now(Response::json(
                400,
                &json!({"statusCode": 400, "error": "Bad Request", "message": "Unexpected token in JSON"}),
            ));
        };
        let (Some(kind), Some(id)) = (object["type"].as_str(), object["id"].as_str()) else { continue };
        let key = (kind.to_owned(), id.to_owned());
        if state.saved_objects.contains_key(&key) && !overwrite {
            errors.push(json!({"id": id, "type": kind, "error": {"type": "conflict"}}));
            continue;
        }
        state.saved_objects.insert(key, object);
        imported += 1;
    }
    Reply::Now(Response::json(200, &json!({"success": errors.is_empty(), "successCount": imported, "errors": errors})))
}

fn error_body(status: u16, kind: &str, reason: &str) -> Value {
    // OpenSearch's whole-request error shape.
    json!({
        "error": {"root_cause": [{"type": kind, "reason": reason}], "type": kind, "reason": reason},
        "status": status
    })
}

fn handle(state: &Mutex<State>, request: Request) -> Reply {
    if request.path != "/_bulk" {
        return answer(state, request);
    }
    let latency = {
        let mut state = state.lock().unwrap();
        state.first_bulk_at.get_or_insert_with(Instant::now);
        state.bulk_in_flight += 1;
        state.most_bulk_in_flight = state.most_bulk_in_flight.max(state.bulk_in_flight);
        state.bulk_latency
    };
    std::thread::sleep(latency);
    let reply = answer(state, request);
    state.lock().unwrap().bulk_in_flight -= 1;
    reply
}

fn answer(state: &Mutex<State>, request: Request) -> Reply {
    let (auth, max_body_bytes, upstream) = {
        let state = state.lock().unwrap();
        (state.auth.clone(), state.max_body_bytes, state.upstream.clone())
    };
    match auth {
        Auth::SigV4 { service } => {
            if let Err(response) = verify_sigv4(&request, service) {
                return Reply::Now(response);
            }
        }
        Auth::Basic { username, password } => {
            use base64::Engine;
            let expected = base64::engine::general_purpose::STANDARD.encode(format!("{username}:{password}"));
            if request.header("authorization") != Some(&format!("Basic {expected}")) {
                // The security plugin's answer: 401, a plain "Unauthorized" and a challenge.
                let mut response = Response::html(401, "Unauthorized");
                response.content_type = "text/plain; charset=UTF-8";
                response.headers.push(("www-authenticate".into(), "Basic realm=\"OpenSearch Security\"".into()));
                return Reply::Now(response);
            }
        }
        Auth::None => {}
    }
    if let Some(max) = max_body_bytes {
        if request.body.len() > max {
            // Amazon OpenSearch Service, not OpenSearch: note `Message`.
            return Reply::Now(Response::json(413, &json!({"Message": format!("Request size exceeded {max} bytes")})));
        }
    }
    let body = if request.header("content-encoding").is_some_and(|e| e.eq_ignore_ascii_case("gzip")) {
        let mut plain = Vec::new();
        if flate2::read::GzDecoder::new(&request.body[..]).read_to_end(&mut plain).is_err() {
            return Reply::Now(Response::json(
                400,
                &error_body(400, "parse_exception", "request body is not valid gzip"),
            ));
        }
        plain
    } else {
        request.body.clone()
    };
    if let Some(upstream) = upstream {
        return forward(state, &upstream, &request, &body);
    }
    if request.path != "/_bulk" {
        let fault = {
            let mut state = state.lock().unwrap();
            let path = request.path.as_str();
            state.path_faults.iter_mut().find(|(p, _)| path.starts_with(p.as_str())).and_then(|(_, f)| f.pop_front())
        };
        match fault {
            Some(Fault::Answer(status, content_type, body)) => {
                let mut response = Response::html(status, &body);
                response.content_type = content_type;
                return Reply::Now(response);
            }
            Some(fault) => {
                if let Err(reply) = apply_fault(Some(fault)) {
                    return reply;
                }
            }
            None => {}
        }
    }
    match (request.method.as_str(), request.path.as_str()) {
        ("GET", path) if path.starts_with("/_plugins/_ism/explain/") => {
            ism_explain(state, &path["/_plugins/_ism/explain/".len()..])
        }
        ("POST", path) if path.starts_with("/_plugins/_ism/add/") => {
            ism_add(state, &path["/_plugins/_ism/add/".len()..], &body)
        }
        ("POST" | "PUT", "/_bulk") => match content_type_problem(request.header("content-type")) {
            // OpenSearch answers this outside its usual error shape: a string `error`.
            Some(problem) => Reply::Now(Response::json(406, &json!({"error": problem, "status": 406}))),
            None => bulk(state, &body),
        },
        ("PUT", path) if path.starts_with("/_index_template/") => {
            put_template(state, &path["/_index_template/".len()..], &body)
        }
        (method @ ("GET" | "PUT"), path) if path.starts_with("/_plugins/_ism/policies/") => {
            ism_policy(state, method, &path["/_plugins/_ism/policies/".len()..], &request.query, &body)
        }
        ("POST", "/_dashboards/api/saved_objects/_import") => import_saved_objects(state, &request),
        ("GET", "/") => Reply::Now(Response::json(
            200,
            &json!({"name": "standin", "cluster_name": "123456789012:standin", "version": {"distribution": "opensearch", "number": "2.17.0"}, "tagline": "The OpenSearch Project: https://opensearch.org/"}),
        )),
        _ => Reply::Now(Response::json(
            404,
            &error_body(
                404,
                "invalid_index_name_exception",
                &format!("no handler for {} {}", request.method, request.path),
            ),
        )),
    }
}

/// OpenSearch (like Elasticsearch since 6.0) refuses a body without a JSON content type: 406.
fn content_type_problem(content_type: Option<&str>) -> Option<String> {
    let Some(content_type) = content_type else { return Some("Content-Type header is missing".into()) };
    let media_type = content_type.split(';').next().unwrap_or_default().trim().to_ascii_lowercase();
    match media_type.as_str() {
        "application/json" | "application/x-ndjson" => None,
        _ => Some(format!("Content-Type header [{content_type}] is not supported")),
    }
}

// ---- SigV4 --------------------------------------------------------------------------------------

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

/// RFC 3986 encoding of everything but unreserved characters (and `/` when `keep_slash`).
fn uri_encode(text: &str, keep_slash: bool) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') || (keep_slash && b == b'/') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// What a SigV4 signature covers.
pub struct Signing<'a> {
    pub secret: &'a str,
    pub method: &'a str,
    pub path: &'a str,
    pub query: &'a str,
    /// The signed headers, names lower-case.
    pub headers: &'a [(&'a str, &'a str)],
    pub payload_hash: &'a str,
    pub amz_date: &'a str,
    pub region: &'a str,
    pub service: &'a str,
}

/// The SigV4 signature (hex) of a request.
pub fn signature(request: &Signing<'_>) -> String {
    let Signing { secret, method, path, query, headers: signed, payload_hash, amz_date, region, service } = *request;
    // Non-S3 services encode the path as it came on the wire once more: a `%20` sent is `%2520`
    // (the "double encoding" of the path before it was sent), and a `*` or `,` sent as it is is
    // `%2A` / `%2C`, as Amazon OpenSearch Service's own message shows for `GET /_resolve/index/*`
    // ("The Canonical String for this request should have been 'GET\n/_resolve/index/%2A…").
    let canonical_uri = if path.is_empty() { "/".to_owned() } else { uri_encode(path, true) };
    let mut params: Vec<(String, String)> = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (uri_encode(k, false), uri_encode(v, false))
        })
        .collect();
    params.sort();
    let canonical_query = params.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    let mut headers: Vec<(String, String)> = signed
        .iter()
        .map(|(n, v)| (n.to_ascii_lowercase(), v.split_whitespace().collect::<Vec<_>>().join(" ")))
        .collect();
    headers.sort();
    let canonical_headers: String = headers.iter().map(|(n, v)| format!("{n}:{v}\n")).collect();
    let signed_headers = headers.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>().join(";");
    let canonical_request =
        format!("{method}\n{canonical_uri}\n{canonical_query}\n{canonical_headers}\n{signed_headers}\n{payload_hash}");
    let date = &amz_date[..8.min(amz_date.len())];
    let scope = format!("{date}/{region}/{service}/aws4_request");
    let string_to_sign = format!("AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}", sha256_hex(canonical_request.as_bytes()));
    let key = hmac(format!("AWS4{secret}").as_bytes(), date.as_bytes());
    let key = hmac(&key, region.as_bytes());
    let key = hmac(&key, service.as_bytes());
    let key = hmac(&key, b"aws4_request");
    hex(&hmac(&key, string_to_sign.as_bytes()))
}

fn forbidden(message: &str) -> Response {
    Response::json(403, &json!({"message": message}))
}

/// Checks a request's SigV4 signature as AWS does; the error is AWS's 403.
fn verify_sigv4(request: &Request, service: &str) -> Result<(), Response> {
    let Some(authorization) = request.header("authorization") else {
        return Err(Response::json(
            403,
            &json!({"Message": "User: anonymous is not authorized to perform: es:ESHttpPost because no resource-based policy allows the es:ESHttpPost action"}),
        ));
    };
    let rest = authorization
        .strip_prefix("AWS4-HMAC-SHA256 ")
        .ok_or_else(|| forbidden("Authorization header requires the AWS4-HMAC-SHA256 algorithm."))?;
    let mut credential = None;
    let mut signed_headers = None;
    let mut given = None;
    for part in rest.split(',').map(str::trim) {
        if let Some(v) = part.strip_prefix("Credential=") {
            credential = Some(v);
        } else if let Some(v) = part.strip_prefix("SignedHeaders=") {
            signed_headers = Some(v);
        } else if let Some(v) = part.strip_prefix("Signature=") {
            given = Some(v);
        }
    }
    let (Some(credential), Some(signed_headers), Some(given)) = (credential, signed_headers, given) else {
        return Err(forbidden(
            "Authorization header requires 'Credential', 'SignedHeaders' and 'Signature' parameters.",
        ));
    };
    let scope: Vec<&str> = credential.split('/').collect();
    if scope.len() != 5 || scope[0] != ACCESS_KEY {
        return Err(forbidden("The security token included in the request is invalid."));
    }
    if scope[2] != REGION || scope[3] != service || scope[4] != "aws4_request" {
        return Err(forbidden(&format!(
            "Credential should be scoped to a valid region and service: expected {REGION}/{service}, got {}/{}.",
            scope[2], scope[3]
        )));
    }
    let amz_date = request.header("x-amz-date").ok_or_else(|| forbidden("Missing x-amz-date header."))?;
    if !amz_date.starts_with(scope[1]) {
        return Err(forbidden("Credential date does not match X-Amz-Date."));
    }
    let names: Vec<&str> = signed_headers.split(';').collect();
    for required in ["host", "x-amz-date"] {
        if !names.contains(&required) {
            return Err(forbidden(&format!("Header {required} must be signed.")));
        }
    }
    if request.header("x-amz-security-token").is_some() && !names.contains(&"x-amz-security-token") {
        return Err(forbidden("Header x-amz-security-token must be signed."));
    }
    let body_hash = sha256_hex(&request.body);
    let payload_hash = match request.header("x-amz-content-sha256") {
        Some(claimed) if claimed == body_hash => body_hash,
        Some(_) => {
            return Err(forbidden("The provided 'x-amz-content-sha256' header does not match what was computed."))
        }
        // OpenSearch Serverless requires the header.
        None if service == "aoss" => return Err(forbidden("Missing required header x-amz-content-sha256.")),
        None => body_hash,
    };
    let mut signed = Vec::new();
    for name in &names {
        let value = request.header(name).ok_or_else(|| forbidden(&format!("Signed header {name} is missing.")))?;
        signed.push((*name, value));
    }
    let expected = signature(&Signing {
        secret: SECRET_KEY,
        method: &request.method,
        path: &request.path,
        query: &request.query,
        headers: &signed,
        payload_hash: &payload_hash,
        amz_date,
        region: REGION,
        service,
    });
    if expected != given {
        return Err(forbidden(
            "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.",
        ));
    }
    Ok(())
}

// ---- _bulk --------------------------------------------------------------------------------------

/// A JSON object whose keys must be unique at every level (OpenSearch refuses duplicate fields).
fn parse_strict(line: &[u8]) -> Result<Value, String> {
    let value: Value = serde_json::from_slice(line).map_err(|e| format!("failed to parse: {e}"))?;
    let mut de = serde_json::Deserializer::from_slice(line);
    serde::de::Deserializer::deserialize_any(&mut de, NoDuplicates).map_err(|e| e.to_string())?;
    Ok(value)
}

struct NoDuplicates;

impl<'de> serde::de::Visitor<'de> for NoDuplicates {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("JSON")
    }
    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_str<E>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element_seed(NoDuplicatesSeed)?.is_some() {}
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = std::collections::HashSet::new();
        while let Some(key) = map.next_key::<String>()? {
            if !seen.insert(key.clone()) {
                return Err(serde::de::Error::custom(format!("Duplicate field '{key}'")));
            }
            map.next_value_seed(NoDuplicatesSeed)?;
        }
        Ok(())
    }
}

struct NoDuplicatesSeed;

impl<'de> serde::de::DeserializeSeed<'de> for NoDuplicatesSeed {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(NoDuplicates)
    }
}

/// OpenSearch's index-name rules (`MetadataCreateIndexService.validateIndexOrAliasName`).
fn index_name_problem(name: &str) -> Option<String> {
    if name.is_empty() {
        return Some("must not be empty".into());
    }
    if name != name.to_lowercase() {
        return Some("must be lowercase".into());
    }
    if let Some(c) = name.chars().find(|c| "\\/*?\"<>| ,#:".contains(*c)) {
        return Some(format!("must not contain the following characters [{c}]"));
    }
    if name.starts_with(['-', '_', '+']) {
        return Some("must not start with '_', '-', or '+'".into());
    }
    if name == "." || name == ".." {
        return Some("must not be '.' or '..'".into());
    }
    if name.len() > 255 {
        return Some("index name is too long, (> 255)".into());
    }
    None
}

/// `strict_date_optional_time`, enough of it: a date, optionally a time, fraction and zone.
fn looks_like_date(text: &str) -> bool {
    let b = text.as_bytes();
    let digits = |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    if !(digits(0..4) && b.get(4) == Some(&b'-') && digits(5..7) && b.get(7) == Some(&b'-') && digits(8..10)) {
        return false;
    }
    if b.len() == 10 {
        return true;
    }
    if b.get(10) != Some(&b'T') || !(digits(11..13) && b.get(13) == Some(&b':') && digits(14..16)) {
        return false;
    }
    let mut i = 16;
    if b.get(i) == Some(&b':') {
        if !digits(i + 1..i + 3) {
            return false;
        }
        i += 3;
        if b.get(i) == Some(&b'.') {
            let start = i + 1;
            i = start;
            while b.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
            if i == start || i - start > 9 {
                return false;
            }
        }
    }
    match &text[i..] {
        "" | "Z" => true,
        zone => {
            let z = zone.as_bytes();
            z.len() == 6
                && matches!(z[0], b'+' | b'-')
                && z[3] == b':'
                && [1, 2, 4, 5].iter().all(|&k| z[k].is_ascii_digit())
        }
    }
}

fn dynamic_type(value: &Value, date_detection: bool) -> Option<FieldType> {
    match value {
        Value::Null => None,
        Value::Bool(_) => Some(FieldType::Boolean),
        Value::Number(n) if n.is_f64() => Some(FieldType::Float),
        Value::Number(_) => Some(FieldType::Long),
        Value::String(s) if date_detection && looks_like_date(s) => Some(FieldType::Date),
        Value::String(_) => Some(FieldType::Text),
        Value::Object(_) => Some(FieldType::Object),
        Value::Array(_) => None,
    }
}

/// Whether a field of type `mapped` accepts `value`, as OpenSearch coerces (numbers from numeric
/// strings, text from any scalar, booleans from "true"/"false", dates from date strings or epoch
/// millis).
fn accepts(mapped: FieldType, value: &Value) -> bool {
    match (mapped, value) {
        (_, Value::Null) => true,
        (FieldType::Object, Value::Object(_)) => true,
        (FieldType::Object, _) | (_, Value::Object(_)) => false,
        (FieldType::Text, _) => true,
        (FieldType::Long | FieldType::Float, Value::Number(_)) => true,
        (FieldType::Long | FieldType::Float, Value::String(s)) => s.trim().parse::<f64>().is_ok_and(f64::is_finite),
        (FieldType::Boolean, Value::Bool(_)) => true,
        (FieldType::Boolean, Value::String(s)) => s == "true" || s == "false",
        (FieldType::Date, Value::String(s)) => looks_like_date(s),
        (FieldType::Date, Value::Number(n)) => n.is_i64(),
        (FieldType::Ip, Value::String(s)) => s.parse::<std::net::IpAddr>().is_ok(),
        _ => false,
    }
}

fn type_name(t: FieldType) -> &'static str {
    match t {
        FieldType::Text => "text",
        FieldType::Long => "long",
        FieldType::Float => "float",
        FieldType::Boolean => "boolean",
        FieldType::Date => "date",
        FieldType::Object => "object",
        FieldType::Ip => "ip",
    }
}

/// The mapping updates a document needs, or the `mapper_parsing_exception` reason.
fn map_document(index: &Index, doc: &Map<String, Value>, id: &str) -> Result<Vec<(String, FieldType)>, String> {
    let mut updates: Vec<(String, FieldType)> = Vec::new();
    let mut stack: Vec<(String, &Value)> = doc.iter().map(|(k, v)| (k.clone(), v)).collect();
    // As the real node answers (checked against OpenSearch 2.19): metadata fields at the top.
    const METADATA: &[&str] =
        &["_id", "_index", "_source", "_routing", "_type", "_version", "_seq_no", "_primary_term"];
    if let Some(field) = doc.keys().find(|k| METADATA.contains(&k.as_str())) {
        return Err(format!(
            "Field [{field}] is a metadata field and cannot be added inside a document. Use the index API request parameters."
        ));
    }
    while let Some((path, value)) = stack.pop() {
        if path.is_empty() || path.split('.').any(str::is_empty) {
            return Err(format!("field name cannot be an empty string (field [{path}])"));
        }
        let values: Vec<&Value> = match value {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        for value in values {
            let known = index
                .mappings
                .get(&path)
                .copied()
                .or_else(|| updates.iter().find(|(p, _)| *p == path).map(|(_, t)| *t));
            match known {
                Some(mapped) if !accepts(mapped, value) => {
                    return Err(if mapped == FieldType::Object {
                        format!("object mapping for [{path}] tried to parse field [{path}] as object, but found a concrete value")
                    } else {
                        format!(
                            "failed to parse field [{path}] of type [{}] in document with id '{id}'",
                            type_name(mapped)
                        )
                    });
                }
                Some(_) => {}
                None if index.dynamic_false => {}
                None => {
                    if let Some(t) = dynamic_type(value, !index.no_date_detection) {
                        updates.push((path.clone(), t));
                    }
                }
            }
            if let Value::Object(children) = value {
                stack.extend(children.iter().map(|(k, v)| (format!("{path}.{k}"), v)));
            }
        }
    }
    Ok(updates)
}

/// A whole-request refusal in OpenSearch's shape.
fn refuse(status: u16, kind: &str, reason: &str) -> Reply {
    Reply::Now(Response::json(status, &error_body(status, kind, reason)))
}

/// A scripted fault: the whole request's answer (`Err`), or the items to reject with 429 and the
/// pause before answering.
fn apply_fault(fault: Option<Fault>) -> Result<(Vec<usize>, Option<Duration>), Reply> {
    match fault {
        Some(Fault::Status(429)) => {
            let reason = "rejected execution of coordinating operation [coordinating_and_primary_bytes=0, replica_bytes=0, all_bytes=0, coordinating_operation_bytes=1024, max_coordinating_and_primary_bytes=0]";
            Err(refuse(429, "es_rejected_execution_exception", reason))
        }
        Some(Fault::RetryAfter(seconds)) => {
            let Reply::Now(mut response) = refuse(429, "es_rejected_execution_exception", "rejected execution") else {
                unreachable!("refuse answers now")
            };
            response.headers.push(("Retry-After".to_owned(), seconds.to_string()));
            Err(Reply::Now(response))
        }
        Some(Fault::Status(status)) => Err(refuse(status, "master_not_discovered_exception", "no cluster-manager")),
        Some(Fault::HtmlBadGateway) => Err(Reply::Now(Response::html(502, "<html><head><title>502 Bad Gateway</title></head><body><center><h1>502 Bad Gateway</h1></center></body></html>"))),
        Some(Fault::DropConnection) => Err(Reply::Drop),
        Some(Fault::RejectItems(items)) => Ok((items, None)),
        Some(Fault::Slow(duration)) => Ok((Vec::new(), Some(duration))),
        Some(Fault::Pass) | None => Ok((Vec::new(), None)),
        Some(Fault::Answer(status, content_type, body)) => {
            let mut response = Response::html(status, &body);
            response.content_type = content_type;
            Err(Reply::Now(response))
        }
    }
}

/// The per-item answer of a node whose write queue is full.
fn rejected_item(action: &str, index: &Value, id: &Value) -> Value {
    json!({action: {"_index": index, "_id": id, "status": 429, "error": {
        "type": "es_rejected_execution_exception",
        "reason": "rejected execution of primary operation [shard_detail=[standin][0]]",
        "index": index, "shard": "0", "index_uuid": "standin"}}})
}

/// [`StandIn::front`]: faults here, everything else from the real node.
fn forward(state: &Mutex<State>, upstream: &str, request: &Request, body: &[u8]) -> Reply {
    let (mut rejected, mut pause) = (Vec::new(), None);
    let mut forwarded = body.to_vec();
    // (position, action, index, id) of each item left out.
    let mut left_out: Vec<(usize, String, Value, Value)> = Vec::new();
    if request.path == "/_bulk" {
        let fault = {
            let mut state = state.lock().unwrap();
            state.bulk_requests += 1;
            state.faults.pop_front()
        };
        (rejected, pause) = match apply_fault(fault) {
            Ok(partial) => partial,
            Err(reply) => return reply,
        };
    }
    if !rejected.is_empty() {
        // Our bodies hold `index` actions, each followed by its document.
        let lines: Vec<&[u8]> = body.split(|b| *b == b'\n').filter(|l| !l.is_empty()).collect();
        forwarded.clear();
        for (position, pair) in lines.chunks(2).enumerate() {
            if rejected.contains(&position) {
                let action: Value = serde_json::from_slice(pair[0]).unwrap_or_default();
                let (name, meta) = action.as_object().and_then(|a| a.iter().next()).expect("an action line");
                left_out.push((position, name.clone(), meta["_index"].clone(), meta["_id"].clone()));
            } else {
                for line in pair {
                    forwarded.extend_from_slice(line);
                    forwarded.push(b'\n');
                }
            }
        }
    }
    let target =
        if request.query.is_empty() { request.path.clone() } else { format!("{}?{}", request.path, request.query) };
    let answer = if forwarded.is_empty() && !left_out.is_empty() {
        // Every item rejected: nothing reaches the node.
        http::Answer {
            status: 200,
            content_type: "application/json".into(),
            body: br#"{"took":0,"errors":false,"items":[]}"#.to_vec(),
        }
    } else {
        match http::call(upstream, &request.method, &target, request.header("content-type"), &forwarded) {
            Ok(answer) => answer,
            Err(e) => return Reply::Now(Response::text(502, &format!("the real node did not answer: {e}"))),
        }
    };
    let mut response_body = answer.body;
    if !left_out.is_empty() && answer.status == 200 {
        let mut answered: Value = serde_json::from_slice(&response_body).expect("a _bulk answer");
        let mut real = answered["items"].as_array().cloned().unwrap_or_default().into_iter();
        let mut items = Vec::new();
        let total = real.len() + left_out.len();
        let mut left = left_out.iter().peekable();
        for position in 0..total {
            match left.peek() {
                Some((at, action, index, id)) if *at == position => {
                    items.push(rejected_item(action, index, id));
                    left.next();
                }
                _ => items.extend(real.next()),
            }
        }
        answered["items"] = Value::Array(items);
        answered["errors"] = json!(true);
        response_body = answered.to_string().into_bytes();
    }
    let content_type = if answer.content_type.starts_with("application/json") {
        "application/json; charset=UTF-8"
    } else {
        "text/plain; charset=UTF-8"
    };
    let response = Response { status: answer.status, content_type, body: response_body, headers: Vec::new() };
    match pause {
        Some(pause) => Reply::Late(pause, response),
        None => Reply::Now(response),
    }
}

fn bulk(state: &Mutex<State>, body: &[u8]) -> Reply {
    let mut state = state.lock().unwrap();
    state.bulk_requests += 1;
    let (rejected, pause) = match apply_fault(state.faults.pop_front()) {
        Ok(partial) => partial,
        Err(reply) => return reply,
    };

    if !body.ends_with(b"\n") {
        let reason = "The bulk request must be terminated by a newline [\\n]";
        return refuse(400, "illegal_argument_exception", reason);
    }
    // Parse every action first: a bad action line fails the whole request, as in OpenSearch.
    let lines: Vec<&[u8]> = body[..body.len() - 1].split(|b| *b == b'\n').collect();
    struct Item<'a> {
        action: String,
        index: String,
        id: Option<String>,
        source: Option<&'a [u8]>,
    }
    let mut items = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let line_number = i + 1;
        let action: Value = match serde_json::from_slice(lines[i]) {
            Ok(Value::Object(action)) if action.len() == 1 => Value::Object(action),
            _ => {
                let reason =
                    format!("Malformed action/metadata line [{line_number}], expected START_OBJECT or END_OBJECT");
                return refuse(400, "illegal_argument_exception", &reason);
            }
        };
        let (name, meta) = action.as_object().unwrap().iter().next().unwrap();
        if !["index", "create", "update", "delete"].contains(&name.as_str()) {
            let reason = format!("Malformed action/metadata line [{line_number}], expected one of [create, delete, index, update] but found [{name}]");
            return refuse(400, "illegal_argument_exception", &reason);
        }
        let meta = meta.as_object().cloned().unwrap_or_default();
        if let Some(unknown) =
            meta.keys().find(|k| !["_index", "_id", "routing", "pipeline", "require_alias"].contains(&k.as_str()))
        {
            let reason = format!("Action/metadata line [{line_number}] contains an unknown parameter [{unknown}]");
            return refuse(400, "illegal_argument_exception", &reason);
        }
        let Some(index) = meta.get("_index").and_then(Value::as_str) else {
            return refuse(400, "action_request_validation_exception", "Validation Failed: 1: index is missing;");
        };
        let id = meta.get("_id").and_then(Value::as_str).map(str::to_owned);
        if id.as_deref() == Some("") {
            return refuse(
                400,
                "action_request_validation_exception",
                "Validation Failed: 1: if _id is specified it must not be empty;",
            );
        }
        let source = if name == "delete" {
            None
        } else {
            i += 1;
            match lines.get(i) {
                Some(source) => Some(*source),
                None => {
                    return refuse(
                        400,
                        "action_request_validation_exception",
                        "Validation Failed: 1: source is missing;",
                    )
                }
            }
        };
        items.push(Item { action: name.clone(), index: index.to_owned(), id, source });
        i += 1;
    }

    let mut answers = Vec::new();
    let mut errors = false;
    for (position, item) in items.iter().enumerate() {
        let id = item.id.clone().unwrap_or_else(|| format!("auto-{:016x}", state.next_seq_no));
        let failure = |status: u16, kind: &str, reason: String| {
            json!({item.action.clone(): {"_index": item.index, "_id": id, "status": status,
                "error": {"type": kind, "reason": reason, "index": item.index, "shard": "0", "index_uuid": "standin"}}})
        };
        if rejected.contains(&position) {
            errors = true;
            answers.push(rejected_item(&item.action, &json!(item.index), &json!(id)));
            continue;
        }
        if state.time_series && item.id.is_some() {
            // OPENSEARCH-FACTS.md: time-series collections refuse a custom id, per item.
            errors = true;
            answers.push(failure(
                400,
                "illegal_argument_exception",
                "Document ID is not supported in create/index operation request".into(),
            ));
            continue;
        }
        if let Some(problem) = index_name_problem(&item.index) {
            errors = true;
            answers.push(failure(
                400,
                "invalid_index_name_exception",
                format!("Invalid index name [{}], {problem}", item.index),
            ));
            continue;
        }
        if item.action != "index" && item.action != "create" {
            errors = true;
            answers.push(failure(
                400,
                "illegal_argument_exception",
                format!("the stand-in does not support [{}]", item.action),
            ));
            continue;
        }
        let source = match parse_strict(item.source.unwrap_or_default()) {
            Ok(Value::Object(source)) => source,
            Ok(_) => {
                errors = true;
                answers.push(failure(
                    400,
                    "mapper_parsing_exception",
                    "failed to parse: the document is not an object".into(),
                ));
                continue;
            }
            Err(reason) => {
                errors = true;
                answers.push(failure(400, "mapper_parsing_exception", reason));
                continue;
            }
        };
        if !state.indices.contains_key(&item.index) {
            let fresh = new_index(&state.templates, &state.policies, &item.index);
            state.indices.insert(item.index.clone(), fresh);
        }
        let index = state.indices.get_mut(&item.index).unwrap();
        if item.action == "create" && index.docs.contains_key(&id) {
            errors = true;
            answers.push(failure(
                409,
                "version_conflict_engine_exception",
                format!("[{id}]: version conflict, document already exists (current version [1])"),
            ));
            continue;
        }
        match map_document(index, &source, &id) {
            Err(reason) => {
                errors = true;
                answers.push(failure(400, "mapper_parsing_exception", reason));
            }
            Ok(updates) => {
                index.mappings.extend(updates);
                let version = index.docs.get(&id).map_or(1, |(v, _)| v + 1);
                index.docs.insert(id.clone(), (version, Value::Object(source)));
                state.next_seq_no += 1;
                let (result, status) = if version == 1 { ("created", 201) } else { ("updated", 200) };
                answers.push(json!({item.action.clone(): {
                    "_index": item.index, "_id": id, "_version": version, "result": result,
                    "_shards": {"total": 2, "successful": 2, "failed": 0},
                    "_seq_no": state.next_seq_no - 1, "_primary_term": 1, "status": status
                }}));
            }
        }
    }
    let response = Response::json(200, &json!({"took": 3, "errors": errors, "items": answers}));
    match pause {
        Some(pause) => Reply::Late(pause, response),
        None => Reply::Now(response),
    }
}
