import { describe, expect, it } from "vitest";
import { avatarHue, initials, looksInternal, relativeTime, secondsAgo } from "./format";

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
