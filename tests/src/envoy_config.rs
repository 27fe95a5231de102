//! Renders Envoy configurations for the gateway: the shipped ones in `envoy/` and the ones
//! the tests start. One renderer, so the shipped files and the tested ones cannot drift.

use std::fmt::Write as _;

/// Where the provider clusters point.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Upstreams {
    /// The real providers over TLS, verified against the system's CA bundle.
    Real { ca_bundle: String },
    /// One plain-HTTP mock provider serving every API family.
    Mock { host: String, port: u16 },
}

/// Everything that differs between one gateway and another.
#[derive(Debug, Clone)]
pub struct EnvoyOptions {
    /// Header comment of the file.
    pub title: String,
    pub listen_address: String,
    /// 0 lets Envoy pick a free port (read it back from the admin `/listeners`).
    pub listen_port: u16,
    pub admin_address: String,
    pub admin_port: u16,
    pub wasm_path: String,
    pub control_plane_host: String,
    pub control_plane_port: u16,
    /// `STRICT_DNS` for a name, `STATIC` for an IP address.
    pub upstreams: Upstreams,
    /// `open` or `closed`.
    pub failure_mode: String,
    pub flush_interval_ms: u64,
    /// Whether a headers `Pause` lets the body callbacks run (Envoy ≥ 1.35). The filter reads
    /// the request body before asking admission (`admission_reads_body`) exactly when it does.
    pub allow_on_headers_stop_iteration: bool,
    /// The filter's `max_queued_records`; `None` leaves the filter's default.
    pub max_queued_records: Option<u64>,
    /// Whether the Trimio filter runs. Without it the same listener, routes and clusters
    /// make a plain Envoy: the floor `cargo xtask bench` measures the filter against.
    pub trimio_filter: bool,
}

impl EnvoyOptions {
    /// The standalone gateway in front of the real providers, as `docker-compose.yml` runs it.
    pub fn shipped_gateway() -> Self {
        EnvoyOptions {
            title: "Trimio gateway in front of the real providers (docker-compose.yml runs it)."
                .to_owned(),
            listen_address: "0.0.0.0".to_owned(),
            listen_port: 10000,
            admin_address: "127.0.0.1".to_owned(),
            admin_port: 9901,
            wasm_path: "/etc/trimio/trimio_filter.wasm".to_owned(),
            control_plane_host: "control-plane".to_owned(),
            control_plane_port: 8081,
            upstreams: Upstreams::Real {
                ca_bundle: "/etc/ssl/certs/ca-certificates.crt".into(),
            },
            failure_mode: "open".to_owned(),
            flush_interval_ms: 200,
            allow_on_headers_stop_iteration: true,
            max_queued_records: None,
            trimio_filter: true,
        }
    }

    /// The same gateway in front of the bundled mock provider (`--profile mock`).
    pub fn shipped_mock_gateway() -> Self {
        EnvoyOptions {
            title: "Trimio gateway in front of the bundled mock provider (compose profile `mock`)."
                .to_owned(),
            upstreams: Upstreams::Mock {
                host: "mock-provider".to_owned(),
                port: 8090,
            },
            ..Self::shipped_gateway()
        }
    }

    /// A gateway on loopback, for `cargo xtask up` and the tests.
    pub fn local(wasm_path: &str, control_plane_port: u16, upstreams: Upstreams) -> Self {
        EnvoyOptions {
            title: "Trimio gateway on loopback.".to_owned(),
            listen_address: "127.0.0.1".to_owned(),
            listen_port: 0,
            admin_address: "127.0.0.1".to_owned(),
            admin_port: 0,
            wasm_path: wasm_path.to_owned(),
            control_plane_host: "127.0.0.1".to_owned(),
            control_plane_port,
            upstreams,
            failure_mode: "open".to_owned(),
            flush_interval_ms: 100,
            allow_on_headers_stop_iteration: true,
            max_queued_records: None,
            trimio_filter: true,
        }
    }
}

/// A provider's cluster, and the paths routed to it: `path_separated_prefix` matches the
/// path itself or anything below it after a `/`, so `/v1/messagesX` is not Anthropic's.
/// Each route is named after its provider: the filter reads the name to choose the
/// credential, so a key is only ever sent where Envoy sends the call.
struct ProviderRoute {
    cluster: &'static str,
    host: &'static str,
    paths: &'static [&'static str],
}

