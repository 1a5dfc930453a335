//! Stand-ins for what alerting talks to: a Slack incoming webhook and the AWS Parameters and
//! Secrets Lambda Extension, both on loopback.
//!
//! The webhook checks what Slack checks (POST, JSON body with `text` or `blocks`, at most 50
//! blocks, header text at most 150 characters) and answers like Slack: `ok` as text, or a
//! scripted failure (`invalid_payload`, 429 with `Retry-After`, 500, a late answer). The
//! extension answers `GET /secretsmanager/get?secretId=…` and
//! `GET /systemsmanager/parameters/get?name=…` only with the right session token header, as the
//! real one does.

use super::http::{self, Reply, Request, Response};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The path of the stand-in webhook: it looks like Slack's, and tests look for its secret part in
/// logs.
pub const WEBHOOK_PATH: &str = "/services/T0SECRET0/B0SECRET0/xoxSECRETtoken";
pub const WEBHOOK_SECRET_PART: &str = "xoxSECRETtoken";

pub struct SlackReceiver {
    pub url: String,
    received: Arc<Mutex<Vec<Value>>>,
    script: Arc<Mutex<VecDeque<Reply>>>,
}

impl SlackReceiver {
    pub fn start() -> SlackReceiver {
        let received = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Mutex<VecDeque<Reply>>> = Arc::new(Mutex::new(VecDeque::new()));
        let (r, s) = (Arc::clone(&received), Arc::clone(&script));
        let address = http::serve(Arc::new(move |request: Request| {
            if request.method != "POST" || request.path != WEBHOOK_PATH {
                return Reply::Now(Response::text(404, "no_service"));
            }
            if !request.header("content-type").is_some_and(|c| c.starts_with("application/json")) {
                return Reply::Now(Response::text(400, "invalid_payload"));
            }
            let Ok(payload) = serde_json::from_slice::<Value>(&request.body) else {
                return Reply::Now(Response::text(400, "invalid_payload"));
            };
            if let Some(problem) = slack_refuses(&payload) {
                return Reply::Now(Response::text(400, problem));
            }
            if let Some(reply) = s.lock().unwrap().pop_front() {
                return reply;
            }
            r.lock().unwrap().push(payload);
            Reply::Now(Response::text(200, "ok"))
        }));
        SlackReceiver { url: format!("http://{address}{WEBHOOK_PATH}"), received, script }
    }

    /// The next requests get these replies (and are not recorded), in order.
    pub fn script(&self, reply: Reply) {
        self.script.lock().unwrap().push_back(reply);
    }

    /// Payloads accepted so far.
    pub fn received(&self) -> Vec<Value> {
        self.received.lock().unwrap().clone()
    }
}

/// What Slack's webhook refuses with `invalid_blocks` / `invalid_payload`.
fn slack_refuses(payload: &Value) -> Option<&'static str> {
    let blocks = payload["blocks"].as_array();
    if payload["text"].as_str().is_none_or(str::is_empty) && blocks.is_none() {
        return Some("no_text");
    }
    let blocks = blocks.map(Vec::as_slice).unwrap_or_default();
    if blocks.len() > 50 {
        return Some("invalid_blocks");
    }
    for block in blocks {
        let ok = match block["type"].as_str() {
            Some("header") => {
                block["text"]["type"] == "plain_text"
                    && block["text"]["text"].as_str().is_some_and(|t| (1..=150).contains(&t.chars().count()))
            }
            Some("section") => {
                let text_ok = block["text"]["text"].as_str().is_none_or(|t| t.chars().count() <= 3000);
                let fields = block["fields"].as_array().map(Vec::as_slice).unwrap_or_default();
                let fields_ok = fields.len() <= 10
                    && fields.iter().all(|f| f["text"].as_str().is_some_and(|t| t.chars().count() <= 2000));
                text_ok && fields_ok && (block["text"].is_object() || !fields.is_empty())
            }
            Some("context") => block["elements"].as_array().is_some_and(|e| (1..=10).contains(&e.len())),
            Some("actions") => block["elements"].as_array().is_some_and(|e| {
                e.iter().all(|b| b["url"].as_str().is_none_or(|u| u.len() <= 3000 && u.starts_with("http")))
            }),
            _ => false,
        };
        if !ok {
            return Some("invalid_blocks");
        }
    }
    None
}

