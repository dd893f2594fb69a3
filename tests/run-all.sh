#!/usr/bin/env bash
# Every test Handoff has: formatting and lints, Rust unit and scenario tests, the UI's type check
# and unit tests, then the real desktop app under Xvfb driven through WebDriver.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source .ci/setup.sh
export CARGO_TERM_COLOR=never

step() { echo; echo "==> $*"; }

step "cargo fmt --check"
cargo fmt --all --check

step "cargo clippy (warnings are errors)"
cargo clippy --workspace --all-targets --quiet -- -D warnings

step "cargo test --workspace"
cargo test --workspace
if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  step "generated TypeScript bindings are committed"
  git diff --exit-code -- ui/src/bindings.ts
fi

step "UI: type check and unit tests"
npm --prefix ui run check
npm --prefix ui test

step "build the real app (embedded UI) and the server"
npm --prefix ui run build
cargo build -p handoff-server -p handoff-desktop --features handoff-desktop/custom-protocol

step "E2E: the real app under Xvfb, through tauri-driver"
mkdir -p target/e2e
timeout 600 xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- node --test --test-concurrency=1 tests/e2e/
