import { describe, expect, it } from "vitest";
import {
  agoText,
  avatarHue,
  deviceBanner,
  deviceDown,
  fileSize,
  serviceWindow,
  completeMention,
  dateTime,
  duration,
  initials,
  looksInternal,
  mentionQuery,
  relativeTime,
  secondsAgo,
  slaPill,
  snippetParts,
  snoozeChoices,
} from "./format";

describe("relativeTime", () => {
  const now = new Date("2026-11-25T12:00:00Z");
  it("is compact", () => {
    expect(relativeTime("2026-11-25T11:59:40Z", now)).toBe("now");
    expect(relativeTime("2026-11-25T11:55:00Z", now)).toBe("5m");
    expect(relativeTime("2026-11-25T09:00:00Z", now)).toBe("3h");
    expect(relativeTime("2026-11-01T09:00:00Z", now)).toBe("1 Nov");
  });
  it("never goes negative for clock skew", () => {
    expect(relativeTime("2026-11-25T12:00:30Z", now)).toBe("now");
  });
});

describe("dateTime", () => {
  it("gives the day, the month, the year and the local time", () => {
    expect(dateTime(new Date(2026, 10, 12, 14, 5).toISOString())).toBe("12 Nov 2026, 14:05");
  });
});

describe("initials and colours", () => {
  it("takes first and last initials", () => {
    expect(initials("Ana Maria Souza")).toBe("AS");
    expect(initials("ben")).toBe("BE");
    expect(initials("  ")).toBe("?");
  });
  it("gives a stable hue", () => {
    expect(avatarHue("Ana")).toBe(avatarHue("Ana"));
    expect(avatarHue("Ana")).not.toBe(avatarHue("Ben"));
  });
});

describe("guards", () => {
  it("spots replies that look internal", () => {
    expect(looksInternal("ping @ben about this")).toBe(true);
    expect(looksInternal("Internal: customer is angry")).toBe(true);
    expect(looksInternal("Your order ships today, hello@example.com")).toBe(false);
  });
  it("counts seconds", () => {
    expect(secondsAgo("2026-11-25T11:59:57Z", new Date("2026-11-25T12:00:00Z"))).toBe(3);
  });
});

describe("duration", () => {
  it("reads like people talk", () => {
    expect(duration(42)).toBe("42 s");
    expect(duration(12 * 60)).toBe("12 min");
    expect(duration(3 * 3600 + 5 * 60)).toBe("3 h 5 min");
    expect(duration(2 * 86400)).toBe("2 d");
  });
});

describe("slaPill", () => {
  const now = new Date("2026-11-25T12:00:00Z");
  const base = {
    status: "open",
    opened_at: "2026-11-25T11:00:00Z",
    first_response_at: null,
    first_response_due_at: "2026-11-25T13:00:00Z",
    resolution_due_at: "2026-11-25T19:00:00Z",
  };
  it("counts down the first response, then resolution", () => {
    expect(slaPill(base, now)).toMatchObject({ text: "1 h left", level: "ok" });
    const answered = { ...base, first_response_at: "2026-11-25T11:10:00Z" };
    expect(slaPill(answered, now)).toMatchObject({ text: "7 h left", level: "ok" });
  });
  it("turns amber near the due time and red past it", () => {
    expect(slaPill(base, new Date("2026-11-25T12:40:00Z"))?.level).toBe("warn");
    expect(slaPill(base, new Date("2026-11-25T13:30:00Z"))).toMatchObject({ text: "30 min late", level: "late" });
  });
  it("says nothing without a clock", () => {
    expect(slaPill({ ...base, first_response_due_at: null, resolution_due_at: null }, now)).toBeNull();
    expect(slaPill({ ...base, status: "resolved" }, now)).toBeNull();
  });
});

describe("mentions", () => {
  it("finds the handle being typed and completes it", () => {
    expect(mentionQuery("Hi @an", 6)).toBe("an");
    expect(mentionQuery("mail ana@x", 10)).toBeNull();
    expect(mentionQuery("@", 1)).toBe("");
    expect(completeMention("Ask @b about it", 6, "ben")).toEqual({ text: "Ask @ben about it", caret: 9 });
    expect(completeMention("Hi @a", 5, "ana")).toEqual({ text: "Hi @ana ", caret: 8 });
  });
});

describe("snoozeChoices", () => {
  it("offers an hour, tomorrow morning and Monday morning", () => {
    const wed = new Date(2026, 10, 25, 15, 30);
    const [hour, tomorrow, monday] = snoozeChoices(wed);
    expect(hour.at.getTime() - wed.getTime()).toBe(3_600_000);
    expect([tomorrow.at.getDate(), tomorrow.at.getHours()]).toEqual([26, 9]);
    expect([monday.at.getDay(), monday.at.getDate(), monday.at.getHours()]).toEqual([1, 30, 9]);
  });
});

