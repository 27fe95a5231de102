//! A whole gateway on loopback: the real control plane on a fresh database, a real Envoy with
//! the filter, and the mock provider serving a set of exchanges.

use std::time::Duration;

use serde_json::Value;
use trimio_mock_provider::exchange::Exchange;
use trimio_mock_provider::server::MockProvider;

use crate::client::{self, Outcome};
use crate::control_plane::ControlPlane;
use crate::envoy::Envoy;
use crate::envoy_config::{EnvoyOptions, Upstreams};
use crate::paths;

/// How the stack's gateway is set up.
#[derive(Debug, Clone)]
pub struct StackOptions {
    pub failure_mode: String,
    pub allow_on_headers_stop_iteration: bool,
    pub max_queued_records: Option<u64>,
    /// The control plane's `--lease-ms`, when not its default.
    pub lease_ms: Option<u64>,
}

impl Default for StackOptions {
    fn default() -> Self {
        StackOptions {
            failure_mode: "open".to_owned(),
            allow_on_headers_stop_iteration: true,
            max_queued_records: None,
            lease_ms: None,
        }
    }
}

pub struct Stack {
    pub dir: tempfile::TempDir,
    pub control_plane: ControlPlane,
    pub envoy: Envoy,
    pub mock: MockProvider,
    pub http: reqwest::Client,
    pub envoy_options: EnvoyOptions,
}

impl Stack {
    pub async fn start(exchanges: Vec<Exchange>, options: StackOptions) -> Result<Stack, String> {
        let dir = tempfile::Builder::new()
            .prefix("trimio-stack-")
            .tempdir()
            .map_err(|e| format!("temporary folder: {e}"))?;
        let wasm = paths::wasm();
        paths::require(&wasm, "the filter's wasm module")?;

        let mock = MockProvider::start(([127, 0, 0, 1], 0).into(), exchanges)
            .await
            .map_err(|e| format!("mock provider: {e}"))?;
        let filter_token = random_token();
        let control_plane = ControlPlane::start_with_leases(
            dir.path(),
            &random_token(),
            &filter_token,
            options.lease_ms,
        )
        .await?;
        let upstreams = Upstreams::Mock {
            host: "127.0.0.1".to_owned(),
            port: mock.addr().port(),
        };
        let mut envoy_options =
            EnvoyOptions::local(&wasm.to_string_lossy(), control_plane.port, upstreams);
        envoy_options.failure_mode = options.failure_mode;
        envoy_options.allow_on_headers_stop_iteration = options.allow_on_headers_stop_iteration;
        envoy_options.max_queued_records = options.max_queued_records;
        let envoy = Envoy::start(dir.path(), &envoy_options, &filter_token).await?;
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(64)
            .build()
            .map_err(|e| format!("http client: {e}"))?;
        Ok(Stack {
            dir,
            control_plane,
            envoy,
            mock,
            http,
            envoy_options,
        })
    }

    /// Creates a team with a budget (None: unlimited) and issues it a key.
    pub async fn team_with_key(
        &self,
        name: &str,
        budget_usd: Option<&str>,
    ) -> Result<(String, String), String> {
        let team = self
            .control_plane
            .admin
            .create_team(name, budget_usd)
            .await?;
        let team_id = team["id"].as_str().ok_or("no team id")?.to_owned();
        let (_, key) = self.control_plane.admin.issue_key(&team_id, None).await?;
        Ok((team_id, key))
    }

    /// Loads every exchange's prices into the control plane's price table.
    pub async fn load_prices(&self, exchanges: &[Exchange]) -> Result<(), String> {
        for exchange in exchanges {
            for (model, entry) in &exchange.prices {
                self.control_plane.admin.set_price(model, entry).await?;
            }
        }
        Ok(())
    }

    /// Sends one exchange through the gateway with `key`.
    pub async fn send(&self, exchange: &Exchange, key: Option<&str>) -> Result<Outcome, String> {
        client::send(&self.http, &self.envoy.url(""), exchange, key).await
    }

    /// Sends an exchange and waits for its record in the ledger.
    pub async fn call(&self, exchange: &Exchange, key: &str) -> Result<(Outcome, Value), String> {
        let outcome = self.send(exchange, Some(key)).await?;
        let request_id = outcome
            .request_id()
            .ok_or_else(|| format!("{}: no request id in the response", exchange.name))?
            .to_owned();
        let record = self
            .control_plane
            .admin
            .wait_for_call(&request_id, Duration::from_secs(20))
            .await?;
        Ok((outcome, record))
    }

    pub async fn stop(mut self) {
        self.envoy.stop().await;
        self.control_plane.stop(false).await;
        self.mock.shutdown().await;
    }
}

/// A random admin token for a throwaway stack.
pub fn random_token() -> String {
    let mut bytes = [0u8; 24];
    if getrandom::fill(&mut bytes).is_err() {
        // Only throwaway loopback stacks use this; a fixed token is still a token.
        return "trimio-test-admin-token".to_owned();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
