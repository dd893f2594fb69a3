import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen, within } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { SessionEntry, SessionInfo } from "./types";
import Settings from "./Settings.svelte";
import { workspaceContext } from "./stores/workspace.svelte";

const session: SessionInfo = {
  server: "https://inbox.example.com",
  user: { id: "u1", email: "ana@example.com", name: "Ana", role: "agent", active: true, kind: "person", must_change_password: false },
  encrypted: true,
  workspace: null,
};

const here: SessionEntry = {
  id: "s-here",
  created_at: "2026-01-10T09:00:00Z",
  last_used_at: "2026-01-12T09:00:00Z",
  expires_at: "2026-01-19T09:00:00Z",
  client: "Handoff-Desktop/0.1.0 (linux)",
  address: "192.168.1.20",
  current: true,
};
const laptop: SessionEntry = { ...here, id: "s-laptop", client: "Handoff-Desktop/0.1.0 (windows)", address: "10.0.0.7", current: false };

/** mockIPC with what Settings reads when it opens; `handler` answers the rest (undefined: not handled). */
function withSettings(handler: (cmd: string, args: unknown) => unknown) {
  const calls: { cmd: string; args: unknown }[] = [];
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      const answer = handler(cmd, args);
      if (answer !== undefined) return answer;
      if (cmd === "desktop_settings") return { autostart: false, close_to_tray: true, has_tray: true };
      if (cmd === "notification_settings")
        return { assigned: true, typing: true, mentioned: true, customer_message: true, unclaimed: true, unclaimed_after_mins: 10, device_down: true, dnd: false };
      if (cmd === "update_state") return { state: "not_configured" };
      if (cmd === "sessions") return [here, laptop];
      return null;
    },
    { shouldMockEvents: true },
  );
  return calls;
}

function renderSettings() {
  const sessions: SessionInfo[] = [];
  render(Settings, { props: { session, onSession: (info: SessionInfo) => sessions.push(info), onSignOut: () => {} }, context: workspaceContext("main") });
  return sessions;
}

async function typePasswords(current: string, next: string, repeat = next) {
  await fireEvent.input(screen.getByTestId("current-password"), { target: { value: current } });
  await fireEvent.input(screen.getByTestId("new-password"), { target: { value: next } });
  await fireEvent.input(screen.getByTestId("repeat-password"), { target: { value: repeat } });
  await fireEvent.click(screen.getByTestId("change-password"));
}

const value = (testId: string) => (screen.getByTestId(testId) as HTMLInputElement).value;

afterEach(async () => {
  await tick();
  cleanup(); // before the mocks go: Updates stops listening as it is destroyed
  clearMocks();
  vi.unstubAllGlobals();
});

describe("Settings: change my password", () => {
  it("says the current password is wrong and changes nothing", async () => {
    withSettings((cmd) => {
      if (cmd === "change_password") throw { code: "wrong_credentials", message: "Your current password is not that one." };
    });
    const signedIn = renderSettings();
    await typePasswords("not-mine", "a-new-secret-1");
    const account = screen.getByTestId("account");
    expect(await within(account).findByRole("alert")).toHaveProperty("textContent", "Your current password is not that one.");
    expect(screen.queryByTestId("password-changed")).toBeNull();
    expect(signedIn).toEqual([]);
    // What was typed stays, to correct it.
    expect(value("current-password")).toBe("not-mine");
    expect(value("new-password")).toBe("a-new-secret-1");
  });

  it("does not call the server when the two new passwords differ", async () => {
    const calls = withSettings(() => undefined);
    renderSettings();
    await typePasswords("old-secret-1", "a-new-secret-1", "a-new-secret-2");
    expect(await within(screen.getByTestId("account")).findByRole("alert")).toHaveProperty(
      "textContent",
      "The two new passwords differ: type the same one twice.",
    );
    expect(calls.some((c) => c.cmd === "change_password")).toBe(false);
  });

  it("sends the current and new password, clears the form and says the other sessions ended", async () => {
    const changed: unknown[] = [];
    let sessionsAsked = 0;
    withSettings((cmd, args) => {
      if (cmd === "change_password") {
        changed.push(args);
        return session;
      }
      if (cmd === "sessions") {
        sessionsAsked += 1;
        // Before: this computer and a laptop; after the change only this computer is left.
        return sessionsAsked === 1 ? [here, laptop] : [here];
      }
    });
    const signedIn = renderSettings();
    await vi.waitFor(() => expect(screen.getAllByTestId("session-row")).toHaveLength(2));
    await typePasswords("old-secret-1", "a-new-secret-1");
    expect(await screen.findByTestId("password-changed")).toHaveProperty(
      "textContent",
      "Password changed. Your other sessions were signed out.",
    );
    expect(changed).toEqual([{ workspace: "main", currentPassword: "old-secret-1", newPassword: "a-new-secret-1" }]);
    expect(signedIn).toEqual([session]);
    expect(value("current-password")).toBe("");
    expect(value("new-password")).toBe("");
    expect(value("repeat-password")).toBe("");
    expect(within(screen.getByTestId("account")).queryByRole("alert")).toBeNull();
    // The list of sessions is read again.
    await vi.waitFor(() => expect(screen.getAllByTestId("session-row")).toHaveLength(1));
  });
});

describe("Settings: copy diagnostics", () => {
  beforeEach(() => {
    // The path without ClipboardItem (jsdom has none): the text is written once the core has it.
    vi.stubGlobal("ClipboardItem", undefined);
  });
  afterEach(() => {
    delete (navigator as { clipboard?: unknown }).clipboard;
  });

  it("puts the core's diagnostics on the clipboard and says so", async () => {
    const writeText = vi.fn(async (_text: string) => {});
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    const calls = withSettings((cmd) => {
      if (cmd === "diagnostics") return "Handoff 0.1.0 (linux)\nserver: https://inbox.example.com\n";
    });
    renderSettings();
    const button = screen.getByTestId("copy-diagnostics");
    expect(button.textContent).toBe("Copy diagnostics");
    await fireEvent.click(button);
    await vi.waitFor(() => expect(button.textContent).toBe("Copied"));
    expect(calls.filter((c) => c.cmd === "diagnostics")).toHaveLength(1);
    expect(writeText).toHaveBeenCalledWith("Handoff 0.1.0 (linux)\nserver: https://inbox.example.com\n");
    expect(within(screen.getByTestId("desktop")).queryByRole("alert")).toBeNull();
  });

  it("says why when the diagnostics cannot be had", async () => {
    const writeText = vi.fn(async (_text: string) => {});
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    withSettings((cmd) => {
      if (cmd === "diagnostics") throw { code: "internal", message: "The log could not be read." };
    });
    renderSettings();
    await fireEvent.click(screen.getByTestId("copy-diagnostics"));
    expect(await within(screen.getByTestId("desktop")).findByRole("alert")).toHaveProperty(
      "textContent",
      "Diagnostics not copied: The log could not be read.",
    );
    expect(screen.getByTestId("copy-diagnostics").textContent).toBe("Copy diagnostics");
    expect(writeText).not.toHaveBeenCalled();
  });
});