/// The extension stand-in: serves `secrets` (id → SecretString) and `parameters` (name → Value).
pub struct Extension {
    pub port: u16,
    pub token: String,
    calls: Arc<Mutex<usize>>,
}

impl Extension {
    pub fn start(token: &str, secrets: &[(&str, &str)], parameters: &[(&str, &str)]) -> Extension {
        let secrets: HashMap<String, String> = secrets.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let parameters: HashMap<String, String> =
            parameters.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let calls = Arc::new(Mutex::new(0));
        let counted = Arc::clone(&calls);
        let expected_token = token.to_owned();
        let address = http::serve(Arc::new(move |request: Request| {
            *counted.lock().unwrap() += 1;
            if request.header("x-aws-parameters-secrets-token") != Some(expected_token.as_str()) {
                return Reply::Now(Response::json(401, &json!({"message": "missing or invalid token"})));
            }
            let query = decode_query(&request.query);
            match request.path.as_str() {
                "/secretsmanager/get" => match query.get("secretId").and_then(|id| secrets.get(id).map(|v| (id, v))) {
                    Some((id, value)) => Reply::Now(Response::json(
                        200,
                        &json!({"ARN": id, "Name": "slack/hook", "SecretString": value, "VersionId": "v1"}),
                    )),
                    None => Reply::Now(Response::json(
                        400,
                        &json!({"__type": "ResourceNotFoundException", "message": "Secrets Manager can't find the specified secret."}),
                    )),
                },
                "/systemsmanager/parameters/get" => {
                    match query.get("name").and_then(|n| parameters.get(n).map(|v| (n, v))) {
                        Some((name, value)) if query.get("withDecryption").map(String::as_str) == Some("true") => {
                            Reply::Now(Response::json(
                                200,
                                &json!({"Parameter": {"Name": name, "Type": "SecureString", "Value": value, "Version": 1}}),
                            ))
                        }
                        _ => Reply::Now(Response::json(400, &json!({"__type": "ParameterNotFound"}))),
                    }
                }
                _ => Reply::Now(Response::text(404, "not found")),
            }
        }));
        let port = address.rsplit(':').next().unwrap().parse().unwrap();
        Extension { port, token: token.to_owned(), calls }
    }

    pub fn calls(&self) -> usize {
        *self.calls.lock().unwrap()
    }
}

/// `a=1&b=x%2Fy` → map, percent-decoded.
fn decode_query(query: &str) -> HashMap<String, String> {
    let decode = |s: &str| {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] == b'%' && i + 2 < bytes.len() {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap_or(b'?'));
                i += 3;
            } else {
                out.push(if bytes[i] == b'+' { b' ' } else { bytes[i] });
                i += 1;
            }
        }
        String::from_utf8_lossy(&out).into_owned()
    };
    query.split('&').filter_map(|pair| pair.split_once('=')).map(|(k, v)| (decode(k), decode(v))).collect()
}

/// A reply after `pause`.
pub fn late(pause: Duration, response: Response) -> Reply {
    Reply::Late(pause, response)
}

/// The bot token the Slack Web API stand-in accepts; tests look for it in output.
pub const BOT_TOKEN: &str = "xoxb-0SECRET0-bot-token";

/// A file shared through [`SlackApi`]'s three steps.
#[derive(Debug, Clone)]
pub struct SharedFile {
    pub filename: String,
    pub bytes: Vec<u8>,
    pub title: String,
    pub channel: String,
    pub comment: String,
}

/// Slack's Web API for files, as the current upload flow uses it: `files.getUploadURLExternal`
/// (form body `filename`, `length`; bot token) answers an upload URL and a file id; the bytes go
/// to that URL (exactly `length` of them, no token needed); `files.completeUploadExternal` (JSON
/// `files: [{id, title}]`, `channel_id`) shares it. Errors as Slack gives them: HTTP 200 with
/// `{"ok": false, "error": …}` (`not_authed`, `invalid_auth`, `invalid_arguments`, `file_not_found`).
pub struct SlackApi {
    /// The API base, as `SLACK_API_URL`.
    pub url: String,
    shared: Arc<Mutex<Vec<SharedFile>>>,
}