const PROVIDERS: [ProviderRoute; 3] = [
    ProviderRoute {
        cluster: "anthropic",
        host: "api.anthropic.com",
        paths: &["/v1/messages"],
    },
    ProviderRoute {
        cluster: "gemini",
        host: "generativelanguage.googleapis.com",
        paths: &["/v1beta"],
    },
    // OpenAI last: it also takes every other `/v1/` path (models, files, ...).
    ProviderRoute {
        cluster: "openai",
        host: "api.openai.com",
        paths: &["/v1/chat/completions", "/v1/responses", "/v1"],
    },
];

/// The plugin configuration handed to the filter, as JSON.
pub fn plugin_config(options: &EnvoyOptions) -> String {
    plugin_config_value(options).to_string()
}

/// The plugin configuration as a JSON value, for tests that change a field of it.
pub fn plugin_config_value(options: &EnvoyOptions) -> serde_json::Value {
    let mut value = serde_json::json!({
        "control_plane": {
            "cluster": "trimio_control_plane",
            "authority": "trimio-control-plane",
            "timeout_ms": 3000,
            "token_env": "TRIMIO_FILTER_TOKEN",
        },
        "providers": {
            "anthropic": {"credential_env": "ANTHROPIC_API_KEY"},
            "openai": {"credential_env": "OPENAI_API_KEY"},
            "gemini": {"credential_env": "GEMINI_API_KEY"},
        },
        "failure_mode": options.failure_mode,
        "flush_interval_ms": options.flush_interval_ms,
        // Without `allow_on_headers_stop_iteration` Envoy would hold the body of a request
        // whose headers wait, so admission must be asked from the headers.
        "admission_reads_body": options.allow_on_headers_stop_iteration,
    });
    if let Some(max) = options.max_queued_records {
        value["max_queued_records"] = max.into();
    }
    value
}

/// Renders the whole Envoy bootstrap as YAML.
pub fn render(options: &EnvoyOptions) -> String {
    render_with_plugin_config(options, &plugin_config(options))
}

/// Renders the bootstrap with a given plugin configuration (tests use it to feed bad ones).
pub fn render_with_plugin_config(options: &EnvoyOptions, plugin_config: &str) -> String {
    let mut out = String::new();
    let o = options;
    let _ = write!(
        out,
        r#"# {title}
# Generated by `cargo xtask envoy-config`; edit tests/src/envoy_config.rs, not this file.
admin:
  address:
    socket_address: {{ address: {admin_address}, port_value: {admin_port} }}
static_resources:
  listeners:
  - name: gateway
    address:
      socket_address: {{ address: {listen_address}, port_value: {listen_port} }}
    # Room for an OpenAI Chat body held to ask the stream for its usage.
    per_connection_buffer_limit_bytes: 16777216
    filter_chains:
    - filters:
      - name: envoy.filters.network.http_connection_manager
        typed_config:
          "@type": type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager
          stat_prefix: gateway
          # Paths are normalized before the filter and the router see them, so both read the
          # same path: `/v1//messages` and `/v1/x/../messages` are `/v1/messages`.
          normalize_path: true
          merge_slashes: true
          # The client sees the provider's own `server` header, as it would without a gateway.
          server_header_transformation: PASS_THROUGH
          path_with_escaped_slashes_action: REJECT_REQUEST
          # Agent turns stream for minutes; only idle streams are cut.
          stream_idle_timeout: 600s
          request_timeout: 0s
          route_config:
            name: providers
            virtual_hosts:
            - name: providers
              domains: ["*"]
              routes:
"#,
        title = o.title,
        admin_address = o.admin_address,
        admin_port = o.admin_port,
        listen_address = o.listen_address,
        listen_port = o.listen_port,
    );
    for provider in &PROVIDERS {
        for path in provider.paths {
            let rewrite = match &o.upstreams {
                Upstreams::Real { .. } => format!(", host_rewrite_literal: {}", provider.host),
                Upstreams::Mock { .. } => String::new(),
            };
            let cluster = provider.cluster;
            let _ = writeln!(
                out,
                "              - name: {cluster}\n                match: {{ path_separated_prefix: \
                 \"{path}\" }}\n                route: {{ cluster: {cluster}, timeout: 0s, \
                 idle_timeout: 600s{rewrite} }}",
            );
        }
    }
    out.push_str("          http_filters:\n");
    if o.trimio_filter {
        out.push_str(&trimio_filter(o, plugin_config));
    }
    out.push_str(
        r#"          - name: envoy.filters.http.router
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.router.v3.Router
  clusters:
"#,
    );
    out.push_str(&cluster(
        "trimio_control_plane",
        &o.control_plane_host,
        o.control_plane_port,
        None,
        "1s",
    ));
    for provider in &PROVIDERS {
        let text = match &o.upstreams {
            Upstreams::Real { ca_bundle } => {
                cluster(provider.cluster, provider.host, 443, Some(ca_bundle), "10s")
            }
            Upstreams::Mock { host, port } => cluster(provider.cluster, host, *port, None, "2s"),
        };
        out.push_str(&text);
    }
    out
}

