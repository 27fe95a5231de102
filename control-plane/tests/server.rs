//! The real binary on a free port: start-up line, health, a call end to end, a graceful stop
//! on SIGTERM, and the call still there after a restart on the same database.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const ADMIN: &str = "admin-token-for-the-server-test";

struct Server {
    child: Child,
    addr: String,
}

impl Server {
    /// Starts the binary and waits for its `listening on ADDR` line.
    fn start(database: &Path) -> Server {
        let mut child = Command::new(env!("CARGO_BIN_EXE_trimio-control-plane"))
            .args(["--listen", "127.0.0.1:0", "--database"])
            .arg(database)
            .env("TRIMIO_ADMIN_TOKEN", ADMIN)
            .env_remove("TRIMIO_FILTER_TOKEN")
            .env_remove("TRIMIO_FILTER_TOKEN_FILE")
            .env_remove("TRIMIO_ADMIN_TOKEN_FILE")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the binary starts");
        let stdout = child.stdout.take().expect("stdout is piped");
        let mut lines = BufReader::new(stdout).lines();
        let addr = loop {
            let line = lines
                .next()
                .expect("the server printed its address")
                .expect("utf-8");
            if let Some(addr) = line.strip_prefix("listening on ") {
                break addr.to_owned();
            }
        };
        Server { child, addr }
    }

    fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (u16, String) {
        let body = body.map(|value| value.to_string()).unwrap_or_default();
        let auth = token
            .map(|token| format!("Authorization: Bearer {token}\r\n"))
            .unwrap_or_default();
        let request = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\n{auth}Content-Type: application/json\r\n\
             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
            self.addr,
            body.len()
        );
        let mut stream = TcpStream::connect(&self.addr).expect("the server accepts connections");
        stream.write_all(request.as_bytes()).expect("request sent");
        let mut response = String::new();
        stream.read_to_string(&mut response).expect("response read");
        let status = response[9..12].parse().expect("a status code");
        let body = response
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    fn admin(&self, method: &str, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.request(method, path, Some(ADMIN), body);
        assert!(status < 300, "{method} {path}: {status} {body}");
        serde_json::from_str(&body).expect("a json body")
    }

    /// Sends SIGTERM and waits for a clean exit.
    fn stop(mut self) {
        let status = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(exit) = self.child.try_wait().expect("the child can be waited on") {
                assert!(exit.success(), "the server exited with {exit}");
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the server did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serves_on_a_free_port_stops_on_sigterm_and_keeps_what_it_acknowledged() {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let database = dir.path().join("trimio.db");

    let server = Server::start(&database);
    assert_eq!(
        server.request("GET", "/healthz", None, None),
        (200, "ok".to_owned())
    );
    assert_eq!(server.request("GET", "/v1/admin/teams", None, None).0, 401);

    server.admin(
        "POST",
        "/v1/admin/teams",
        Some(json!({"name": "payments", "budget_usd": "10"})),
    );
    let issued = server.admin(
        "POST",
        "/v1/admin/teams/payments/keys",
        Some(json!({"name": "ci"})),
    );
    let key = issued["key"].as_str().expect("a key");
    let key_hash = hex::encode(Sha256::digest(key.as_bytes()));

    let admit = json!({"request_id": "r1", "key_hash": key_hash, "provider": "openai",
        "family": "openai_chat"});
    let (status, decision) = server.request("POST", "/v1/filter/admit", None, Some(admit));
    assert_eq!(status, 200);
    assert!(decision.contains("\"decision\":\"allow\""), "{decision}");

    let now_ms = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock")
        .as_millis();
    let record = json!({"request_id": "r1", "key_hash": key_hash, "provider": "openai",
        "family": "openai_chat", "model": "gpt-4.1-2025-04-14",
        "usage": {"input": 476, "output": 300, "cache_read": 1024},
        "status": 200, "streamed": false, "started_at_ms": now_ms as u64, "duration_ms": 900});
    let (status, ack) = server.request(
        "POST",
        "/v1/filter/usage",
        None,
        Some(json!({"records": [record]})),
    );
    assert_eq!(
        (status, ack.as_str()),
        (200, r#"{"accepted":1,"duplicates":0,"rejected":0}"#)
    );
    server.stop();

    let restarted = Server::start(&database);
    let call = restarted.admin("GET", "/v1/admin/calls/r1", None);
    assert_eq!(call["cost_usd"], "0.003864");
    assert_eq!(call["team"], "payments");
    let team = restarted.admin("GET", "/v1/admin/teams/payments", None);
    assert_eq!(team["spend_usd"], "0.003864");
    restarted.stop();
}

/// Starts the binary with stderr captured, waits for its address, stops it and returns what
/// it logged.
fn start_up_log(extra_env: &[(&str, &str)]) -> String {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let mut command = Command::new(env!("CARGO_BIN_EXE_trimio-control-plane"));
    command
        .args(["--listen", "127.0.0.1:0", "--database"])
        .arg(dir.path().join("trimio.db"))
        .env("TRIMIO_ADMIN_TOKEN", ADMIN)
        .env("RUST_LOG", "info")
        .env_remove("TRIMIO_FILTER_TOKEN")
        .env_remove("TRIMIO_FILTER_TOKEN_FILE")
        .env_remove("TRIMIO_ADMIN_TOKEN_FILE")
        .env_remove("TRIMIO_LOG_FORMAT")
        .envs(extra_env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("the binary starts");
    let stdout = child.stdout.take().expect("stdout is piped");
    let listening = BufReader::new(stdout)
        .lines()
        .map_while(Result::ok)
        .any(|line| line.starts_with("listening on "));
    assert!(listening, "the server never listened");
    let _ = child.kill();
    let mut log = String::new();
    child
        .stderr
        .take()
        .expect("stderr is piped")
        .read_to_string(&mut log)
        .expect("stderr read");
    let _ = child.wait();
    log
}

#[test]
fn open_filter_routes_are_warned_about_at_start() {
    let open = start_up_log(&[]);
    let warning = open
        .lines()
        .find(|line| line.contains("WARN") && line.contains("filter"))
        .unwrap_or_else(|| panic!("no warning about open filter routes in:\n{open}"));
    assert!(
        warning.contains("--filter-token-file") && warning.contains("TRIMIO_FILTER_TOKEN"),
        "{warning}"
    );

    let closed = start_up_log(&[("TRIMIO_FILTER_TOKEN", "filter-token-0123456789")]);
    assert!(
        !closed.lines().any(|line| line.contains("WARN")),
        "{closed}"
    );
}

#[test]
fn a_second_control_plane_on_the_same_database_refuses_to_start() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("trimio.db");
    let mut first = Server::start(&database);
    let second = Command::new(env!("CARGO_BIN_EXE_trimio-control-plane"))
        .args(["--listen", "127.0.0.1:0", "--database"])
        .arg(&database)
        .env("TRIMIO_ADMIN_TOKEN", ADMIN)
        .output()
        .expect("the binary runs");
    assert!(!second.status.success());
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(
        stderr.contains("another control plane holds it; run one control plane per database"),
        "{stderr}"
    );
    let _ = first.child.kill();
    let _ = first.child.wait();
    // Once the first is gone, the database is free again.
    let mut again = Server::start(&database);
    let _ = again.child.kill();
    let _ = again.child.wait();
}
