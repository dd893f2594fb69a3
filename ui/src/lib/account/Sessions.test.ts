import { afterEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, within } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { SessionEntry } from "../types";
import Sessions from "./Sessions.svelte";
import { workspaceContext } from "../stores/workspace.svelte";

afterEach(async () => {
  await tick();
  clearMocks();
});

const entry = (id: string, client: string | null, address: string | null, current = false): SessionEntry => ({
  id,
  created_at: "2026-01-10T09:00:00Z",
  last_used_at: "2026-01-12T09:00:00Z",
  expires_at: "2026-01-19T09:00:00Z",
  client,
  address,
  current,
});

/** The server's list of my sessions, which end_session shortens as the server does. */
function withSessions(list: SessionEntry[], refuse?: { code: string; message: string }) {
  const ended: unknown[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "sessions") return list;
    if (cmd === "end_session") {
      ended.push(args);
      if (refuse) throw refuse;
      const id = (args as { id: string }).id;
      list = list.filter((s) => s.id !== id);
      return null;
    }
  });
  return ended;
}

const rows = () => screen.queryAllByTestId("session-row");

describe("Sessions", () => {
  it("lists my sessions, this computer's marked and not endable", async () => {
    withSessions([
      entry("s-here", "Handoff-Desktop/0.1.0 (linux)", "192.168.1.20", true),
      entry("s-laptop", "Handoff-Desktop/0.1.0 (windows)", "10.0.0.7"),
      entry("s-old", null, null),
    ]);
    render(Sessions, { context: workspaceContext("main") });
    await vi.waitFor(() => expect(rows()).toHaveLength(3));
    const [here, laptop, old] = rows();
    expect(here.textContent).toContain("Handoff-Desktop/0.1.0 (linux)");
    expect(here.textContent).toContain("This computer");
    expect(within(here).queryByTestId("end-session")).toBeNull();
    expect(laptop.textContent).toContain("10.0.0.7");
    expect(within(laptop).getByTestId("end-session")).toBeTruthy();
    expect(old.textContent).toContain("Unknown app");
  });

  it("ends the session asked for, and its row goes", async () => {
    const ended = withSessions([
      entry("s-here", "Handoff-Desktop/0.1.0 (linux)", "192.168.1.20", true),
      entry("s-laptop", "Handoff-Desktop/0.1.0 (windows)", "10.0.0.7"),
      entry("s-phone", "Handoff-Desktop/0.1.0 (macos)", "10.0.0.9"),
    ]);
    render(Sessions, { context: workspaceContext("main") });
    await vi.waitFor(() => expect(rows()).toHaveLength(3));
    const laptop = rows().find((r) => r.textContent?.includes("10.0.0.7"))!;
    await fireEvent.click(within(laptop).getByTestId("end-session"));
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    expect(ended).toEqual([{ workspace: "main", id: "s-laptop" }]);
    expect(rows().some((r) => r.textContent?.includes("10.0.0.7"))).toBe(false);
    expect(rows().some((r) => r.textContent?.includes("10.0.0.9"))).toBe(true);
  });

  it("says why a session could not be ended and keeps it listed", async () => {
    withSessions(
      [entry("s-here", null, "192.168.1.20", true), entry("s-laptop", null, "10.0.0.7")],
      { code: "offline", message: "The server cannot be reached." },
    );
    render(Sessions, { context: workspaceContext("main") });
    await vi.waitFor(() => expect(rows()).toHaveLength(2));
    await fireEvent.click(screen.getByTestId("end-session"));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "The server cannot be reached.");
    expect(rows()).toHaveLength(2);
  });
});
