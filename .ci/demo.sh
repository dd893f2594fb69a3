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
if curl -sf "http://$LISTEN/healthz" >/dev/null 2>&1; then
  echo "something already answers on $LISTEN: stop it, or pick another address with HANDOFF_LISTEN=127.0.0.1:PORT" >&2
  exit 1
fi
target/release/handoff-server serve --demo --data-dir "$DATA" --listen "$LISTEN" &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true' EXIT
until curl -sf "http://$LISTEN/healthz" >/dev/null; do
  kill -0 $SERVER 2>/dev/null || { echo "the server did not start (see above)" >&2; exit 1; }
  sleep 0.1
done
echo "==> server on http://$LISTEN; starting the app (sign in as ana@handoff.local / handoff-demo)"
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ]; then
  echo "no display: running the app under Xvfb (screenshots only)"; xvfb-run -a target/release/handoff-desktop; exit
fi
target/release/handoff-desktop
