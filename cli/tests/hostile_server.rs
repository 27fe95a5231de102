//! The `trimio` binary against a fake control plane on 127.0.0.1 that answers with terminal
//! escapes: nothing it sends reaches stdout or stderr raw, and arguments that would change a
//! request's path are refused before anything is sent.
//!
//! Run with `cargo test -p trimio-cli --test hostile_server`.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpListener;
use std::process::{Command, Output};
use std::thread::{self, JoinHandle};

/// Escapes a hostile server puts in text: a window title, a screen clear, a forged line.
const HOSTILE: &str = r#"\u001b]0;pwned\u0007\u001b[2J\r\nerror: forged"#;

/// Answers one request with `status`, `content_type` and `body`, then closes.
fn answer_once(status: &str, content_type: &str, body: String) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: {content_type}\r\ncontent-length: {}\r\n\
         connection: close\r\n\r\n{body}",
        body.len()
    );
    let server = thread::spawn(move || {
        let (mut stream, _) = listener.accept().unwrap();
        let mut request = Vec::new();
        let mut buffer = [0u8; 1024];
        while !request.windows(4).any(|window| window == b"\r\n\r\n") {
            match stream.read(&mut buffer) {
                Ok(0) | Err(_) => return,
                Ok(read) => request.extend_from_slice(&buffer[..read]),
            }
        }
        let _ = stream.write_all(response.as_bytes());
    });
    (url, server)
}

fn trimio(url: &str, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trimio"))
        .arg("--url")
        .arg(url)
        .args(args)
        .env("TRIMIO_ADMIN_TOKEN", "test-admin-token")
        .env_remove("TRIMIO_ADMIN_TOKEN_FILE")
        .output()
        .unwrap()
}

/// Whether the bytes hold anything a terminal acts on other than a line break: C0 and DEL,
/// and C1 as UTF-8.
fn raw_controls(bytes: &[u8]) -> bool {
    let text = String::from_utf8_lossy(bytes);
    text.chars().any(|c| c.is_control() && c != '\n')
}

#[test]
fn an_api_error_prints_as_one_escaped_line() {
    let body = format!(r#"{{"error":"no team{HOSTILE}\u009b2J"}}"#);
    let (url, server) = answer_once("404 Not Found", "application/json", body);

    let output = trimio(&url, &["teams", "show", "payments"]);
    server.join().unwrap();

    assert_eq!(output.status.code(), Some(1), "{output:?}");
    let stderr = String::from_utf8(output.stderr).unwrap();
    assert!(!raw_controls(stderr.as_bytes()), "{stderr:?}");
    assert_eq!(
        stderr,
        "error: no team\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\r\\nerror: forged\\u{9b}2J (http 404)\n"
    );
}

#[test]
fn failed_deliveries_print_escaped_as_text_and_as_json() {
    let body = format!(
        r#"{{"alerts":[{{"id":"alt_1","team":"payments","scope":"team","kind":"threshold",
        "threshold_percent":50,"deliveries":[{{"target_id":"tgt_1{HOSTILE}","state":"failed",
        "attempts":3,"last_error":"http 500{HOSTILE}{csi}2J"}}]}}]}}"#,
        // Valid JSON may hold C1 controls raw.
        csi = '\u{9b}'
    );

    for json in [false, true] {
        let (url, server) = answer_once("200 OK", "application/json", body.clone());
        let args: &[&str] = if json {
            &["alerts", "list", "--json"]
        } else {
            &["alerts", "list"]
        };
        let output = trimio(&url, args);
        server.join().unwrap();

        assert!(output.status.success(), "{output:?}");
        assert!(!raw_controls(&output.stdout), "{output:?}");
        let stdout = String::from_utf8(output.stdout).unwrap();
        if json {
            let printed: serde_json::Value = serde_json::from_str(&stdout).unwrap();
            let sent: serde_json::Value = serde_json::from_str(&body).unwrap();
            assert_eq!(printed, sent);
        } else {
            assert!(
                stdout.ends_with(
                    "alt_1 to tgt_1\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\r\\nerror: forged failed \
                     after 3 attempts: http 500\\u{1b}]0;pwned\\u{7}\\u{1b}[2J\\r\\nerror: \
                     forged\\u{9b}2J\n"
                ),
                "{stdout}"
            );
            assert!(!stdout.lines().any(|line| line.starts_with("error:")));
        }
    }
}

#[test]
fn csv_in_a_pipe_is_written_byte_for_byte() {
    let csv = "user,calls\r\n\"'\rx\u{1b}[2J\",1\r\n".to_owned();
    let (url, server) = answer_once("200 OK", "text/csv; charset=utf-8", csv.clone());

    let output = trimio(&url, &["report", "spend", "--group-by", "user", "--csv"]);
    server.join().unwrap();

    assert!(output.status.success(), "{output:?}");
    assert_eq!(output.stdout, csv.as_bytes());
}

#[test]
fn dot_segments_are_refused_before_anything_is_sent() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://127.0.0.1:{}", listener.local_addr().unwrap().port());

    for (args, what) in [
        (&["teams", "show", ".."][..], "a team"),
        (&["keys", "revoke", ".."], "a key"),
        (&["budgets", "delete", ".%2E"], "a budget"),
        (&["alerts", "remove-target", "%2e"], "an alert target"),
        (&["prices", "delete", "."], "a model"),
    ] {
        let output = trimio(&url, args);
        assert_eq!(output.status.code(), Some(2), "{args:?}: {output:?}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.starts_with("error: "), "{stderr}");
        assert!(
            stderr.contains(&format!("it cannot name {what}")),
            "{stderr}"
        );
    }

    // A request would have left a connection waiting to be accepted.
    listener.set_nonblocking(true).unwrap();
    let accepted = listener.accept().map(|_| ()).map_err(|error| error.kind());
    assert_eq!(accepted, Err(ErrorKind::WouldBlock));
}
