#!/usr/bin/env bash
# Every test Handoff has: formatting and lints, Rust unit and scenario tests, the UI's type check
# and unit tests, then the real desktop app under Xvfb driven through WebDriver.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
cd "$ROOT"
source .ci/setup.sh
export CARGO_TERM_COLOR=never

step() { echo; echo "==> $* [$(date +%T), ${SECONDS}s]"; }

# One package selection and feature set for every cargo step, so they share compiled dependencies.
# `checks` adds the app's test tools (notify-check, keyring-check), which the installers leave out.
# `whatsapp-web` builds the native WhatsApp Web adapter into the server, so clippy sees it and its
# tests run with the others (in a step of its own it rebuilt half the dependency tree: 10 min).
CARGO_SCOPE=(--workspace --features handoff-desktop/custom-protocol,handoff-desktop/checks,handoff-server/whatsapp-web)

# waproto 0.7's build script (the WhatsApp Web adapter's protobufs) writes a file it also asks
# cargo to watch, during its first run; cargo then finds that file newer than the run and redoes
# the crate and everything above it (the WhatsApp stack, the server, the bench) at the next
# cargo command, minutes of a fresh CI machine's time. Its later runs leave the file alone, so
# dating it back once after the first run is what a second run would have done.
settle_build_scripts() {
  find target/debug/build -path '*/waproto-*/out/whatsapp.local.desc' -exec touch -d @0 {} + 2>/dev/null || true
}

step "cargo fmt --check"
cargo fmt --all --check

step "UI: type check and unit tests, then the production build the app embeds"
npm --prefix ui run check
npm --prefix ui test
npm --prefix ui run build

step "the server's SQL is in its store: no query outside crates/server/src/store/ (tests aside)"
bash tests/sql-in-store.sh

step "cargo clippy (warnings are errors)"
cargo clippy "${CARGO_SCOPE[@]}" --all-targets --quiet -- -D warnings
settle_build_scripts

step "the deployment files: the Caddyfile adapts (Caddy's own parser)"
caddy adapt --config deploy/Caddyfile --adapter caddyfile >/dev/null

step "cargo build: the server and the real app (embedded UI)"
cargo build "${CARGO_SCOPE[@]}"
settle_build_scripts

step "cargo test: unit, API and scenario tests"
cargo test "${CARGO_SCOPE[@]}" --no-run
# Every wait in the tests has its own deadline; this bound catches what those cannot (a thread
# stuck on a lock), so a hang fails in minutes, named by cargo's "running for over 60 seconds".
timeout --kill-after=10 900 cargo test "${CARGO_SCOPE[@]}" || {
  rc=$?; [ "$rc" -ge 124 ] && echo "cargo test did not finish within 15 minutes (exit $rc)"; exit "$rc"; }
