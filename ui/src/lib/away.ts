// "Away" for the team: the window hidden (minimized, another desktop), or no keyboard or mouse
// for a while. An unfocused but visible window is not away: agents keep the inbox on a second
// screen. Calls `report` only when the state changes. Returns a function that stops watching.

/** Idle this long and the agent shows as away. */
export const IDLE_AWAY_MS = 5 * 60_000;

export function watchAway(report: (away: boolean) => unknown, idleMs = IDLE_AWAY_MS, target: Window = window): () => void {
  let away = false;
  let hidden = target.document.hidden;
  let lastInput = Date.now();
  const update = () => {
    const now = hidden || Date.now() - lastInput >= idleMs;
    if (now !== away) {
      away = now;
      void report(away);
    }
  };
  const input = () => {
    lastInput = Date.now();
    update();
  };
  const visibility = () => {
    hidden = target.document.hidden;
    update();
  };
  const events = ["keydown", "mousemove", "mousedown", "wheel", "touchstart"] as const;
  for (const e of events) target.addEventListener(e, input, { passive: true });
  target.document.addEventListener("visibilitychange", visibility);
  const timer = target.setInterval(update, 15_000);
  update();
  return () => {
    for (const e of events) target.removeEventListener(e, input);
    target.document.removeEventListener("visibilitychange", visibility);
    target.clearInterval(timer);
  };
}
