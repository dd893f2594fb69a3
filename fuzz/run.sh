#!/usr/bin/env bash
# Runs each fuzz target for SECONDS (default 20), or for RUNS executions with `--runs RUNS`, on
# the stable toolchain (cargo-fuzz with --sanitizer none: libFuzzer's coverage guidance without
# a nightly-only sanitizer; Rust's own checks still turn a bug into a panic, which fails the run).
# Seeds: the recorded WAHA webhooks, a few client frames, a few addresses. Prints each target's
# execution count; exits non-zero on the first crash (its input is kept under fuzz/artifacts/).
#   bash fuzz/run.sh 20            # the test command: 20 s each
#   bash fuzz/run.sh --runs 10000000
set -euo pipefail
cd "$(dirname "$0")"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked --version 0.13.2
if [ "${1:-}" = "--runs" ]; then limit=(-runs="${2:?how many runs}"); else limit=(-max_total_time="${1:-20}"); fi
declare -A seeds=([waha_webhook]=../crates/channels/tests/fixtures/waha [client_frame]=seeds/client_frame [jid]=seeds/jid)
cargo fuzz build --sanitizer none -O
for target in waha_webhook client_frame jid; do
  mkdir -p "corpus/$target"
  log=$(mktemp)
  if ! cargo fuzz run --sanitizer none -O "$target" "corpus/$target" "${seeds[$target]}" -- "${limit[@]}" >"$log" 2>&1; then
    tail -40 "$log"; echo "fuzz target $target failed"; exit 1
  fi
  runs=$(grep -oE 'Done [0-9]+ runs in [0-9]+ second' "$log" | tail -1)
  echo "{\"target\": \"$target\", \"runs\": ${runs#Done }}" | sed -E 's/ runs in ([0-9]+) second/, "seconds": \1/'
  rm -f "$log"
done