step "PostgreSQL: the server's tests and every scenario again, on a private cluster (Debian's postgresql); the scale-out benchmarks, small"
# The same test binaries as above, each of the server's tests and scenario tests with its own
# database on a cluster this step starts as an unprivileged user on a free port (tests/postgres.sh).
PG_URL=$(bash tests/postgres.sh start target/pg)
trap 'bash tests/postgres.sh stop target/pg || true' EXIT
# Each line: the package's folder (cargo runs a test there) and the test binary.
mapfile -t PG_TESTS < <(cargo test "${CARGO_SCOPE[@]}" --no-run --message-format=json 2>/dev/null | python3 -c '
import json, os, sys
for line in sys.stdin:
    m = json.loads(line)
    package = m.get("package_id", "").split("#")[-1].split("@")[0]
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["profile"]["test"] \
            and package in ("handoff-server", "handoff-tests"):
        print(os.path.dirname(m["manifest_path"]), m["executable"])')
[ "${#PG_TESTS[@]}" -ge 5 ] || { echo "the server's and the scenarios' test binaries were not found (${#PG_TESTS[@]})"; exit 1; }
for test in "${PG_TESTS[@]}"; do
  read -r dir bin <<<"$test"
  echo "  $(basename "$bin")"
  (cd "$dir" && HANDOFF_TEST_POSTGRES="$PG_URL" timeout --kill-after=10 600 "$bin" -q) || {
    rc=$?; echo "$(basename "$bin") failed on PostgreSQL (exit $rc)"; exit "$rc"; }
done
# The scale-out benchmarks, run small so they cannot rot (figures: docs/performance.md): ingest
# and fan-out on SQLite, one PostgreSQL node and two.
target/debug/handoff-bench ingest --messages 400 --in-flight 16 --postgres "$PG_URL"
target/debug/handoff-bench fanout --agents 10 --rate 20 --seconds 2 --postgres "$PG_URL"
bash tests/postgres.sh stop target/pg
trap - EXIT

if git -C "$ROOT" rev-parse --git-dir >/dev/null 2>&1; then
  step "the generated TypeScript bindings are committed as generated"
  git diff --exit-code -- ui/src/bindings.ts
fi

step "native notifications: each kind reaches a real notification server; none waits without one"
bash tests/notify-capture.sh target/debug/notify-check -- \
  "Assigned to you: Lena Hoffmann" "Ben Ortiz is typing a reply to Lena Hoffmann" \
  "Ben Ortiz mentioned you: Lena Hoffmann" "New message from Lena Hoffmann" "Waiting 12 min, unclaimed: Lena Hoffmann" \
  "Support line (+15550100) disconnected" "Webhook to crm.example.com paused"
# No notification server on the bus: every call fails at once instead of blocking (exit 1, not a timeout).
rc=0; timeout 20 dbus-run-session -- target/debug/notify-check >/dev/null 2>&1 || rc=$?
[ "$rc" -eq 1 ] || { echo "notify-check without a notification server: exit $rc (expected 1, quickly)"; exit 1; }
# A frozen server (takes the call, never answers): showing gives up after its timeout.
rc=0; out=$(timeout 20 dbus-run-session -- target/debug/notify-check --frozen-server 2>/dev/null) || rc=$?
echo "$out"
[ "$rc" -eq 1 ] && grep -q "did not answer within" <<<"$out" || { echo "a frozen notification server was not given up on (exit $rc)"; exit 1; }

step "the OS keyring: a real Secret Service keeps the session token and the caches' keys; one that never answers holds nothing up"
bash tests/keyring-check.sh target/debug/keyring-check

step "benchmarks, run small so they cannot rot (figures come from release builds: docs/performance.md)"
target/debug/handoff-bench typing --clients 5 --rounds 10
# offline: the plain and the encrypted cache, and a plain one encrypted (--cache both, the default)
target/debug/handoff-bench offline --missed 200 --outbox 50 --messages 25000 --rounds 3 --compare
target/debug/handoff-bench durability --commits 50 --rounds 1
target/debug/handoff-bench fanout --agents 20 --rate 20 --seconds 5
target/debug/handoff-bench fanout --agents 20 --rate 20 --seconds 2 --typing
target/debug/handoff-bench login-flood --server-bin target/debug/handoff-server --attempts 100 --email-bytes 200000
target/debug/handoff-bench shutdown --server-bin target/debug/handoff-server --agents 10 --senders 2 --load-secs 1 --rounds 1
target/debug/handoff-bench workspaces --server-bin target/debug/handoff-server --workspaces 2 --conversations 5 --idle-secs 1 --first-sync 20
target/debug/handoff-bench webhooks --latency-rounds 5 --messages 60 --customers 6 --in-flight 8

step "fuzzing, briefly: the WAHA webhook parser, the client-frame decoder, the address parser (10 million runs each by hand: docs/testing.md)"
bash fuzz/run.sh 15

step "the API against its OpenAPI document: schemathesis, every check on (tests/schemathesis.toml)"
bash tests/schemathesis.sh target/debug/handoff-server 20

step "the README's API quickstart, line for line, against a demo server"
bash tests/quickstart.sh target/debug/handoff-server

step "E2E: the real app under Xvfb, through tauri-driver"
mkdir -p target/e2e
timeout 600 xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- node --test --test-concurrency=1 tests/e2e/

step "the app on a desktop: a window manager (openbox) and a tray host; closing hides to the tray, notifications go on, a second launch shows it, Quit quits and the window comes back in place; the update check"
timeout 300 xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- node --test --test-concurrency=1 tests/desktop/

step "installers: the .deb and .rpm built, the .deb installed with apt, the installed app signed in under Xvfb"
# The Tauri CLI pinned in ui/package.json builds both offline (docs/install.md); AppImage, NSIS,
# MSI and DMG download their tools at build time and are built by .github/workflows/release.yml.
# Here they are built from the debug profile with the steps' own cargo scope (passed on to
# cargo), so what the steps above compiled is reused and only linking is left: a minute, where
# a release build of every dependency takes 8 (and a debug one with the app's features alone,
# 9). The same packaging, menu entry and install path; the `checks` tools stay out (only the
# app's binary is packaged). The release bundles and their sizes: by hand (docs/install.md).
bash .ci/bundle.sh --debug --bundles deb,rpm -- "${CARGO_SCOPE[@]}"
deb=$(ls -t target/debug/bundle/deb/*.deb | head -1) rpm=$(ls -t target/debug/bundle/rpm/*.rpm | head -1)
ls -l "$deb" "$rpm" | awk '{ printf "  %s: %.2f MiB (debug build)\n", $NF, $5 / 1048576 }'
$SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "$ROOT/$deb" >/dev/null
grep -qx "Exec=handoff-desktop %u" /usr/share/applications/Handoff.desktop && grep -qx "MimeType=x-scheme-handler/handoff" /usr/share/applications/Handoff.desktop || { echo "the .deb installs no menu entry that opens handoff:// links"; exit 1; }
rc=0
INSTALLED_APP=/usr/bin/handoff-desktop timeout 300 xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- node --test tests/installed/ || rc=$?
$SUDO apt-get remove -y -qq handoff >/dev/null # installed for the test only, passed or not
[ "$rc" -eq 0 ] || exit "$rc"

step "the app's footprint and the app at rest, measured small so they cannot rot (figures come from the release build: docs/performance.md)"
APP_BIN=target/debug/handoff-desktop IDLE_MS=1000 CONVERSATIONS=3 timeout 180 xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- node tests/perf/footprint.mjs
# The app at rest with one workspace and with three, with a CPU budget (WebKitGTK's own
# scrollbars once kept it at two thirds of a core); ten, by hand (docs/performance.md).
APP_BIN=target/debug/handoff-desktop timeout 300 xvfb-run -a -s "-screen 0 1280x800x24 -nolisten tcp" \
  dbus-run-session -- node tests/perf/workspaces.mjs --workspaces 3 --conversations 20 --idle-secs 5 --max-idle-cpu 20
