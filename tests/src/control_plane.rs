//! The real control-plane process, and a client for its admin API.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;

use crate::paths;
use crate::process::Process;

/// A running control plane on a loopback port.
pub struct ControlPlane {
    process: Option<Process>,
    pub port: u16,
    pub database: PathBuf,
    pub admin: Admin,
    pub filter_token: String,
    dir: PathBuf,
    restarts: u32,
    /// `--lease-ms`, when not the default.
    lease_ms: Option<u64>,
}

impl ControlPlane {
    /// Starts on a fresh or existing database in `dir`.
    pub async fn start(
        dir: &Path,
        admin_token: &str,
        filter_token: &str,
    ) -> Result<ControlPlane, String> {
        ControlPlane::start_with_leases(dir, admin_token, filter_token, None).await
    }

    /// [`ControlPlane::start`] with leases of `lease_ms` (0: none) instead of the default.
    pub async fn start_with_leases(
        dir: &Path,
        admin_token: &str,
        filter_token: &str,
        lease_ms: Option<u64>,
    ) -> Result<ControlPlane, String> {
        let database = dir.join("trimio.db");
        let tokens = (admin_token, filter_token);
        let (process, port) = spawn(dir, &database, tokens, lease_ms, 0, 0).await?;
        Ok(ControlPlane {
            lease_ms,
            process: Some(process),
            port,
            admin: Admin::new(port, admin_token),
            filter_token: filter_token.to_owned(),
            database,
            dir: dir.to_path_buf(),
            restarts: 0,
        })
    }

    pub fn log(&self) -> String {
        self.process.as_ref().map(Process::log).unwrap_or_default()
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Process::pid)
    }

    /// Stops it gracefully (SIGTERM) or abruptly (SIGKILL).
    pub async fn stop(&mut self, kill: bool) {
        if let Some(process) = self.process.take() {
            if kill {
                process.kill().await
            } else {
                process.stop().await
            }
        }
    }

    /// Starts it again on the same database and the same port.
    pub async fn restart(&mut self) -> Result<(), String> {
        self.stop(false).await;
        self.start_again().await
    }

    /// Starts it again after `stop`, on the same database and port.
    pub async fn start_again(&mut self) -> Result<(), String> {
        self.restarts += 1;
        let token = self.admin.token.clone();
        let (process, _) = spawn(
            &self.dir,
            &self.database,
            (&token, &self.filter_token),
            self.lease_ms,
            self.port,
            self.restarts,
        )
        .await?;
        self.process = Some(process);
        Ok(())
    }
}

