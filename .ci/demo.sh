#!/usr/bin/env bash
# Runs the product: the server in demo mode (SQLite, a simulated WhatsApp number, demo users and a
# trickle of customer messages) plus the desktop app pointed at it. Ctrl-C stops both.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source .ci/setup.sh

echo "==> building (the first build takes several minutes)"
npm --prefix ui run build
cargo build --release --workspace --features handoff-desktop/custom-protocol

DATA="${HANDOFF_DATA_DIR:-$ROOT/target/demo-data}"
LISTEN="${HANDOFF_LISTEN:-127.0.0.1:8750}"
target/release/handoff-server serve --demo --data-dir "$DATA" --listen "$LISTEN" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do curl -sf "http://$LISTEN/healthz" >/dev/null && break; sleep 0.1; done
echo "==> server on http://$LISTEN; starting the app (sign in as ana@handoff.local / handoff-demo)"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "no display: running the app under Xvfb (screenshots only)"; exec xvfb-run -a target/release/handoff-desktop
fi
target/release/handoff-desktop
