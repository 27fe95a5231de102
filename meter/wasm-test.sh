#!/usr/bin/env bash
# Runs the meter's fixture and split-point tests (tests/wasm.rs) compiled to
# wasm32-unknown-unknown, in Node, through wasm-bindgen-test. First installs what is missing:
# the target, and the wasm-bindgen-cli whose version matches the wasm-bindgen in Cargo.lock.
# Exits non-zero if a test fails. Extra arguments go to `cargo test` (a test name filter, say).
#
#   meter/wasm-test.sh
#
# Set CARGO_TARGET_DIR to share a build folder.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/.." && pwd)

if ! command -v node >/dev/null; then
    echo "wasm-test: Node.js is needed to run the tests" >&2
    exit 1
fi
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi

# The runner must be the very version of the wasm-bindgen crate the tests link.
version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' \
    "$root/Cargo.lock")
if [[ -z $version ]]; then
    echo "wasm-test: no wasm-bindgen in $root/Cargo.lock" >&2
    exit 1
fi
installed=$(wasm-bindgen-test-runner --version 2>/dev/null | awk '{ print $2 }' || true)
if [[ $installed != "$version" ]]; then
    cargo install wasm-bindgen-cli --version "$version"
fi

cd "$root"
CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUNNER=wasm-bindgen-test-runner \
    cargo test -p trimio-meter --target wasm32-unknown-unknown --test wasm "$@"
