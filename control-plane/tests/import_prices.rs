//! The real binary's `import-prices` command on the LiteLLM-shaped sample: a dry run that
//! touches no database, an import read back from the database file, and a clear failure.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use trimio_control_plane::store::{SqliteStore, Store};

fn sample() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/litellm_sample.json")
}

fn import_prices(database: &Path, litellm: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trimio-control-plane"))
        .arg("import-prices")
        .arg("--database")
        .arg(database)
        .arg("--litellm")
        .arg(litellm)
        .args(extra)
        .env_remove("TRIMIO_ADMIN_TOKEN")
        .output()
        .expect("the binary runs")
}

fn answer(output: &Output) -> Value {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_slice(&output.stdout).expect("a json answer on stdout")
}

#[test]
fn a_dry_run_opens_no_database() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("trimio.db");

    let answer = answer(&import_prices(&database, &sample(), &["--dry-run"]));
    assert_eq!(answer["dry_run"], true);
    assert_eq!(answer["imported"], 8);
    assert_eq!(answer["skipped"].as_array().map(Vec::len), Some(3));
    assert!(!database.exists());
}

#[test]
fn an_import_is_stored_in_the_database_file() {
    let dir = tempfile::tempdir().unwrap();
    let database = dir.path().join("trimio.db");

    let answer = answer(&import_prices(
        &database,
        &sample(),
        &["--providers", "anthropic"],
    ));
    assert_eq!(answer["imported"], 3);
    assert_eq!(answer["prices"][2]["model"], "claude-sonnet-4-5");
    assert_eq!(answer["prices"][2]["cache_write_1h"], "6");
    assert_eq!(answer["prices"][2]["origin"], "custom");

    let store = SqliteStore::open(&database).unwrap();
    let prices = store.load_directory().unwrap().prices;
    let models: Vec<&str> = prices.iter().map(|(model, _)| model.as_str()).collect();
    assert_eq!(
        models,
        [
            "claude-3-haiku-20240307",
            "claude-haiku-4-5",
            "claude-sonnet-4-5"
        ]
    );
}

#[test]
fn a_missing_file_fails_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.json");
    let output = import_prices(&dir.path().join("trimio.db"), &missing, &[]);

    assert!(!output.status.success());
    assert!(output.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("cannot read the price map"), "{stderr}");
    assert!(stderr.contains("missing.json"), "{stderr}");
}
