//! A real Envoy running the Trimio filter, on loopback ports it picks itself.

use std::path::Path;
use std::time::Duration;

use tokio::process::Command;

use crate::envoy_config::{self, EnvoyOptions};
use crate::paths;
use crate::process::Process;

/// Fake provider credentials the tests give Envoy; the mock records what it receives.
pub const TEST_CREDENTIALS: [(&str, &str); 3] = [
    ("ANTHROPIC_API_KEY", "sk-ant-provider-credential"),
    ("OPENAI_API_KEY", "sk-openai-provider-credential"),
    ("GEMINI_API_KEY", "gemini-provider-credential"),
];

/// The environment variable that carries the control plane's filter token to both sides.
pub const FILTER_TOKEN_ENV: &str = "TRIMIO_FILTER_TOKEN";

pub struct Envoy {
    process: Option<Process>,
    pub port: u16,
    pub admin_port: u16,
    http: reqwest::Client,
}

impl Envoy {
    /// Starts Envoy with `options` rendered, the test provider credentials and `filter_token`
    /// in its environment; waits until it is ready and its listener bound.
    pub async fn start(
        dir: &Path,
        options: &EnvoyOptions,
        filter_token: &str,
    ) -> Result<Envoy, String> {
        let mut env = TEST_CREDENTIALS.to_vec();
        env.push((FILTER_TOKEN_ENV, filter_token));
        Self::start_with_config(dir, &envoy_config::render(options), &env).await
    }

    pub async fn start_with_config(
        dir: &Path,
        config: &str,
        credentials: &[(&str, &str)],
    ) -> Result<Envoy, String> {
        let bin = paths::envoy_bin();
        paths::require(&bin, "Envoy")?;
        let config_path = dir.join("envoy.yaml");
        std::fs::write(&config_path, config).map_err(|e| format!("envoy config: {e}"))?;
        let admin_path = dir.join("envoy-admin-address");
        let _ = std::fs::remove_file(&admin_path);

        let mut command = Command::new(bin);
        command
            .arg("-c")
            .arg(&config_path)
            .arg("--admin-address-path")
            .arg(&admin_path)
            .args([
                "--disable-hot-restart",
                "--log-level",
                "info",
                "--concurrency",
                "2",
            ]);
        for (name, value) in credentials {
            command.env(name, value);
        }
        let process = Process::spawn("envoy", command, &dir.join("envoy.log"))?;

        let http = reqwest::Client::new();
        let mut envoy = Envoy {
            process: Some(process),
            port: 0,
            admin_port: 0,
            http,
        };
        let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
        let mut ready = false;
        while !ready && tokio::time::Instant::now() < deadline {
            ready = envoy.probe(&admin_path).await;
            if !ready {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        if !ready || envoy.port == 0 {
            let log = envoy.log();
            envoy.stop().await;
            return Err(format!("envoy did not become ready; its log:\n{log}"));
        }
        Ok(envoy)
    }

    /// Reads the admin address, then the bound listener port, then `/ready`.
    async fn probe(&mut self, admin_path: &Path) -> bool {
        if self.process.as_mut().is_none_or(|p| p.exited()) {
            return true;
        }
        if self.admin_port == 0 {
            let Ok(text) = std::fs::read_to_string(admin_path) else {
                return false;
            };
            self.admin_port = text
                .trim()
                .rsplit(':')
                .next()
                .and_then(|p| p.parse().ok())
                .unwrap_or(0);
            if self.admin_port == 0 {
                return false;
            }
        }
        let admin = format!("http://127.0.0.1:{}", self.admin_port);
        if self.port == 0 {
            let Ok(response) = self
                .http
                .get(format!("{admin}/listeners?format=json"))
                .send()
                .await
            else {
                return false;
            };
            let Ok(value) = response.json::<serde_json::Value>().await else {
                return false;
            };
            let port =
                &value["listener_statuses"][0]["local_address"]["socket_address"]["port_value"];
            self.port = port.as_u64().unwrap_or(0) as u16;
            if self.port == 0 {
                return false;
            }
        }
        let ready = self.http.get(format!("{admin}/ready")).send().await;
        matches!(ready, Ok(r) if r.status().is_success())
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn log(&self) -> String {
        self.process.as_ref().map(Process::log).unwrap_or_default()
    }

    /// Envoy's counters whose name contains `part`, from its admin `/stats`.
    pub async fn stats(&self, part: &str) -> Vec<(String, u64)> {
        let url = format!("http://127.0.0.1:{}/stats?filter={part}", self.admin_port);
        let Ok(response) = self.http.get(url).send().await else {
            return Vec::new();
        };
        let text = response.text().await.unwrap_or_default();
        text.lines()
            .filter_map(|line| {
                let (name, value) = line.split_once(": ")?;
                Some((name.to_owned(), value.trim().parse().ok()?))
            })
            .collect()
    }

    /// The filter's counter `trimio.<name>` (0 when Envoy does not show it).
    pub async fn trimio_counter(&self, name: &str) -> u64 {
        let full = format!("wasmcustom.trimio.{name}");
        self.stats(name)
            .await
            .into_iter()
            .find(|(stat, _)| *stat == full)
            .map_or(0, |(_, value)| value)
    }

    pub async fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            process.stop().await;
        }
    }

    /// SIGKILL: no chance to deliver what it holds.
    pub async fn kill(&mut self) {
        if let Some(process) = self.process.take() {
            process.kill().await;
        }
    }
}

/// Runs `envoy --mode validate` on a config file; Ok when Envoy accepts it.
pub fn validate(config_path: &Path) -> Result<(), String> {
    let bin = paths::envoy_bin();
    paths::require(&bin, "Envoy")?;
    let output = std::process::Command::new(bin)
        .arg("--mode")
        .arg("validate")
        .arg("-c")
        .arg(config_path)
        .args(["--disable-hot-restart", "--log-level", "error"])
        .envs(TEST_CREDENTIALS)
        .env(FILTER_TOKEN_ENV, "validate-only")
        .output()
        .map_err(|e| format!("cannot run envoy: {e}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "envoy rejected {}:\n{}{}",
            config_path.display(),
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        ))
    }
}
