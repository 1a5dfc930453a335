//! TLS failures are permanent: a certificate the client does not trust, or `https://` to a
//! plain-HTTP port, fail the request at once (`NonRetryable.Tls`, saying what to fix) instead of
//! being retried for the whole `--retry-for`. `SSL_CERT_FILE` names the trusted CAs (a private CA; it replaces the system roots). The HTTPS server
//! is Python's `http.server` behind its `ssl` module, on loopback, with the certificates of
//! `tests/fixtures/tls/`.

mod common;

use common::standin::{Auth, StandIn};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

const SERVER: &str = r#"
import http.server, json, ssl, sys
class Bulk(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        actions = [json.loads(l) for l in body.splitlines()[0::2] if l]
        items = [{"index": {"_index": a["index"]["_index"], "_id": a["index"].get("_id"), "status": 201, "result": "created"}} for a in actions]
        answer = json.dumps({"took": 1, "errors": False, "items": items}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Bulk)
context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
context.load_cert_chain(sys.argv[1], sys.argv[2])
server.socket = context.wrap_socket(server.socket, server_side=True)
print(server.server_address[1], flush=True)
server.serve_forever()
"#;

struct HttpsServer {
    child: Child,
    url: String,
}

impl Drop for HttpsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The HTTPS server, or `None` (the test is skipped, saying so) where there is no `python3`.
fn https_server() -> Option<HttpsServer> {
    let tls = common::fixture("tls");
    let spawned = Command::new("python3")
        .arg("-c")
        .arg(SERVER)
        .arg(tls.join("localhost-signed-by-test-ca.crt"))
        .arg(tls.join("localhost-signed-by-test-ca.key"))
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn();
    let Ok(mut child) = spawned else {
        eprintln!("python3 is not here: the HTTPS tests are skipped");
        return None;
    };
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap_or_else(|_| panic!("the HTTPS server said {line:?}"));
    Some(HttpsServer { child, url: format!("https://127.0.0.1:{port}") })
}

fn replay(endpoint: &str, extra: &[(&str, &str)]) -> (Option<i32>, String) {
    let event = common::fixture("events/rds-mysql80-slowquery.json");
    let out = common::cli()
        .env("OPENSEARCH_AUTH", "none")
        .env_remove("SSL_CERT_FILE")
        .envs(extra.iter().copied())
        .args(["replay", event.to_str().unwrap(), "--endpoint", endpoint, "--retry-for", "20"])
        .output()
        .unwrap();
    (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
}

#[test]
fn an_untrusted_certificate_fails_at_once_and_says_how_to_trust_it() {
    let Some(server) = https_server() else { return };
    let started = std::time::Instant::now();
    let (code, stderr) = replay(&server.url, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("invalid peer certificate") && stderr.contains("SSL_CERT_FILE"), "{stderr}");
    assert!(stderr.contains("after 1 attempt:"), "not retried: {stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "did not wait out --retry-for 20");
}

#[test]
fn ssl_cert_file_makes_a_private_ca_trusted() {
    let Some(server) = https_server() else { return };
    let ca = common::fixture("tls/test-ca.crt");
    let (code, stderr) = replay(&server.url, &[("SSL_CERT_FILE", ca.to_str().unwrap())]);
    assert_eq!(code, Some(0), "{stderr}");
    assert!(stderr.contains("5 indexed, 0 dead-lettered, 0 failed"), "{stderr}");
}

#[test]
fn https_to_a_plain_http_port_fails_at_once_naming_the_scheme() {
    let standin = StandIn::start(Auth::None);
    let endpoint = standin.url.replace("http://", "https://");
    let (code, stderr) = replay(&endpoint, &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("does not speak TLS: use http://"), "{stderr}");
    assert!(stderr.contains("after 1 attempt:"), "not retried: {stderr}");
    assert_eq!(standin.bulk_requests(), 0);
}