async fn spawn(
    dir: &Path,
    database: &Path,
    (admin_token, filter_token): (&str, &str),
    lease_ms: Option<u64>,
    port: u16,
    generation: u32,
) -> Result<(Process, u16), String> {
    let bin = paths::control_plane_bin();
    paths::require(&bin, "the control-plane binary")?;
    let mut command = Command::new(bin);
    command
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--database")
        .arg(database)
        .env("TRIMIO_ADMIN_TOKEN", admin_token)
        .env(crate::envoy::FILTER_TOKEN_ENV, filter_token)
        .env("RUST_LOG", "info");
    if let Some(lease_ms) = lease_ms {
        command.arg("--lease-ms").arg(lease_ms.to_string());
    }
    let log = dir.join(format!("control-plane.{generation}.log"));
    // A restarted process may have to wait for the old port to be free again.
    let mut last = String::new();
    for _ in 0..50 {
        match Process::spawn_until_line(
            "control plane",
            command_clone(&command),
            &log,
            "listening on ",
        )
        .await
        {
            Ok((process, addr)) => {
                let port = addr
                    .rsplit(':')
                    .next()
                    .and_then(|p| p.parse().ok())
                    .unwrap_or(0);
                return Ok((process, port));
            }
            Err(err) if err.contains("in use") => {
                last = err;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(err) => return Err(err),
        }
    }
    Err(last)
}

fn command_clone(command: &Command) -> Command {
    let std = command.as_std();
    let mut clone = Command::new(std.get_program());
    clone.args(std.get_args());
    for (key, value) in std.get_envs() {
        if let Some(value) = value {
            clone.env(key, value);
        }
    }
    clone
}

impl ControlPlane {
    /// Delivers usage records as the filter does, with the filter token; the
    /// acknowledgement.
    pub async fn deliver_usage(
        &self,
        records: Vec<trimio_wire::UsageRecord>,
    ) -> Result<Value, String> {
        let url = format!("http://127.0.0.1:{}{}", self.port, trimio_wire::USAGE_PATH);
        let response = reqwest::Client::new()
            .post(url)
            .bearer_auth(&self.filter_token)
            .json(&trimio_wire::UsageBatch { records })
            .send()
            .await
            .map_err(|e| format!("usage delivery: {e}"))?;
        let status = response.status();
        let answer: Value = response
            .json()
            .await
            .map_err(|e| format!("usage delivery: {e}"))?;
        if status != 200 {
            return Err(format!("usage delivery: status {status}: {answer}"));
        }
        Ok(answer)
    }
}

/// The admin API, with the admin token.
#[derive(Clone)]
pub struct Admin {
    base: String,
    token: String,
    http: reqwest::Client,
}

impl Admin {
    pub fn new(port: u16, token: &str) -> Admin {
        Admin {
            base: format!("http://127.0.0.1:{port}"),
            token: token.to_owned(),
            http: reqwest::Client::new(),
        }
    }

    pub fn base(&self) -> &str {
        &self.base
    }

    pub async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<(u16, Value), String> {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request
            .send()
            .await
            .map_err(|e| format!("admin {path}: {e}"))?;
        let status = response.status().as_u16();
        let text = response
            .text()
            .await
            .map_err(|e| format!("admin {path}: {e}"))?;
        let value = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Ok((status, value))
    }

    async fn expect(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, String> {
        let (status, value) = self.send(method, path, body).await?;
        if (200..300).contains(&status) {
            Ok(value)
        } else {
            Err(format!("admin {path}: status {status}: {value}"))
        }
    }

    pub async fn healthy(&self) -> bool {
        let url = format!("{}/healthz", self.base);
        matches!(self.http.get(url).send().await, Ok(r) if r.status().is_success())
    }

    /// Creates a team; `budget_usd` None is unlimited.
    pub async fn create_team(&self, name: &str, budget_usd: Option<&str>) -> Result<Value, String> {
        let body = json!({"name": name, "budget_usd": budget_usd});
        self.expect(reqwest::Method::POST, "/v1/admin/teams", Some(body))
            .await
    }

    pub async fn set_budget(&self, team: &str, budget_usd: Option<&str>) -> Result<Value, String> {
        let body = json!({"budget_usd": budget_usd});
        self.expect(
            reqwest::Method::PATCH,
            &format!("/v1/admin/teams/{team}"),
            Some(body),
        )
        .await
    }

    /// Issues a key; returns (key id, the key itself).
    pub async fn issue_key(
        &self,
        team: &str,
        project: Option<&str>,
    ) -> Result<(String, String), String> {
        let mut body = json!({"name": "test"});
        if let Some(project) = project {
            body["project"] = json!(project);
        }
        let path = format!("/v1/admin/teams/{team}/keys");
        let value = self
            .expect(reqwest::Method::POST, &path, Some(body))
            .await?;
        let id = value["id"].as_str().unwrap_or_default().to_owned();
        let key = value["key"]
            .as_str()
            .ok_or("no key in the answer")?
            .to_owned();
        Ok((id, key))
    }

    pub async fn revoke_key(&self, id: &str) -> Result<Value, String> {
        self.expect(
            reqwest::Method::DELETE,
            &format!("/v1/admin/keys/{id}"),
            None,
        )
        .await
    }

    pub async fn set_price(&self, model: &str, entry: &Value) -> Result<Value, String> {
        let path = format!("/v1/admin/prices/{model}");
        self.expect(reqwest::Method::PUT, &path, Some(entry.clone()))
            .await
    }

    /// The ledger's record of a call, or None when the control plane has none (yet).
    pub async fn call(&self, request_id: &str) -> Result<Option<Value>, String> {
        let (status, value) = self
            .send(
                reqwest::Method::GET,
                &format!("/v1/admin/calls/{request_id}"),
                None,
            )
            .await?;
        match status {
            200 => Ok(Some(value)),
            404 => Ok(None),
            _ => Err(format!("call {request_id}: status {status}: {value}")),
        }
    }

    /// Waits until the ledger holds the call's record.
    pub async fn wait_for_call(&self, request_id: &str, limit: Duration) -> Result<Value, String> {
        let deadline = tokio::time::Instant::now() + limit;
        let mut found = None;
        while found.is_none() && tokio::time::Instant::now() < deadline {
            found = self.call(request_id).await.ok().flatten();
            if found.is_none() {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
        found.ok_or_else(|| format!("no record of call {request_id} after {limit:?}"))
    }

    pub async fn report(&self, query: &str) -> Result<Value, String> {
        self.expect(
            reqwest::Method::GET,
            &format!("/v1/admin/reports/spend?{query}"),
            None,
        )
        .await
    }
}
