//! `cargo xtask up`: the control plane and Envoy with the filter on loopback, on embedded
//! defaults (SQLite in `.trimio/`), in front of the real providers or the bundled mock.

use std::path::Path;

use tokio::process::Command;
use trimio_e2e::envoy::{Envoy, FILTER_TOKEN_ENV, TEST_CREDENTIALS};
use trimio_e2e::envoy_config::{self, EnvoyOptions, Upstreams};
use trimio_e2e::paths;
use trimio_e2e::process::Process;
use trimio_e2e::stack::random_token;

use crate::Parts;

const PROVIDER_KEYS: [&str; 3] = ["ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GEMINI_API_KEY"];

pub async fn run(parts: Parts, mock: bool, port: u16, cp_port: u16) -> Result<(), String> {
    let data = paths::root().join(".trimio");
    std::fs::create_dir_all(&data).map_err(|e| format!("{}: {e}", data.display()))?;
    let token = secret_file(&data.join("admin-token"))?;
    let filter_token = secret_file(&data.join("filter-token"))?;

    let mut command = Command::new(&parts.control_plane);
    command
        .arg("--listen")
        .arg(format!("127.0.0.1:{cp_port}"))
        .arg("--database")
        .arg(data.join("trimio.db"))
        .env("TRIMIO_ADMIN_TOKEN", &token)
        .env(FILTER_TOKEN_ENV, &filter_token);
    let (control_plane, _) = Process::spawn_until_line(
        "control plane",
        command,
        &data.join("control-plane.log"),
        "listening on ",
    )
    .await?;

    let mut mock_process = None;
    let (upstreams, credentials): (Upstreams, Vec<(String, String)>) = if mock {
        let mut command = Command::new(&parts.mock_provider);
        command
            .args(["--listen", "127.0.0.1:0"])
            .arg(paths::project_exchanges());
        if paths::shared_fixtures().exists() {
            command.arg(paths::shared_fixtures());
        }
        let (process, addr) = Process::spawn_until_line(
            "mock provider",
            command,
            &data.join("mock.log"),
            "listening on ",
        )
        .await?;
        mock_process = Some(process);
        let port = addr
            .rsplit(':')
            .next()
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let creds = TEST_CREDENTIALS
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        (
            Upstreams::Mock {
                host: "127.0.0.1".into(),
                port,
            },
            creds,
        )
    } else {
        let creds: Vec<(String, String)> = PROVIDER_KEYS
            .iter()
            .filter_map(|k| {
                std::env::var(k)
                    .ok()
                    .filter(|v| !v.is_empty())
                    .map(|v| ((*k).to_owned(), v))
            })
            .collect();
        if creds.is_empty() {
            eprintln!(
                "warning: none of {} is set, so every call will be refused; export the provider \
                 keys the gateway should use, or run `cargo xtask up --mock-provider`",
                PROVIDER_KEYS.join(", ")
            );
        }
        (
            Upstreams::Real {
                ca_bundle: ca_bundle(),
            },
            creds,
        )
    };

    let mut options = EnvoyOptions::local(&parts.wasm.to_string_lossy(), cp_port, upstreams);
    options.listen_port = port;
    let mut borrowed: Vec<(&str, &str)> = credentials
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    borrowed.push((FILTER_TOKEN_ENV, &filter_token));
    let mut envoy =
        Envoy::start_with_config(&data, &envoy_config::render(&options), &borrowed).await?;

    print_guide(&data, envoy.port, cp_port, mock);
    let _ = tokio::signal::ctrl_c().await;
    eprintln!("stopping");
    envoy.stop().await;
    control_plane.stop().await;
    if let Some(process) = mock_process {
        process.stop().await;
    }
    Ok(())
}

/// A token kept in a file of `.trimio/` (readable by its owner only), made on first use.
fn secret_file(path: &Path) -> Result<String, String> {
    if let Ok(token) = std::fs::read_to_string(path)
        && !token.trim().is_empty()
    {
        return Ok(token.trim().to_owned());
    }
    let token = random_token();
    std::fs::write(path, &token).map_err(|e| format!("{}: {e}", path.display()))?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
    }
    Ok(token)
}

fn ca_bundle() -> String {
    [
        "/etc/ssl/certs/ca-certificates.crt",
        "/etc/pki/tls/certs/ca-bundle.crt",
        "/etc/ssl/cert.pem",
    ]
    .into_iter()
    .find(|p| Path::new(p).exists())
    .unwrap_or("/etc/ssl/certs/ca-certificates.crt")
    .to_owned()
}

fn print_guide(data: &Path, port: u16, cp_port: u16, mock: bool) {
    let upstream = if mock {
        "the bundled mock provider"
    } else {
        "the real providers"
    };
    println!(
        r#"
Trimio is running.
  gateway        http://127.0.0.1:{port}  (Envoy + the Trimio filter, in front of {upstream})
  control plane  http://127.0.0.1:{cp_port}  (admin API; database {db})
  admin token    in {data}/admin-token

Create a team with a monthly budget and issue it a key (the key is shown once):
  export TRIMIO_ADMIN_TOKEN=$(cat {data}/admin-token)
  curl -s -X POST http://127.0.0.1:{cp_port}/v1/admin/teams \
    -H "authorization: Bearer $TRIMIO_ADMIN_TOKEN" -H 'content-type: application/json' \
    -d '{{"name":"payments","budget_usd":"500"}}'
  curl -s -X POST http://127.0.0.1:{cp_port}/v1/admin/teams/payments/keys \
    -H "authorization: Bearer $TRIMIO_ADMIN_TOKEN" -H 'content-type: application/json' \
    -d '{{"name":"alice-laptop"}}'

Point the tools at the gateway with that key:
  Claude Code   ANTHROPIC_BASE_URL=http://127.0.0.1:{port} ANTHROPIC_AUTH_TOKEN=<key> claude
  Codex CLI     OPENAI_BASE_URL=http://127.0.0.1:{port}/v1 OPENAI_API_KEY=<key> codex
  Cursor        Settings > Models > OpenAI API Key: <key>, Override OpenAI Base URL:
                http://127.0.0.1:{port}/v1 (Cursor calls from its servers: the gateway
                must be reachable from the internet for it)

Spend by team this month:
  curl -s "http://127.0.0.1:{cp_port}/v1/admin/reports/spend?group_by=team,project,model" \
    -H "authorization: Bearer $TRIMIO_ADMIN_TOKEN"

Press Ctrl-C to stop."#,
        db = data.join("trimio.db").display(),
        data = data.display(),
    );
}
