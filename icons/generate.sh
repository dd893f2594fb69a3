#!/usr/bin/env bash
# Regenerates every app icon from icon.svg with the Tauri CLI pinned in ui/package.json
# (`npm --prefix ui ci` first): the PNGs Linux uses, icon.ico for Windows and icon.icns for macOS.
# The CLI also draws Android, iOS and Microsoft Store sizes; the app ships none of those.
set -euo pipefail
cd "$(dirname "$0")"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
../ui/node_modules/.bin/tauri icon icon.svg -o "$out" >"$out/log" 2>&1 || { cat "$out/log" >&2; exit 1; }
for f in 32x32.png 128x128.png 128x128@2x.png icon.png icon.ico icon.icns; do
  cp "$out/$f" "$f"
done