describe("snippetParts", () => {
  it("splits marked matches from plain text", () => {
    expect(snippetParts("…my \u0002refund\u0003 for \u0002order\u0003 42")).toEqual([
      { text: "…my ", match: false },
      { text: "refund", match: true },
      { text: " for ", match: false },
      { text: "order", match: true },
      { text: " 42", match: false },
    ]);
  });
  it("keeps text without marks, and a mark left open", () => {
    expect(snippetParts("plain")).toEqual([{ text: "plain", match: false }]);
    expect(snippetParts("a \u0002b")).toEqual([{ text: "a ", match: false }, { text: "b", match: true }]);
  });
});

describe("devices", () => {
  const now = new Date("2026-11-25T12:00:00Z");
  it("says how long ago", () => {
    expect(agoText("2026-11-25T11:59:30Z", now)).toBe("just now");
    expect(agoText("2026-11-25T11:56:00Z", now)).toBe("4 min ago");
    expect(agoText("2026-11-25T09:00:00Z", now)).toBe("3 h ago");
    expect(agoText("2026-11-20T12:00:00Z", now)).toBe("5 days ago");
  });
  it("names what is down and since when", () => {
    const line = { name: "Support line", status: "disconnected", last_seen_at: "2026-11-25T11:56:00Z" };
    expect(deviceBanner(line, now)).toBe("Support line disconnected 4 min ago: new messages may stall");
    expect(deviceBanner({ ...line, status: "logged_out" }, now)).toBe("Support line was logged out 4 min ago: relink it in Devices");
    expect(deviceBanner({ ...line, status: "banned", last_seen_at: null }, now)).toBe(
      "Support line was banned by WhatsApp: new messages may stall",
    );
    expect(deviceDown("pending_link")).toBe(false);
    expect(deviceDown("connected")).toBe(false);
    expect(deviceDown("banned")).toBe(true);
  });
});

describe("the 24-hour window", () => {
  const now = new Date("2026-11-25T12:00:00Z");
  it("counts down from the customer's last message", () => {
    expect(serviceWindow("2026-11-25T11:00:00Z", now)).toEqual({ open: true, soon: false, text: "23 h 0 min left in the 24-hour window" });
    expect(serviceWindow("2026-11-24T12:30:00Z", now)).toEqual({ open: true, soon: true, text: "30 min left in the 24-hour window" });
  });
  it("warns once it has closed, and before the customer ever wrote", () => {
    const closed = serviceWindow("2026-11-24T09:00:00Z", now);
    expect(closed.open).toBe(false);
    expect(closed.text).toBe("The 24-hour window closed 3 h ago: WhatsApp may not deliver a free-form reply until the customer writes again.");
    expect(serviceWindow(null, now).open).toBe(false);
  });
  it("sizes files", () => {
    expect(fileSize(512)).toBe("512 B");
    expect(fileSize(830 * 1024)).toBe("830 KB");
    expect(fileSize(2.4 * 1024 * 1024)).toBe("2.4 MB");
  });
});

describe("saved replies in the composer", () => {
  it("finds the /shortcut being typed, at the start or after a space only", async () => {
    const { shortcutQuery } = await import("./format");
    expect(shortcutQuery("/th", 3)).toBe("th");
    expect(shortcutQuery("Hi! /Thanks", 11)).toBe("thanks");
    expect(shortcutQuery("/", 1)).toBe("");
    expect(shortcutQuery("see https://x.org/th", 20)).toBeNull();
    expect(shortcutQuery("and/or", 6)).toBeNull();
    expect(shortcutQuery("/th more", 8)).toBeNull();
  });

  it("puts the reply in place of the /shortcut, text around it kept", async () => {
    const { completeShortcut } = await import("./format");
    expect(completeShortcut("Hi! /tha", 8, "Thanks a lot.")).toEqual({ text: "Hi! Thanks a lot.", caret: 17 });
    expect(completeShortcut("/tha and more", 4, "Thanks")).toEqual({ text: "Thanks and more", caret: 6 });
  });

  it("fills in the contact's and the agent's names, and leaves what it does not know", async () => {
    const { fillReply } = await import("./format");
    const v = { contactName: "Lena Hoffmann", contactPhone: "+4915112345678", agentName: "Ana Lima" };
    expect(fillReply("Hi {{contact.first_name}}, {{ agent.first_name }} here ({{agent.name}}).", v)).toBe(
      "Hi Lena, Ana here (Ana Lima).",
    );
    expect(fillReply("Dear {{contact.name}}", v)).toBe("Dear Lena Hoffmann");
    expect(fillReply("Hi {{contact.first_name}}", { ...v, contactName: null })).toBe("Hi +4915112345678");
    expect(fillReply("Order {{order.id}}", v)).toBe("Order {{order.id}}");
  });
});
