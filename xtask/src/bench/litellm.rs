//! The peer gateway: LiteLLM's proxy in front of the same mock provider, with a budget that
//! makes its spend tracking run on every call, and the checks that it did.
//!
//! LiteLLM runs as one process (one uvicorn worker, its default) on a port the system picks,
//! from a config the bench writes: each model the bench's calls name is an Anthropic model
//! at the mock's address with a dummy key, priced per token from the exchange's own prices.
//! The budget is a provider budget (`router_settings.provider_budget_config`): before each
//! call its router reads the provider's spend from its in-memory cache and drops deployments
//! over budget; after each call a success callback adds the call's cost to that spend.
//! LiteLLM's key and team budgets would need its database, which cannot run here.
//!
//! The bench reads that spend back (`GET /provider/budgets`) after every step and fails
//! unless it grew by the cost of every call LiteLLM answered.
//!
//! Nothing LiteLLM does may leave the machine: the environment makes it use its bundled
//! model prices, Anthropic beta headers, blog posts, policy templates and router presets
//! instead of fetching them, no logging callback is configured, and tokenizers are never
//! downloaded.

use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::process::Command;
use trimio_e2e::client::Outcome;
use trimio_e2e::process::{Process, wait_for};
use trimio_e2e::stack::random_token;
use trimio_mock_provider::exchange::Exchange;

use super::exchanges::BenchExchanges;

/// Each of these set to `True` makes LiteLLM use the copy bundled with the package instead
/// of fetching the current one at start-up or on first use.
const LOCAL_ONLY: [&str; 5] = [
    "LITELLM_LOCAL_MODEL_COST_MAP",
    "LITELLM_LOCAL_ANTHROPIC_BETA_HEADERS",
    "LITELLM_LOCAL_BLOG_POSTS",
    "LITELLM_LOCAL_POLICY_TEMPLATES",
    "LITELLM_LOCAL_AUTOROUTER_PRESETS",
];
/// The provider whose budget is tracked, as LiteLLM names it.
const PROVIDER: &str = "anthropic";
/// The provider budget in USD over [`BUDGET_PERIOD`]: large enough that no call is refused.
const BUDGET_USD: f64 = 1_000_000.0;
const BUDGET_PERIOD: &str = "30d";
/// The line uvicorn logs once it listens, before the address.
const READY_LINE: &str = "Uvicorn running on http://";
/// How long LiteLLM may take to start, and to count the calls of a step after it.
const START_LIMIT: Duration = Duration::from_secs(120);
const SPEND_LIMIT: Duration = Duration::from_secs(30);
/// Slack when comparing spends in USD, for the float sums on both sides.
const SPEND_EPSILON_USD: f64 = 1e-7;

/// A running LiteLLM proxy and what the bench expects its budget counter to hold.
pub struct LiteLlm {
    process: Option<Process>,
    pub port: u16,
    /// The proxy's master key, which clients send as their key.
    pub key: String,
    http: reqwest::Client,
    /// Spend the budget counter must hold at least, from the calls answered 200, in USD.
    owed_usd: f64,
    /// What it may hold on top: the cost of calls that failed, which LiteLLM may or may not
    /// have counted, in USD.
    slack_usd: f64,
    /// Calls answered 200 whose cost the counter was found to hold.
    pub calls_counted: u64,
}

