#!/usr/bin/env bash
# Installs what Handoff needs on a fresh Debian/Ubuntu machine, skipping what is already there.
# Sourced by .ci/demo.sh and tests/run-all.sh. Needs root (or sudo) for apt.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
export PATH="$HOME/.cargo/bin:$PATH"

SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"

APT_PACKAGES=(
  # Tauri 2 on Linux (WebKitGTK 4.1) and the tray's appindicator
  libwebkit2gtk-4.1-dev libgtk-3-dev libayatana-appindicator3-dev librsvg2-dev libssl-dev libxdo-dev
  build-essential pkg-config file curl ca-certificates git
  # The real-window E2E test: a virtual display, WebKit's WebDriver, a private session bus
  xvfb xauth webkit2gtk-driver dbus-x11 fonts-dejavu-core
  # Native notifications checked against a real notification server
  dunst
  # The session token's keyring code checked against a real Secret Service
  gnome-keyring
  # The fan-out benchmark's baseline, measured in the same run
  nats-server
  # The TLS scenario: a real TLS-terminating reverse proxy and a test certificate
  caddy openssl
  # The E2E expiry test ages the app's session in the stopped server's database
  sqlite3
  # The installed app's test opens a handoff:// link as a desktop does: the MIME database the
  # package's menu entry registers in, and xdg-open
  desktop-file-utils xdg-utils
  # The desktop test closes the window as a window manager does, and looks for it on screen
  openbox wmctrl xdotool
  # schemathesis (from PyPI, into a virtual environment of its own) checks the API against its
  # OpenAPI document
  python3 python3-venv
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "==> installing system packages: ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi
if ! command -v node >/dev/null || [ "$(node -p 'process.versions.node.split(".")[0]')" -lt 20 ]; then
  echo "==> installing Node.js and npm"
  $SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 nodejs npm >/dev/null
  [ "$(node -p 'process.versions.node.split(".")[0]')" -ge 20 ] || { echo "Handoff's UI build needs Node.js 20 or newer" >&2; exit 1; }
fi
command -v cargo >/dev/null || { echo "Handoff needs a Rust toolchain >= 1.94 (rustup: https://rustup.rs)" >&2; exit 1; }
if ! command -v tauri-driver >/dev/null; then
  echo "==> installing tauri-driver"
  cargo install tauri-driver --locked --version 2.1.0 --quiet
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ ! -d "$ROOT/ui/node_modules" ] || [ "$ROOT/ui/package-lock.json" -nt "$ROOT/ui/node_modules/.package-lock.json" ]; then
  echo "==> installing the UI's npm packages"
  npm --prefix "$ROOT/ui" ci --no-audit --no-fund --loglevel=error
fi