/// The Trimio HTTP filter's entry in the filter chain.
fn trimio_filter(o: &EnvoyOptions, plugin_config: &str) -> String {
    let plugin_config = plugin_config.replace('\\', "\\\\").replace('"', "\\\"");
    format!(
        r#"          - name: trimio
            typed_config:
              "@type": type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm
              config:
                name: trimio
                root_id: trimio
                # A headers Pause stays a plain stop-iteration, so the body callbacks run
                # while admission is pending (Envoy >= 1.35); the filter reads the body before
                # it asks admission exactly when this is true (`admission_reads_body`).
                allow_on_headers_stop_iteration: {allow}
                # A crashed VM is replaced; calls are never forwarded unmetered.
                failure_policy: FAIL_RELOAD
                vm_config:
                  vm_id: trimio
                  runtime: envoy.wasm.runtime.v8
                  code:
                    local:
                      filename: {wasm}
                  environment_variables:
                    host_env_keys:
                    - ANTHROPIC_API_KEY
                    - OPENAI_API_KEY
                    - GEMINI_API_KEY
                    - TRIMIO_FILTER_TOKEN
                configuration:
                  "@type": type.googleapis.com/google.protobuf.StringValue
                  value: "{plugin_config}"
"#,
        allow = o.allow_on_headers_stop_iteration,
        wasm = o.wasm_path,
    )
}

fn cluster(name: &str, host: &str, port: u16, tls_ca: Option<&str>, connect: &str) -> String {
    let kind = if host.parse::<std::net::IpAddr>().is_ok() {
        "STATIC"
    } else if tls_ca.is_some() {
        "LOGICAL_DNS"
    } else {
        "STRICT_DNS"
    };
    let mut out = format!(
        r#"  - name: {name}
    type: {kind}
    connect_timeout: {connect}
    dns_lookup_family: V4_PREFERRED
    per_connection_buffer_limit_bytes: 16777216
    load_assignment:
      cluster_name: {name}
      endpoints:
      - lb_endpoints:
        - endpoint:
            address:
              socket_address: {{ address: {host}, port_value: {port} }}
"#
    );
    if let Some(ca) = tls_ca {
        let _ = write!(
            out,
            r#"    transport_socket:
      name: envoy.transport_sockets.tls
      typed_config:
        "@type": type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.UpstreamTlsContext
        sni: {host}
        common_tls_context:
          validation_context:
            trusted_ca: {{ filename: {ca} }}
            match_typed_subject_alt_names:
            - san_type: DNS
              matcher: {{ exact: {host} }}
"#
        );
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_envoy_differs_only_by_the_filter() {
        let upstreams = Upstreams::Mock {
            host: "127.0.0.1".to_owned(),
            port: 8090,
        };
        let with = EnvoyOptions::local("/tmp/trimio_filter.wasm", 8081, upstreams);
        let without = EnvoyOptions {
            trimio_filter: false,
            ..with.clone()
        };

        let plain = render(&without);

        assert!(!plain.contains("envoy.filters.http.wasm"));
        assert!(plain.contains("envoy.filters.http.router"));
        let filter = trimio_filter(&with, &plugin_config(&with));
        assert_eq!(render(&with).replacen(&filter, "", 1), plain);
    }
}
