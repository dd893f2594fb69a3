#!/usr/bin/env bash
# Builds the desktop app's installers with the Tauri CLI pinned in ui/package.json, the app crate
# in src-tauri/ and the UI in ui/. Arguments go to `tauri build`, e.g.:
#   bash .ci/bundle.sh --bundles deb,rpm      (what builds offline here; docs/install.md)
# The bundles land in target/release/bundle/<kind>/.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
[ -x "$ROOT/ui/node_modules/.bin/tauri" ] || npm --prefix "$ROOT/ui" ci --no-audit --no-fund
export TAURI_APP_PATH="$ROOT/src-tauri" TAURI_FRONTEND_PATH="$ROOT/ui"
exec "$ROOT/ui/node_modules/.bin/tauri" build "$@"
