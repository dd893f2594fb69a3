#!/usr/bin/env bash
# The session token's keyring code against a real Secret Service, each in a private D-Bus session:
#  1. gnome-keyring, unlocked, in a scratch home: a saved token reads back, a second sign-in
#     replaces it, signing out forgets it;
#  2. a Secret Service that never answers: saving returns at once and reading gives up after its
#     wait, so signing in and starting never hang on the keyring.
#   usage: tests/keyring-check.sh path/to/keyring-check
set -euo pipefail
bin=$1
home=$(mktemp -d)
trap 'rm -rf "$home"' EXIT

echo "-- gnome-keyring, unlocked"
# The daemon reads the new login keyring's password from stdin and unlocks it; it lives as long
# as the session bus does.
HOME="$home" XDG_DATA_HOME="$home/data" XDG_CACHE_HOME="$home/cache" timeout 60 dbus-run-session -- \
  bash -c 'printf "keyring-check" | gnome-keyring-daemon --unlock --components=secrets >/dev/null && exec "$0"' "$bin" \
  2> >(grep -v "^dbus-daemon" >&2)

echo "-- a Secret Service that never answers"
timeout 60 dbus-run-session -- "$bin" --frozen-service 2> >(grep -v "^dbus-daemon" >&2)
