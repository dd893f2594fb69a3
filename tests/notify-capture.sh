#!/usr/bin/env bash
# Runs CMD in a private D-Bus session with a real notification server (dunst on a private Xvfb)
# and checks that a Notify call with each EXPECTED summary reached org.freedesktop.Notifications,
# under the app name Handoff and with an Open action, and was answered with an id.
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

# Notify(app_name, replaces_id, icon, SUMMARY, body, actions, ...): the summary is the call's 3rd
# string, the app's name its 1st; actions are pairs of strings in an array. A call counts once the
# server answered it (a method return to the same serial). Prints, per answered call:
# summary <tab> app name <tab> "open" if it offers the Open action.
delivered() {
  awk '
    function field(line, key) { if (match(line, key "=[^ ;]+")) return substr(line, RSTART + length(key) + 1, RLENGTH - length(key) - 1); return "" }
    function text(line) { sub(/^ *string "/, "", line); sub(/"$/, "", line); return line }
    /^method call .*member=Notify$/ { call = field($0, "sender") "/" field($0, "serial"); strings = 0; next }
    /^(method|signal|error)/ { if (!/^method return/) call = "" }
    call != "" && /^   string "/ { strings++; if (strings == 1) app[call] = text($0); if (strings == 3) summary[call] = text($0) }
    call != "" && /^      string "open"$/ { open[call] = "open" }
    /^method return / { key = field($0, "destination") "/" field($0, "reply_serial"); if (key in summary) print summary[key] "\t" app[key] "\t" open[key] }
  ' "$work/monitor.log"
}
missing=0
for want in "${expected[@]}"; do
  if until_true 'delivered | cut -f1 | grep -qxF -- "$want"'; then
    # Shown under the app's own name, with an Open button (the desktop's notification lists
    # name the sender by it; Open brings the conversation up).
    if delivered | grep -qxF -- "$want"$'\tHandoff\topen'; then
      echo "DELIVERED: $want (as Handoff, with Open)"
    else
      echo "WRONG:     $want: $(delivered | grep -F -- "$want" | head -1 | cut -f2,3 | tr '\t' ' ') (expected the app name Handoff and an Open action)"
      missing=1
    fi
  else
    echo "MISSING:   $want"
    missing=1
  fi
done
exit $missing
