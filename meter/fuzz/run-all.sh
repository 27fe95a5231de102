#!/usr/bin/env bash
# Runs every fuzz target of trimio-meter in turn for SECONDS each (default 60), seeding each
# corpus from the provider exchanges first. Exits non-zero if any target found a crash; the
# crashing inputs are left in fuzz/artifacts/<target>/.
#
#   meter/fuzz/run-all.sh 60
#
# Stable Rust is enough: RUSTC_BOOTSTRAP=1 lets it take the flags cargo-fuzz passes. Set
# CARGO_TARGET_DIR to share a build folder.
set -euo pipefail

seconds=${1:-60}
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
export RUSTC_BOOTSTRAP=1

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
python3 "$here/seed.py" "$here/corpus" "$repo/../shared/fixtures" "$repo/tests/exchanges"

cd "$here"
cargo fuzz build
failed=()
for target in $(cargo fuzz list); do
    echo "== $target: ${seconds}s"
    log=$(mktemp)
    if cargo fuzz run "$target" "corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
        >"$log" 2>&1; then
        grep -E "^Done [0-9]+ runs|stat::number_of_executed_units" "$log" | head -1 || true
    else
        tail -40 "$log"
        failed+=("$target")
    fi
    rm -f "$log"
done

if ((${#failed[@]})); then
    echo "crashed: ${failed[*]} (inputs in $here/artifacts/)"
    exit 1
fi
echo "no crash in: $(cargo fuzz list | tr '\n' ' ')"
