import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { watchAway } from "./away";

describe("watchAway", () => {
  beforeEach(() => {
    vi.useFakeTimers();
    vi.spyOn(document, "hidden", "get").mockReturnValue(false);
  });
  afterEach(() => {
    vi.useRealTimers();
    vi.restoreAllMocks();
  });

  it("goes away after idling, comes back on input, and tells only changes", () => {
    const reports: boolean[] = [];
    const stop = watchAway((a) => reports.push(a), 60_000);
    expect(reports).toEqual([]);
    vi.advanceTimersByTime(59_000);
    expect(reports).toEqual([]);
    vi.advanceTimersByTime(15_000);
    expect(reports).toEqual([true]);
    window.dispatchEvent(new Event("keydown"));
    window.dispatchEvent(new Event("mousemove"));
    expect(reports).toEqual([true, false]);
    stop();
  });

  it("is away while the window is hidden", () => {
    const reports: boolean[] = [];
    const stop = watchAway((a) => reports.push(a), 60_000);
    const hidden = vi.spyOn(document, "hidden", "get");
    hidden.mockReturnValue(true);
    document.dispatchEvent(new Event("visibilitychange"));
    expect(reports).toEqual([true]);
    hidden.mockReturnValue(false);
    document.dispatchEvent(new Event("visibilitychange"));
    expect(reports).toEqual([true, false]);
    stop();
  });
});
