#!/usr/bin/env bash
# The README's API quickstart, run as written: its `sh` block, line for line, against a demo
# server of its own (the block names the demo's address unless HANDOFF is set). Every answer it
# prints is then checked: a conversation list, the claim, the reply handed to the number, an API
# key, a webhook with its secret. Usage: tests/quickstart.sh [handoff-server binary]
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
BIN="${1:-$ROOT/target/debug/handoff-server}"
WORK="$(mktemp -d)"
SERVER=""
cleanup() { [ -n "$SERVER" ] && kill "$SERVER" 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$BIN" serve --demo --data-dir "$WORK/data" --listen 127.0.0.1:0 >"$WORK/stdout" 2>"$WORK/server.log" &
SERVER=$!
# The server says where it listens once it does (port 0: the kernel's choice).
URL=""
for _ in $(seq 600); do
  URL="$(grep -o 'listening on http://[0-9.:]*' "$WORK/stdout" | head -1 | cut -d' ' -f3 || true)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER" 2>/dev/null || { cat "$WORK/server.log" >&2; echo "the server did not start" >&2; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { echo "the server never said where it listens" >&2; exit 1; }

# The block between "## API quickstart" and the end of its first ```sh fence.
awk '/^## API quickstart/ {q = 1} q && /^```sh$/ {c = 1; next} c && /^```$/ {exit} c' "$ROOT/README.md" >"$WORK/quickstart.sh"
[ "$(wc -l <"$WORK/quickstart.sh")" -gt 10 ] || { echo "no quickstart block found in README.md" >&2; exit 1; }

HANDOFF="$URL" bash -euo pipefail "$WORK/quickstart.sh" >"$WORK/out"
echo "the quickstart printed:"
cat "$WORK/out"; echo

expect() {
  grep -q -- "$1" "$WORK/out" || { echo "the quickstart's answers lack $2 ($1)" >&2; exit 1; }
}
expect '"items":\[{"id":"' "a conversation list with a conversation"
expect '"kind":"outbound","body":"Thanks for writing, we are on it!"' "the reply, stored"
expect '"delivery":"pending"' "the reply handed to the number to send"
expect '"secret":"whsec_' "the webhook's secret, shown once"
expect '"events":\["message.received","conversation.resolved"\]' "the webhook's events"
if grep -q '"error"' "$WORK/out"; then
  echo "an answer was an error" >&2; exit 1
fi
echo "the README's API quickstart works as written"
