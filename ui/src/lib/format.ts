// Small pure helpers for what the UI shows. Unit-tested in format.test.ts.

/** "now", "5m", "3h", "Tue", "12 Nov" — the compact times of a mail client's list. */
export function relativeTime(iso: string, now: Date = new Date()): string {
  const t = new Date(iso);
  const seconds = Math.max(0, Math.round((now.getTime() - t.getTime()) / 1000));
  if (seconds < 45) return "now";
  const minutes = Math.round(seconds / 60);
  if (minutes < 60) return `${minutes}m`;
  const hours = Math.round(minutes / 60);
  if (hours < 24) return `${hours}h`;
  const days = Math.floor(hours / 24);
  if (days < 7) return t.toLocaleDateString("en-GB", { weekday: "short" });
  return t.toLocaleDateString("en-GB", { day: "numeric", month: "short" });
}

/** "Ana Agent" -> "AA"; "+4915112345678" -> "+4". */
export function initials(name: string): string {
  const words = name.trim().split(/\s+/).filter(Boolean);
  if (words.length === 0) return "?";
  if (words.length === 1) return words[0].slice(0, 2).toUpperCase();
  return (words[0][0] + words[words.length - 1][0]).toUpperCase();
}

/** A stable hue for a name, so the same person always has the same avatar colour. */
export function avatarHue(name: string): number {
  let h = 0;
  for (const ch of name) h = (h * 31 + ch.codePointAt(0)!) % 360;
  return h;
}

/** Clock time of a message: "14:05". */
export function clock(iso: string): string {
  return new Date(iso).toLocaleTimeString("en-GB", { hour: "2-digit", minute: "2-digit" });
}

/** "Offline since 10:42". */
export function offlineSince(iso: string): string {
  return `Offline since ${clock(iso)}`;
}

/** How many whole seconds ago, for "Ana claimed this 3 s ago". */
export function secondsAgo(iso: string, now: Date = new Date()): number {
  return Math.max(0, Math.round((now.getTime() - new Date(iso).getTime()) / 1000));
}

/** True when a reply looks like it was meant as an internal note. */
export function looksInternal(body: string): boolean {
  return /(^|\s)@\w/.test(body) || /\binternal\b/i.test(body);
}
