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

/** A day and a time, for lists of sessions: "12 Nov 2026, 14:05". */
export function dateTime(iso: string): string {
  const t = new Date(iso);
  const day = t.toLocaleDateString("en-GB", { day: "numeric", month: "short", year: "numeric" });
  return `${day}, ${clock(iso)}`;
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

/** "45 s", "12 min", "3 h 5 min", "2 d 4 h". */
export function duration(totalSeconds: number): string {
  const s = Math.max(0, Math.round(totalSeconds));
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min`;
  const h = Math.floor(m / 60);
  if (h < 24) return m % 60 ? `${h} h ${m % 60} min` : `${h} h`;
  const d = Math.floor(h / 24);
  return h % 24 ? `${d} d ${h % 24} h` : `${d} d`;
}

export type SlaLevel = "ok" | "warn" | "late";

/** When the conversation's running SLA clock is due, if one runs: the first response while it
 * is awaited, then the resolution. */
export function slaDue(c: {
  status: string;
  first_response_at: string | null;
  first_response_due_at: string | null;
  resolution_due_at: string | null;
}): string | null {
  if (c.status === "resolved") return null;
  return (!c.first_response_at && c.first_response_due_at ? c.first_response_due_at : c.resolution_due_at) ?? null;
}

/**
 * The SLA clock that is running on a conversation: the first response until it is given, then
 * resolution. Amber when under 10 minutes or under a quarter of the window is left, red once past
 * due, null when no clock runs.
 */
export function slaPill(
  c: {
    status: string;
    opened_at: string | null;
    first_response_at: string | null;
    first_response_due_at: string | null;
    resolution_due_at: string | null;
  },
  now: Date = new Date(),
): { text: string; level: SlaLevel; title: string } | null {
  const due = slaDue(c);
  if (!due) return null;
  const firstPending = !c.first_response_at && c.first_response_due_at;
  const what = firstPending ? "First response" : "Resolution";
  const left = (new Date(due).getTime() - now.getTime()) / 1000;
  const opened = c.opened_at ? new Date(c.opened_at).getTime() : now.getTime();
  const window = Math.max(1, (new Date(due).getTime() - opened) / 1000);
  if (left < 0) return { text: `${duration(-left)} late`, level: "late", title: `${what} was due ${clock(due)}` };
  const level: SlaLevel = left < Math.max(600, window / 4) ? "warn" : "ok";
  return { text: `${duration(left)} left`, level, title: `${what} due ${clock(due)}` };
}

/** The handle a teammate is @mentioned by: the part of their email before the @. */
export function mentionHandle(email: string): string {
  return email.split("@")[0].toLowerCase();
}

/** The partial @mention being typed just before `caret`, if any ("@an|" -> "an"). */
export function mentionQuery(text: string, caret: number): string | null {
  const before = text.slice(0, caret);
  const m = /(^|[^\w.])@([\w.-]*)$/.exec(before);
  return m ? m[2] : null;
}

/** Replaces the partial @mention before `caret` with `@handle `; returns the text and the new caret. */
export function completeMention(text: string, caret: number, handle: string): { text: string; caret: number } {
  const query = mentionQuery(text, caret) ?? "";
  const start = caret - query.length;
  const spaced = /^\s/.test(text.slice(caret));
  const inserted = spaced ? handle : `${handle} `;
  return { text: text.slice(0, start) + inserted + text.slice(caret), caret: start + handle.length + 1 };
}

/** The partial `/shortcut` being typed just before `caret`, at the start of the text or after a space ("thanks /th|" -> "th"). */
export function shortcutQuery(text: string, caret: number): string | null {
  const before = text.slice(0, caret);
  const m = /(^|\s)\/([a-z0-9_-]*)$/i.exec(before);
  return m ? m[2].toLowerCase() : null;
}

/** Replaces the partial `/shortcut` before `caret` with `body`; returns the text and the caret after it. */
export function completeShortcut(text: string, caret: number, body: string): { text: string; caret: number } {
  const query = shortcutQuery(text, caret) ?? "";
  const start = caret - query.length - 1;
  return { text: text.slice(0, start) + body + text.slice(caret), caret: start + body.length };
}

/** What a saved reply's variables stand for: the customer and the agent. */
export type ReplyVars = { contactName: string | null; contactPhone: string; agentName: string };

/**
 * A saved reply's body with its variables filled in: `{{contact.first_name}}`, `{{contact.name}}`,
 * `{{agent.first_name}}`, `{{agent.name}}` (spaces inside the braces allowed). A contact without a
 * name is their number; a variable this app does not know stays as written.
 */
export function fillReply(body: string, v: ReplyVars): string {
  const first = (name: string) => name.trim().split(/\s+/)[0] ?? name;
  const values: Record<string, string> = {
    "contact.name": v.contactName?.trim() || v.contactPhone,
    "contact.first_name": v.contactName?.trim() ? first(v.contactName) : v.contactPhone,
    "agent.name": v.agentName,
    "agent.first_name": first(v.agentName),
  };
  return body.replace(/\{\{\s*([a-z_.]+)\s*\}\}/g, (whole, name: string) => values[name] ?? whole);
}

/** Snooze choices: in an hour, tomorrow at 9:00, next Monday at 9:00 (local time). */
export function snoozeChoices(now: Date = new Date()): { label: string; at: Date }[] {
  const inHour = new Date(now.getTime() + 3_600_000);
  const tomorrow = new Date(now);
  tomorrow.setDate(now.getDate() + 1);
  tomorrow.setHours(9, 0, 0, 0);
  const monday = new Date(now);
  monday.setDate(now.getDate() + (((8 - now.getDay()) % 7) || 7));
  monday.setHours(9, 0, 0, 0);
  return [
    { label: "In 1 hour", at: inHour },
    { label: "Tomorrow 9:00", at: tomorrow },
    { label: "Monday 9:00", at: monday },
  ];
}

/** A search snippet split into plain and matched parts: the core marks matches with U+0002 … U+0003. */
export function snippetParts(snippet: string): { text: string; match: boolean }[] {
  const parts: { text: string; match: boolean }[] = [];
  for (const [i, chunk] of snippet.split("\u0002").entries()) {
    if (i === 0) {
      if (chunk) parts.push({ text: chunk, match: false });
      continue;
    }
    const end = chunk.indexOf("\u0003");
    const matched = end === -1 ? chunk : chunk.slice(0, end);
    const rest = end === -1 ? "" : chunk.slice(end + 1);
    if (matched) parts.push({ text: matched, match: true });
    if (rest) parts.push({ text: rest, match: false });
  }
  return parts;
}

/** "4 min ago", "just now", "2 h ago", "3 days ago": how long a device has been in its state. */
export function agoText(iso: string, now: Date = new Date()): string {
  const seconds = secondsAgo(iso, now);
  if (seconds < 60) return "just now";
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ago`;
  const hours = Math.floor(minutes / 60);
  if (hours < 48) return `${hours} h ago`;
  return `${Math.floor(hours / 24)} days ago`;
}

/** What a linked number's status means, in words. */
export function deviceStatusText(status: string): string {
  switch (status) {
    case "connected":
      return "Connected";
    case "pending_link":
      return "Waiting to be linked";
    case "disconnected":
      return "Disconnected";
    case "logged_out":
      return "Logged out";
    case "banned":
      return "Banned by WhatsApp";
    case "failed":
      return "Failed";
    default:
      return status;
  }
}

/** True for the states in which a linked number cannot take or send messages after working. */
export function deviceDown(status: string): boolean {
  return status === "disconnected" || status === "logged_out" || status === "banned" || status === "failed";
}

/** The banner line for a number that is down: "Support line disconnected 4 min ago: new messages may stall". */
export function deviceBanner(
  device: { name: string; status: string; last_seen_at?: string | null },
  now: Date = new Date(),
): string {
  const what =
    device.status === "logged_out"
      ? "was logged out"
      : device.status === "banned"
        ? "was banned by WhatsApp"
        : device.status === "failed"
          ? "failed"
          : "disconnected";
  const when = device.last_seen_at ? ` ${agoText(device.last_seen_at, now)}` : "";
  const then = device.status === "logged_out" ? ": relink it in Devices" : ": new messages may stall";
  return `${device.name} ${what}${when}${then}`;
}

/** WhatsApp's customer-service window: 24 hours after the customer's last message. */
export const SERVICE_WINDOW_HOURS = 24;

/** Where the 24-hour window stands: open with the time left, or closed (and since when). */
export function serviceWindow(
  lastInboundIso: string | null,
  now: Date = new Date(),
): { open: boolean; text: string; soon: boolean } {
  if (!lastInboundIso) {
    return { open: false, soon: false, text: "The customer has not written yet: WhatsApp's 24-hour reply window opens when they do." };
  }
  const ends = new Date(lastInboundIso).getTime() + SERVICE_WINDOW_HOURS * 3600_000;
  const left = Math.floor((ends - now.getTime()) / 60_000);
  if (left > 0) {
    const h = Math.floor(left / 60);
    const text = h > 0 ? `${h} h ${left % 60} min left in the 24-hour window` : `${left} min left in the 24-hour window`;
    return { open: true, soon: left < 60, text };
  }
  const closed = agoText(new Date(ends).toISOString(), now);
  return {
    open: false,
    soon: false,
    text: `The 24-hour window closed ${closed}: WhatsApp may not deliver a free-form reply until the customer writes again.`,
  };
}

/** "2.4 MB", "830 KB", "512 B". */
export function fileSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${Math.round(bytes / 1024)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}
