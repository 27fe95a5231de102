//! The filter's plugin configuration: typed, checked at load, shared by every context.
//!
//! A configuration that does not parse or fails a check makes `on_configure` return false,
//! so Envoy refuses the filter, after a log line that names the field.

use std::collections::HashMap;

use serde::Deserialize;
use trimio_wire::Provider;

/// The plugin configuration, as written in Envoy's `PluginConfig.configuration`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PluginConfig {
    pub control_plane: ControlPlane,
    /// Provider credentials the filter puts in place of the virtual key.
    pub providers: HashMap<Provider, ProviderConfig>,
    /// The provider for paths that name none (`/v1/models`).
    #[serde(default = "default_provider")]
    pub default_provider: Provider,
    /// What happens to a call when the control plane cannot answer its admission.
    #[serde(default)]
    pub failure_mode: FailureMode,
    /// Milliseconds between usage deliveries; each delivers every record waiting, a batch at
    /// a time.
    #[serde(default = "default_flush_interval_ms")]
    pub flush_interval_ms: u64,
    /// Most records in one delivery.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Largest request body held in Envoy's buffer: to ask an OpenAI Chat stream for its usage
    /// (a larger body passes unchanged and its call's output is estimated), or to read before
    /// asking admission (a larger body is admitted on its size alone).
    #[serde(default = "default_max_rewrite_body_bytes")]
    pub max_rewrite_body_bytes: usize,
    /// Ask admission once the request body is read, with the model, the output cap and the
    /// body's size, rather than from the headers alone. Needs Envoy's
    /// `allow_on_headers_stop_iteration: true` (Envoy 1.35 and later), which lets the body
    /// callbacks run while the headers wait; without it Envoy holds the body until the headers
    /// go on, so a request with a body would wait for Envoy's stream idle timeout. False asks
    /// at the headers, with the body's size from `content-length` only.
    #[serde(default)]
    pub admission_reads_body: bool,
    /// Admit calls under the leases the control plane grants, without asking it for each
    /// call; false asks for every call.
    #[serde(default = "default_leases")]
    pub leases: bool,
    /// While the control plane cannot answer, failing open admits only keys it admitted within
    /// this many seconds; other keys get the provider's overloaded error.
    #[serde(default = "default_fail_open_key_ttl_s")]
    pub fail_open_key_ttl_s: u64,
    /// Name under which the workers share the count of waiting usage records and the queue
    /// of leases to renew (Envoy shared data and shared queue).
    #[serde(default = "default_queue_name")]
    pub queue_name: String,
    /// Most usage records the workers hold in all while the control plane cannot take them
    /// (about 600 bytes each). A record past it is dropped and counted in
    /// `trimio.records_dropped`.
    #[serde(default = "default_max_queued_records")]
    pub max_queued_records: u64,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ControlPlane {
    /// Envoy cluster that reaches the control plane.
    pub cluster: String,
    /// `:authority` sent to the control plane.
    #[serde(default = "default_authority")]
    pub authority: String,
    /// Admission timeout in milliseconds; past it, `failure_mode` decides. The control plane
    /// is told it may hold its answer for two thirds of it.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Environment variable holding the token the control plane requires on its filter
    /// endpoints, if it requires one.
    #[serde(default)]
    pub token_env: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderConfig {
    /// Environment variable of the Envoy VM (`vm_config.environment_variables`) that holds
    /// the provider credential.
    #[serde(default)]
    pub credential_env: Option<String>,
    /// The credential itself. Prefer `credential_env`: Envoy's admin `/config_dump` shows this.
    #[serde(default)]
    pub credential: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureMode {
    /// Admit the call; its usage is queued and delivered when the control plane returns.
    #[default]
    Open,
    /// Refuse the call with the provider's overloaded error.
    Closed,
}

fn default_provider() -> Provider {
    Provider::Openai
}
fn default_leases() -> bool {
    true
}
fn default_flush_interval_ms() -> u64 {
    200
}
fn default_batch_size() -> usize {
    200
}
fn default_max_rewrite_body_bytes() -> usize {
    8 * 1024 * 1024
}
fn default_fail_open_key_ttl_s() -> u64 {
    24 * 60 * 60
}
fn default_max_queued_records() -> u64 {
    50_000
}
fn default_queue_name() -> String {
    "trimio_usage".to_owned()
}
fn default_authority() -> String {
    "trimio-control-plane".to_owned()
}
fn default_timeout_ms() -> u64 {
    3000
}

/// A configuration that cannot be used, with the field at fault.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("invalid plugin configuration: {0}")]
    Parse(String),
    #[error("invalid plugin configuration: field `{field}`: {problem}")]
    Field { field: String, problem: String },
}

/// Settings resolved at load: the configuration plus the credentials read from the VM's
/// environment. Credentials never appear in `Debug` output.
#[derive(Clone)]
pub struct Settings {
    pub config: PluginConfig,
    credentials: HashMap<Provider, String>,
    /// `Bearer <filter token>`, made once, for calls to the control plane.
    authorization: Option<String>,
    /// Problems that disable part of the configuration without refusing it.
    pub warnings: Vec<String>,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field(
                "config.control_plane.cluster",
                &self.config.control_plane.cluster,
            )
            .field("credentials", &self.credentials.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl Settings {
    /// Parses and checks a configuration; `env` looks up the VM's environment variables.
    pub fn load(bytes: &[u8], env: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let config: PluginConfig =
            serde_json::from_slice(bytes).map_err(|e| ConfigError::Parse(e.to_string()))?;

        check(
            !config.control_plane.cluster.is_empty(),
            "control_plane.cluster",
            "is empty",
        )?;
        check(
            config.control_plane.timeout_ms > 0,
            "control_plane.timeout_ms",
            "must be > 0",
        )?;
        check(
            config.flush_interval_ms > 0,
            "flush_interval_ms",
            "must be > 0",
        )?;
        check(
            (1..=10_000).contains(&config.batch_size),
            "batch_size",
            "must be 1..=10000",
        )?;
        check(!config.queue_name.is_empty(), "queue_name", "is empty")?;
        check(
            (1..=10_000_000).contains(&config.max_queued_records),
            "max_queued_records",
            "must be 1..=10000000",
        )?;
        check(
            !config.providers.is_empty(),
            "providers",
            "names no provider",
        )?;

        let mut credentials = HashMap::new();
        let mut warnings = Vec::new();
        for (provider, p) in &config.providers {
            let field = format!("providers.{}", provider.as_str());
            match (&p.credential_env, &p.credential) {
                (Some(var), None) => match env(var).filter(|v| !v.is_empty()) {
                    Some(credential) => {
                        credentials.insert(*provider, credential);
                    }
                    None => warnings.push(format!(
                        "{field}.credential_env: environment variable {var} is not set in the \
                         wasm VM; calls to {} are refused",
                        provider.as_str()
                    )),
                },
                (None, Some(value)) if !value.is_empty() => {
                    credentials.insert(*provider, value.clone());
                }
                (Some(_), Some(_)) => {
                    return Err(field_error(
                        &field,
                        "set credential_env or credential, not both",
                    ));
                }
                _ => return Err(field_error(&field, "needs credential_env or credential")),
            }
        }
        if credentials.is_empty() {
            warnings.push("no provider has a credential: every call is refused".to_owned());
        }

        let filter_token = match &config.control_plane.token_env {
            Some(var) => Some(env(var).filter(|v| !v.is_empty()).ok_or_else(|| {
                field_error(
                    "control_plane.token_env",
                    &format!("environment variable {var} is not set in the wasm VM"),
                )
            })?),
            None => None,
        };

        Ok(Settings {
            config,
            credentials,
            authorization: filter_token.map(|token| format!("Bearer {token}")),
            warnings,
        })
    }

    /// The headers of a call to the control plane's `path`.
    pub fn control_plane_headers<'a>(&'a self, path: &'a str) -> Vec<(&'a str, &'a str)> {
        let mut headers = vec![
            (":method", "POST"),
            (":path", path),
            (":authority", self.config.control_plane.authority.as_str()),
            ("content-type", "application/json"),
        ];
        if let Some(authorization) = &self.authorization {
            headers.push(("authorization", authorization.as_str()));
        }
        headers
    }

    /// The provider credential to send upstream, if the provider is configured.
    pub fn credential(&self, provider: Provider) -> Option<&str> {
        self.credentials.get(&provider).map(String::as_str)
    }
}

fn check(ok: bool, field: &str, problem: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(field_error(field, problem))
    }
}

fn field_error(field: &str, problem: &str) -> ConfigError {
    ConfigError::Field {
        field: field.to_owned(),
        problem: problem.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(name: &str) -> Option<String> {
        (name == "ANTHROPIC_API_KEY").then(|| "sk-ant-real".to_owned())
    }

    #[test]
    fn loads_a_minimal_config() {
        let json = br#"{"control_plane":{"cluster":"cp"},
            "providers":{"anthropic":{"credential_env":"ANTHROPIC_API_KEY"}}}"#;
        let settings = Settings::load(json, env).unwrap();
        assert_eq!(
            settings.credential(Provider::Anthropic),
            Some("sk-ant-real")
        );
        assert_eq!(settings.credential(Provider::Openai), None);
        assert_eq!(settings.config.failure_mode, FailureMode::Open);
        assert_eq!(settings.config.control_plane.timeout_ms, 3000);
        assert!(!settings.config.admission_reads_body);
        assert!(!format!("{settings:?}").contains("sk-ant-real"));
    }

    #[test]
    fn names_the_unknown_field() {
        let json = br#"{"control_plane":{"cluster":"cp","timeuot_ms":5},"providers":{}}"#;
        let err = Settings::load(json, env).unwrap_err().to_string();
        assert!(err.contains("timeuot_ms"), "{err}");
    }

    #[test]
    fn a_missing_credential_disables_its_provider_only() {
        let json = br#"{"control_plane":{"cluster":"cp"},
            "providers":{"openai":{"credential_env":"OPENAI_API_KEY"},
                         "anthropic":{"credential_env":"ANTHROPIC_API_KEY"}}}"#;
        let settings = Settings::load(json, env).unwrap();
        assert_eq!(settings.credential(Provider::Openai), None);
        assert_eq!(settings.warnings.len(), 1);
        assert!(settings.warnings[0].contains("providers.openai.credential_env"));
        assert!(settings.warnings[0].contains("OPENAI_API_KEY"));
    }

    #[test]
    fn no_credential_at_all_is_loud_but_loads() {
        let json = br#"{"control_plane":{"cluster":"cp"},
            "providers":{"openai":{"credential_env":"OPENAI_API_KEY"}}}"#;
        let settings = Settings::load(json, env).unwrap();
        assert_eq!(settings.warnings.len(), 2);
        assert!(settings.warnings[1].contains("every call is refused"));
    }

    #[test]
    fn rejects_a_zero_batch() {
        let json = br#"{"control_plane":{"cluster":"cp"},"batch_size":0,
            "providers":{"anthropic":{"credential":"x"}}}"#;
        let err = Settings::load(json, env).unwrap_err();
        assert_eq!(err, field_error("batch_size", "must be 1..=10000"));
    }
}