#[derive(Default)]
struct Uploads {
    /// file id → (filename, declared length, bytes once uploaded)
    files: HashMap<String, (String, usize, Option<Vec<u8>>)>,
    next: u32,
}

impl SlackApi {
    pub fn start() -> SlackApi {
        let shared = Arc::new(Mutex::new(Vec::new()));
        let uploads = Arc::new(Mutex::new(Uploads::default()));
        let address = Arc::new(Mutex::new(String::new()));
        let (sh, up, addr) = (Arc::clone(&shared), Arc::clone(&uploads), Arc::clone(&address));
        let bound = http::serve(Arc::new(move |request: Request| {
            let refuse = |error: &str| Reply::Now(Response::json(200, &json!({"ok": false, "error": error})));
            let authed = request.header("authorization") == Some(&format!("Bearer {BOT_TOKEN}"));
            if request.method != "POST" {
                return Reply::Now(Response::text(405, "method_not_allowed"));
            }
            if let Some(id) = request.path.strip_prefix("/upload/") {
                let mut uploads = up.lock().unwrap();
                return match uploads.files.get_mut(id) {
                    Some((_, length, bytes)) if *length == request.body.len() => {
                        *bytes = Some(request.body.clone());
                        Reply::Now(Response::text(200, &format!("OK - {}", request.body.len())))
                    }
                    Some(_) => Reply::Now(Response::text(400, "length does not match")),
                    None => Reply::Now(Response::text(404, "no such upload")),
                };
            }
            if !authed {
                return refuse(if request.header("authorization").is_none() { "not_authed" } else { "invalid_auth" });
            }
            match request.path.as_str() {
                "/api/files.getUploadURLExternal" => {
                    if !request
                        .header("content-type")
                        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
                    {
                        return refuse("invalid_form_data");
                    }
                    let form = decode_query(&String::from_utf8_lossy(&request.body));
                    let (Some(filename), Some(length)) =
                        (form.get("filename"), form.get("length").and_then(|l| l.parse::<usize>().ok()))
                    else {
                        return refuse("invalid_arguments");
                    };
                    let mut uploads = up.lock().unwrap();
                    uploads.next += 1;
                    let id = format!("F0{:08}", uploads.next);
                    uploads.files.insert(id.clone(), (filename.clone(), length, None));
                    let upload_url = format!("http://{}/upload/{id}", addr.lock().unwrap());
                    Reply::Now(Response::json(200, &json!({"ok": true, "upload_url": upload_url, "file_id": id})))
                }
                "/api/files.completeUploadExternal" => {
                    let Ok(body) = serde_json::from_slice::<Value>(&request.body) else {
                        return refuse("invalid_json");
                    };
                    let (Some(files), Some(channel)) = (body["files"].as_array(), body["channel_id"].as_str()) else {
                        return refuse("invalid_arguments");
                    };
                    let uploads = up.lock().unwrap();
                    for file in files {
                        let id = file["id"].as_str().unwrap_or_default();
                        let Some((filename, _, Some(bytes))) = uploads.files.get(id) else {
                            return refuse("file_not_found");
                        };
                        sh.lock().unwrap().push(SharedFile {
                            filename: filename.clone(),
                            bytes: bytes.clone(),
                            title: file["title"].as_str().unwrap_or_default().to_owned(),
                            channel: channel.to_owned(),
                            comment: body["initial_comment"].as_str().unwrap_or_default().to_owned(),
                        });
                    }
                    Reply::Now(Response::json(200, &json!({"ok": true, "files": files})))
                }
                _ => refuse("unknown_method"),
            }
        }));
        *address.lock().unwrap() = bound.clone();
        SlackApi { url: format!("http://{bound}/api"), shared }
    }

    /// Files shared so far.
    pub fn shared(&self) -> Vec<SharedFile> {
        self.shared.lock().unwrap().clone()
    }
}
