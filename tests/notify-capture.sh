#!/usr/bin/env bash
# Runs CMD in a private D-Bus session with a real notification server (dunst on a private Xvfb)
# and checks that a Notify call with each EXPECTED summary reached org.freedesktop.Notifications
# and was answered with an id.
#   usage: tests/notify-capture.sh CMD [ARGS...] -- EXPECTED_SUMMARY...
# Exit 0: all delivered; 1: some missing; 3: the server did not start; 4: CMD failed.
set -euo pipefail
if [[ -z "${HANDOFF_NOTIFY_INNER:-}" ]]; then
  export HANDOFF_NOTIFY_INNER=1
  exec dbus-run-session -- "$0" "$@"
fi
cmd=()
while [[ $# -gt 0 && "$1" != "--" ]]; do cmd+=("$1"); shift; done
shift || true
expected=("$@")

work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
# Wait (without sleeping blind) until CONDITION holds, at most ~10 s.
until_true() { for _ in $(seq 200); do eval "$1" && return 0; sleep 0.05; done; return 1; }

Xvfb -displayfd 3 -screen 0 1024x768x24 -nolisten tcp 3>"$work/display" 2>"$work/xvfb.log" &
pids+=($!)
until_true '[[ -s "$work/display" ]]' || { echo "Xvfb did not start"; exit 3; }
export DISPLAY=":$(head -n1 "$work/display")"

dunst -conf /dev/null >"$work/dunst.log" 2>&1 &
pids+=($!)
owner() {
  dbus-send --session --print-reply --dest=org.freedesktop.DBus /org/freedesktop/DBus \
    org.freedesktop.DBus.NameHasOwner string:org.freedesktop.Notifications 2>/dev/null | grep -q 'boolean true'
}
until_true owner || { echo "the notification server did not start"; cat "$work/dunst.log"; exit 3; }

dbus-monitor --session "type='method_call',interface='org.freedesktop.Notifications',member='Notify'" \
  "type='method_return'" >"$work/monitor.log" 2>&1 &
pids+=($!)
until_true 'grep -q "member=NameLost" "$work/monitor.log"'

rc=0
"${cmd[@]}" || rc=$?
[[ $rc -eq 0 ]] || { echo "command failed (exit $rc)"; exit 4; }

# Notify(app_name, replaces_id, icon, SUMMARY, body, ...): the summary is the call's 3rd string.
# A call counts once the server answered it (a method return to the same serial).
delivered() {
  awk '
    function field(line, key) { if (match(line, key "=[^ ;]+")) return substr(line, RSTART + length(key) + 1, RLENGTH - length(key) - 1); return "" }
    /^method call .*member=Notify$/ { call = field($0, "sender") "/" field($0, "serial"); strings = 0; next }
    /^(method|signal|error)/ { if (!/^method return/) call = "" }
    call != "" && /^   string "/ { strings++; if (strings == 3) { s = $0; sub(/^   string "/, "", s); sub(/"$/, "", s); summary[call] = s } }
    /^method return / { key = field($0, "destination") "/" field($0, "reply_serial"); if (key in summary) print summary[key] }
  ' "$work/monitor.log"
}
missing=0
for want in "${expected[@]}"; do
  if until_true 'delivered | grep -qxF -- "$want"'; then
    echo "DELIVERED: $want"
  else
    echo "MISSING:   $want"
    missing=1
  fi
done
exit $missing
