//! The `trimio-mock-provider` process: announces its address, serves, stops on SIGTERM.

mod support;

use std::process::Stdio;

use support::{Client, PATIENCE, fixture, fixtures_dir, request_headers};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;
use tokio::time::timeout;

#[tokio::test]
async fn serves_fixtures_until_sigterm() {
    let mut process = Command::new(env!("CARGO_BIN_EXE_trimio-mock-provider"))
        .args(["--listen", "127.0.0.1:0"])
        .arg(fixtures_dir())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("start the binary");
    let stdout = process.stdout.take().expect("piped stdout");
    let mut lines = BufReader::new(stdout).lines();

    let line = timeout(PATIENCE, lines.next_line())
        .await
        .expect("announced in time")
        .unwrap();
    let line = line.expect("a line on stdout");
    let addr = line
        .strip_prefix("listening on ")
        .expect("`listening on ADDR`")
        .parse()
        .unwrap();

    let exchange = fixture("anthropic-count-tokens");
    let request = &exchange.request;
    let mut client = Client::connect(addr).await;
    let headers = request_headers(&exchange);
    let (head, body) = client
        .call(
            &request.method,
            &request.path,
            &headers,
            &request.body_bytes(),
        )
        .await;
    assert_eq!(head.status, 200);
    assert_eq!(body, exchange.response.chunks[0].as_bytes());

    let pid = process.id().expect("still running").to_string();
    let killed = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    assert!(killed.success());
    let status = timeout(PATIENCE, process.wait())
        .await
        .expect("stopped in time")
        .unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn a_bad_exchange_file_stops_it_with_the_reason() {
    let output = Command::new(env!("CARGO_BIN_EXE_trimio-mock-provider"))
        .arg("/nonexistent/exchanges")
        .output()
        .await
        .expect("run the binary");

    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("cannot read /nonexistent/exchanges"),
        "{stderr}"
    );
    assert!(output.stdout.is_empty());
}