impl LiteLlm {
    /// Writes the config into `dir` and starts `litellm` with it; returns once it answers.
    pub async fn start(
        bin: &Path,
        dir: &Path,
        mock_port: u16,
        exchanges: &BenchExchanges,
    ) -> Result<LiteLlm, String> {
        let key = format!("sk-bench-{}", random_token());
        // JSON, which YAML (LiteLLM's config format) reads as it is.
        let config = config(mock_port, &key, exchanges)?.to_string();
        let config_path = dir.join("litellm-config.yaml");
        std::fs::write(&config_path, config)
            .map_err(|e| format!("{}: {e}", config_path.display()))?;

        let mut command = Command::new(bin);
        command
            .arg("--config")
            .arg(&config_path)
            .args(["--host", "127.0.0.1", "--port", "0", "--num_workers", "1"])
            .env_remove("DATABASE_URL")
            .current_dir(dir);
        for name in LOCAL_ONLY {
            command.env(name, "True");
        }
        let log_path = dir.join("litellm.log");
        let mut process = Process::spawn("litellm", command, &log_path)?;

        let mut port = None;
        let started = wait_for(START_LIMIT, || {
            let found = listening_port(&process.log());
            port = found;
            let exited = found.is_none() && process.exited();
            async move { found.is_some() || exited }
        })
        .await;
        let Some(port) = port.filter(|_| started) else {
            let log = process.log();
            process.stop().await;
            return Err(format!(
                "LiteLLM did not start listening within {} s; its log:\n{log}",
                START_LIMIT.as_secs()
            ));
        };

        let http = reqwest::Client::new();
        let url = format!("http://127.0.0.1:{port}/health/liveliness");
        let alive = wait_for(Duration::from_secs(30), || {
            let request = http.get(&url).send();
            async move { request.await.is_ok_and(|r| r.status().is_success()) }
        })
        .await;
        if !alive {
            let log = process.log();
            process.stop().await;
            return Err(format!(
                "LiteLLM listens on {port} but does not answer; its log:\n{log}"
            ));
        }
        Ok(LiteLlm {
            process: Some(process),
            port,
            key,
            http,
            owed_usd: 0.0,
            slack_usd: 0.0,
            calls_counted: 0,
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    pub fn pid(&self) -> Option<u32> {
        self.process.as_ref().and_then(Process::pid)
    }

    pub async fn stop(&mut self) {
        if let Some(process) = self.process.take() {
            process.stop().await;
        }
    }

    /// The provider's spend in LiteLLM's budget counter, in USD.
    pub async fn spend(&self) -> Result<f64, String> {
        let budgets: Value = self
            .http
            .get(self.url("/provider/budgets"))
            .bearer_auth(&self.key)
            .send()
            .await
            .map_err(|e| format!("LiteLLM /provider/budgets: {e}"))?
            .json()
            .await
            .map_err(|e| format!("LiteLLM /provider/budgets: {e}"))?;
        budgets["providers"][PROVIDER]["spend"]
            .as_f64()
            .ok_or_else(|| format!("LiteLLM /provider/budgets has no {PROVIDER} spend: {budgets}"))
    }

    /// Notes calls of `exchange` that LiteLLM answered (`ok`) or not (`failed`), whose cost
    /// its budget counter must now hold.
    pub fn owe(&mut self, exchange: &Exchange, ok: u64, failed: u64) -> Result<(), String> {
        let cost = cost_usd(exchange)?;
        self.owed_usd += ok as f64 * cost;
        self.slack_usd += failed as f64 * cost;
        self.calls_counted += ok;
        Ok(())
    }

    /// Waits until the budget counter holds the cost of every call answered since the last
    /// settle (its callbacks run after the answer is sent), and fails if it never does or if
    /// it counted more than the calls sent.
    pub async fn settle(&mut self) -> Result<(), String> {
        let mut spend = self.spend().await?;
        let owed = self.owed_usd;
        if spend + SPEND_EPSILON_USD < owed {
            let caught_up = wait_for(SPEND_LIMIT, || {
                let read = self.spend();
                async move {
                    read.await
                        .is_ok_and(|spend| spend + SPEND_EPSILON_USD >= owed)
                }
            })
            .await;
            spend = self.spend().await?;
            if !caught_up {
                return Err(format!(
                    "LiteLLM's {PROVIDER} budget counter holds {spend:.6} USD after {} s, but \
                     the calls it answered cost {owed:.6} USD: its spend tracking missed calls",
                    SPEND_LIMIT.as_secs()
                ));
            }
        }
        if spend > owed + self.slack_usd + SPEND_EPSILON_USD {
            return Err(format!(
                "LiteLLM's {PROVIDER} budget counter holds {spend:.6} USD, more than the \
                 {:.6} USD of every call sent to it",
                owed + self.slack_usd
            ));
        }
        self.owed_usd = spend;
        self.slack_usd = 0.0;
        Ok(())
    }
}

/// The config: the models of the bench's calls at the mock, their prices, the budget, the
/// master key, and the client's `x-` headers forwarded (the mock picks its exchange by one).
fn config(mock_port: u16, key: &str, exchanges: &BenchExchanges) -> Result<Value, String> {
    let mut models: Vec<Value> = Vec::new();
    for exchange in exchanges.all() {
        let model = requested_model(exchange)?;
        if models.iter().any(|m| m["model_name"] == model) {
            continue;
        }
        models.push(json!({
            "model_name": model,
            "litellm_params": {
                "model": format!("{PROVIDER}/{model}"),
                "api_base": format!("http://127.0.0.1:{mock_port}"),
                "api_key": "sk-ant-bench-dummy",
            },
            "model_info": prices(exchange, model)?,
        }));
    }
    Ok(json!({
        "model_list": models,
        "router_settings": {
            "provider_budget_config": {
                PROVIDER: { "budget_limit": BUDGET_USD, "time_period": BUDGET_PERIOD },
            },
        },
        "general_settings": {
            "master_key": key,
            "forward_client_headers_to_llm_api": true,
        },
        "litellm_settings": {
            "disable_hf_tokenizer_download": true,
        },
    }))
}

fn requested_model(exchange: &Exchange) -> Result<&str, String> {
    exchange
        .request
        .body
        .as_ref()
        .and_then(|body| body["model"].as_str())
        .ok_or_else(|| format!("{}: the request names no model", exchange.name))
}

/// LiteLLM's per-token prices for `model`, from the exchange's prices per million tokens
/// under the longest name that starts the model's (`claude-haiku-4-5` for
/// `claude-haiku-4-5-20251001`).
fn prices(exchange: &Exchange, model: &str) -> Result<Value, String> {
    let (_, entry) = exchange
        .prices
        .iter()
        .filter(|(name, _)| model.starts_with(name.as_str()))
        .max_by_key(|(name, _)| name.len())
        .ok_or_else(|| format!("{}: no price for {model}", exchange.name))?;
    let per_token = |field: &str| -> Result<f64, String> {
        entry[field]
            .as_str()
            .and_then(|text| text.parse::<f64>().ok())
            .map(|per_million| per_million / 1e6)
            .ok_or_else(|| format!("{}: the price of {model} has no {field}", exchange.name))
    };
    Ok(json!({
        "input_cost_per_token": per_token("input")?,
        "output_cost_per_token": per_token("output")?,
        "cache_read_input_token_cost": per_token("cache_read")?,
        "cache_creation_input_token_cost": per_token("cache_write_5m")?,
    }))
}

/// What one call of `exchange` costs, in USD, as the exchange expects it billed.
fn cost_usd(exchange: &Exchange) -> Result<f64, String> {
    exchange
        .expect
        .as_ref()
        .and_then(|expect| expect.cost_usd.as_deref())
        .and_then(|text| text.parse().ok())
        .ok_or_else(|| format!("{}: no expected cost", exchange.name))
}

/// The port in uvicorn's `Uvicorn running on http://127.0.0.1:PORT` line, once logged.
fn listening_port(log: &str) -> Option<u16> {
    let (_, rest) = log.split_once(READY_LINE)?;
    let address = rest.split_whitespace().next()?;
    address.rsplit(':').next()?.parse().ok()
}

/// Whether LiteLLM's answer carries what the provider sent: the same status, and the same
/// message or the same events. LiteLLM writes the model name the client asked for in place
/// of the provider's and re-encodes the body, so bodies are compared as JSON values without
/// their model, and its keep-alive pings are left out.
pub fn same_answer(exchange: &Exchange, outcome: &Outcome) -> Result<(), String> {
    if outcome.status != exchange.response.status {
        return Err(format!(
            "status {} != {}",
            outcome.status, exchange.response.status
        ));
    }
    let sent = exchange
        .response
        .body_chunks(exchange.request.asks_for_usage())
        .map_err(|e| e.to_string())?
        .concat();
    let (sent, got) = (messages(&sent)?, messages(&outcome.body)?);
    if sent == got {
        Ok(())
    } else {
        Err(format!(
            "the answer differs from the provider's: got {}",
            String::from_utf8_lossy(&outcome.body)
                .chars()
                .take(300)
                .collect::<String>()
        ))
    }
}

/// The JSON values of a body, one for a message, one per event for a stream (pings left
/// out), without their model.
fn messages(body: &[u8]) -> Result<Vec<Value>, String> {
    let text = String::from_utf8_lossy(body);
    let mut values = Vec::new();
    if let Ok(value) = serde_json::from_str::<Value>(&text) {
        values.push(value);
    } else {
        for event in text.split("\n\n") {
            let Some(data) = event.lines().find_map(|l| l.strip_prefix("data:")) else {
                continue;
            };
            let value: Value = serde_json::from_str(data.trim())
                .map_err(|e| format!("an event that is not JSON ({e}): {event}"))?;
            if value["type"] != "ping" {
                values.push(value);
            }
        }
    }
    for value in &mut values {
        if let Some(object) = value.as_object_mut() {
            object.remove("model");
        }
        if let Some(message) = value.get_mut("message").and_then(Value::as_object_mut) {
            message.remove("model");
        }
    }
    Ok(values)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_port_uvicorn_logs() {
        let log = "INFO:     Application startup complete.\n\
                   INFO:     Uvicorn running on http://127.0.0.1:38579 (Press CTRL+C to quit)\n";

        assert_eq!(listening_port(log), Some(38579));
        assert_eq!(
            listening_port("INFO:     Waiting for application startup.\n"),
            None
        );
    }

    #[test]
    fn the_config_prices_every_model_per_token() {
        let exchanges = super::super::exchanges::build().unwrap();

        let config = config(4242, "sk-bench-key", &exchanges).unwrap();

        let models = config["model_list"].as_array().unwrap();
        assert_eq!(models.len(), 2);
        for model in models {
            let name = model["model_name"].as_str().unwrap();
            assert_eq!(
                model["litellm_params"]["model"],
                format!("anthropic/{name}")
            );
            assert_eq!(model["litellm_params"]["api_base"], "http://127.0.0.1:4242");
            assert_eq!(model["model_info"]["input_cost_per_token"], 1e-6);
            assert_eq!(model["model_info"]["output_cost_per_token"], 5e-6);
        }
        let budget = &config["router_settings"]["provider_budget_config"]["anthropic"];
        assert_eq!(budget["budget_limit"], BUDGET_USD);
    }

    #[test]
    fn an_answer_is_the_same_without_its_model_and_pings() {
        let exchanges = super::super::exchanges::build().unwrap();
        let stream = &exchanges.stream;
        let sent = stream.response.body_chunks(false).unwrap().concat();
        let renamed = String::from_utf8(sent)
            .unwrap()
            .replace("claude-haiku-4-5-20251001", "claude-haiku-4-5");
        let mut outcome = Outcome {
            status: 200,
            headers: Vec::new(),
            body: format!("event: ping\ndata: {{\"type\": \"ping\"}}\n\n{renamed}").into_bytes(),
            arrivals: Vec::new(),
            aborted: false,
            cut: false,
        };

        assert_eq!(same_answer(stream, &outcome), Ok(()));

        outcome.body = renamed.replace("word3 ", "word4 ").into_bytes();
        assert!(same_answer(stream, &outcome).is_err());
    }
}
