import { afterEach, describe, expect, it, vi } from "vitest";
import { cleanup, fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type { SessionInfo, User } from "./lib/types";
import App from "./App.svelte";

afterEach(async () => {
  await tick();
  cleanup(); // before the mocks go: the inbox stops listening as it is destroyed
  clearMocks();
});

const SERVER = "https://inbox.example.com";
const TEMPORARY = "tmp-7Qx-93Lk";
const ben: User = { id: "u-ben", email: "ben@example.com", name: "Ben", role: "agent", active: true, kind: "person", must_change_password: true };
const temporarySession: SessionInfo = { server: SERVER, user: ben, encrypted: true, workspace: null };
const ownSession: SessionInfo = { server: SERVER, user: { ...ben, must_change_password: false }, encrypted: true, workspace: null };

// What the inbox reads when it opens: anything among these asked for before the password is
// changed means the inbox was reached.
const INBOX_COMMANDS = ["inbox", "counts", "labels", "users", "devices", "teams", "presence", "attention", "connection"];

/**
 * The core as the app sees it: `restored` is the session kept from last time; sign_in answers
 * with the temporary session; change_password runs `change`.
 */
function withCore(restored: SessionInfo | null, change: (args: { currentPassword: string; newPassword: string }) => SessionInfo) {
  const calls: { cmd: string; args: unknown }[] = [];
  mockIPC(
    (cmd, args) => {
      calls.push({ cmd, args });
      switch (cmd) {
        case "restore_session":
          return { workspaces: restored ? [{ key: "main", session: restored }] : [], active: restored ? "main" : null, notices: [] };
        case "recent_servers":
          return [SERVER];
        case "server_address":
          return { url: SERVER, encrypted: true };
        case "sign_in":
          return { key: "main", session: temporarySession, others: [] };
        case "sign_out":
          return null;
        case "change_password":
          return change(args as { currentPassword: string; newPassword: string });
        case "connection":
          return { state: "online" };
        case "inbox":
        case "labels":
        case "users":
        case "devices":
        case "teams":
        case "attention":
          return [];
        case "counts":
          return { mine: 0, unassigned: 0, all: 0, mentions: 0, snoozed: 0, resolved: 0, teams: [] };
        case "presence":
          return { statuses: [], activities: [] };
        default:
          return null;
      }
    },
    { shouldMockEvents: true },
  );
  return calls;
}

/** What the inbox's reads answer for an empty workspace (anything else: an empty list). */
function emptyInbox(cmd: string): unknown {
  switch (cmd) {
    case "connection":
      return { state: "online" };
    case "counts":
      return { mine: 0, unassigned: 0, all: 0, mentions: 0, snoozed: 0, resolved: 0, teams: [] };
    case "presence":
      return { statuses: [], activities: [] };
    case "thread":
    case "take_pending_link":
    case "set_active_workspace":
    case "sign_out":
      return null;
    default:
      return [];
  }
}

const inboxReached = (calls: { cmd: string }[]) => calls.some((c) => INBOX_COMMANDS.includes(c.cmd));

async function choose(next: string, repeat = next) {
  await fireEvent.input(screen.getByTestId("new-password"), { target: { value: next } });
  await fireEvent.input(screen.getByTestId("repeat-password"), { target: { value: repeat } });
  await fireEvent.click(screen.getByTestId("change-password"));
}

describe("App: signed in with a temporary password", () => {
  it("opens nothing but the password screen until the agent has chosen their own", async () => {
    const changes: unknown[] = [];
    let refuse = true;
    const calls = withCore(null, (args) => {
      changes.push(args);
      if (refuse) throw { code: "invalid", message: "Choose a password of at least 12 characters." };
      return ownSession;
    });
    render(App);

    // Sign in with the temporary password an Admin gave.
    await fireEvent.input(await screen.findByLabelText("Email"), { target: { value: "ben@example.com" } });
    await fireEvent.input(screen.getByLabelText("Password"), { target: { value: TEMPORARY } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));

    const must = await screen.findByTestId("must-change");
    expect(must.textContent).toContain("Choose your own password");
    expect(must.textContent).toContain("ben@example.com signed in with a temporary password");
    // The temporary password was just typed: it is not asked for again.
    expect(screen.queryByTestId("current-password")).toBeNull();
    expect(screen.queryByRole("navigation", { name: "Views" })).toBeNull();

    // Two different passwords: nothing is sent.
    await choose("my-own-secret-1", "my-own-secret-2");
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "The two new passwords differ: type the same one twice.");
    expect(changes).toEqual([]);

    // The server refuses it: still here, saying why.
    await choose("short-one");
    await vi.waitFor(() => expect(screen.getByRole("alert").textContent).toBe("Choose a password of at least 12 characters."));
    expect(screen.getByTestId("must-change")).toBeTruthy();
    expect(screen.queryByRole("navigation", { name: "Views" })).toBeNull();
    expect(inboxReached(calls)).toBe(false);

    // Accepted: the inbox opens.
    refuse = false;
    await choose("my-own-secret-1");
    expect(await screen.findByTestId("empty-queue")).toBeTruthy();
    expect(screen.queryByTestId("must-change")).toBeNull();
    expect(screen.getByRole("navigation", { name: "Views" })).toBeTruthy();
    expect(changes).toEqual([
      { workspace: "main", currentPassword: TEMPORARY, newPassword: "short-one" },
      { workspace: "main", currentPassword: TEMPORARY, newPassword: "my-own-secret-1" },
    ]);
  });

  it("after a restart asks for the temporary password again, and can sign out instead", async () => {
    const changes: unknown[] = [];
    const calls = withCore(temporarySession, (args) => {
      changes.push(args);
      return ownSession;
    });
    render(App);

    await screen.findByTestId("must-change");
    // The temporary password is not kept anywhere: it is typed again as the current one.
    expect(screen.getByTestId("current-password")).toBeTruthy();
    expect(inboxReached(calls)).toBe(false);

    await fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
    expect(await screen.findByRole("button", { name: "Sign in" })).toBeTruthy();
    expect(calls.some((c) => c.cmd === "sign_out")).toBe(true);
    expect(changes).toEqual([]);
    expect(inboxReached(calls)).toBe(false);
  });
});

describe("App: several workspaces", () => {
  const at = (name: string, server: string): SessionInfo => ({
    server,
    user: { ...ben, must_change_password: false },
    encrypted: true,
    workspace: { id: `id-${name}`, name },
  });
  const counts = (unassigned: number, mine: number) => ({ mine, unassigned, all: unassigned + mine, mentions: 0, snoozed: 0, resolved: 0, teams: [] });

  /** Two workspaces kept from last time, "main" on screen; `waiting` is what each one's core answers for counts. */
  function withTwo(waiting: Record<string, number>) {
    const calls: { cmd: string; args: Record<string, unknown> }[] = [];
    mockIPC(
      (cmd, raw) => {
        const args = (raw ?? {}) as Record<string, unknown>;
        calls.push({ cmd, args });
        switch (cmd) {
          case "restore_session":
            return {
              workspaces: [
                { key: "main", session: at("Main", "https://a.example") },
                { key: "w2", session: at("Main", "https://b.example") },
              ],
              active: "main",
              notices: [],
            };
          case "counts":
            return counts(waiting[args.workspace as string] ?? 0, 0);
          default:
            return emptyInbox(cmd);
        }
      },
      { shouldMockEvents: true },
    );
    return calls;
  }

  it("shows each workspace's own counts, tells two Mains apart by their server, and switches with Ctrl+2", async () => {
    const waiting = { main: 1, w2: 0 };
    const calls = withTwo(waiting);
    render(App);
    const rows = await screen.findAllByTestId("workspace");
    expect(rows.map((r) => r.dataset.key)).toEqual(["main", "w2"]);
    await vi.waitFor(() => expect(screen.getAllByTestId("workspace-waiting").map((e) => e.textContent)).toEqual(["1", "0"]));
    expect(screen.getAllByTestId("workspace-server").map((e) => e.textContent)).toEqual(["a.example", "b.example"]);
    expect(rows[0].getAttribute("aria-selected")).toBe("true");

    // A change in the second workspace's core re-reads that one's counts only.
    waiting.w2 = 3;
    waiting.main = 9; // would show if the first re-read
    calls.length = 0;
    await emit("core-event", { workspace: "w2", change: { kind: "inbox" } });
    await vi.waitFor(() => expect(screen.getAllByTestId("workspace-waiting").map((e) => e.textContent)).toEqual(["1", "3"]));
    expect(calls.filter((c) => c.cmd === "counts").map((c) => c.args.workspace)).toEqual(["w2"]);

    await fireEvent.keyDown(document.body, { key: "2", ctrlKey: true });
    await vi.waitFor(() => expect(screen.getAllByTestId("workspace")[1].getAttribute("aria-selected")).toBe("true"));
    expect(calls.filter((c) => c.cmd === "set_active_workspace").map((c) => c.args.workspace)).toEqual(["w2"]);
    // Ctrl+3 with two workspaces: nothing.
    await fireEvent.keyDown(document.body, { key: "3", ctrlKey: true });
    expect(screen.getAllByTestId("workspace")[1].getAttribute("aria-selected")).toBe("true");
  });
});

describe("App: signing out and in again", () => {
  it("shows the inbox again after a sign-out and another sign-in on the same workspace's files", async () => {
    const own = { ...ownSession, user: { ...ownSession.user, must_change_password: false } };
    mockIPC(
      (cmd) => {
        switch (cmd) {
          case "restore_session":
            return { workspaces: [], active: null, notices: [] };
          case "recent_servers":
            return [SERVER];
          case "server_address":
            return { url: SERVER, encrypted: true };
          case "sign_in":
            return { key: "main", session: own, others: [] };
          default:
            return emptyInbox(cmd);
        }
      },
      { shouldMockEvents: true },
    );
    render(App);
    for (let round = 0; round < 2; round++) {
      await fireEvent.input(await screen.findByLabelText("Email"), { target: { value: "ben@example.com" } });
      await fireEvent.input(screen.getByLabelText("Password"), { target: { value: "my-own-secret-1" } });
      await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
      expect(await screen.findByRole("navigation", { name: "Views" }), `the inbox, round ${round + 1}`).toBeTruthy();
      await fireEvent.click(screen.getByRole("button", { name: "Sign out" }));
      await vi.waitFor(() => expect(screen.queryByRole("navigation", { name: "Views" })).toBeNull());
    }
  });
});

describe("App: links and added workspaces", () => {
  it("keeps a link for a workspace still being added, and opens it there once it is", async () => {
    const session = (name: string): SessionInfo => ({ server: SERVER, user: { ...ben, must_change_password: false }, encrypted: true, workspace: { id: `id-${name}`, name } });
    const calls: { cmd: string; args: Record<string, unknown> }[] = [];
    let pending: { workspace: string; conversation_id: string } | null = null;
    mockIPC(
      (cmd, raw) => {
        const args = (raw ?? {}) as Record<string, unknown>;
        calls.push({ cmd, args });
        switch (cmd) {
          case "restore_session":
            return { workspaces: [{ key: "main", session: session("Acme") }], active: "main", notices: [] };
          case "recent_servers":
            return [SERVER];
          case "server_address":
            return { url: SERVER, encrypted: true };
          case "sign_in":
            return { key: "w2", session: session("Bloom"), others: [] };
          case "take_pending_link": {
            const taken = pending;
            pending = null;
            return taken;
          }
          default:
            return emptyInbox(cmd);
        }
      },
      { shouldMockEvents: true },
    );
    render(App);
    await fireEvent.click(await screen.findByTestId("add-workspace-button"));
    // A notification's Open for the workspace being added: the shell keeps it as pending.
    pending = { workspace: "w2", conversation_id: "c-bloom" };
    await emit("open-conversation", { workspace: "w2", conversation_id: "c-bloom" });
    await tick();
    expect(calls.filter((c) => c.cmd === "take_pending_link"), "not taken before its workspace is here").toHaveLength(1); // the start's own
    expect(pending).not.toBeNull();
    await fireEvent.input(screen.getByLabelText("Email"), { target: { value: "ben@bloom.example" } });
    await fireEvent.input(screen.getByLabelText("Password"), { target: { value: "my-own-secret-1" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await vi.waitFor(() => expect(calls.some((c) => c.cmd === "thread" && c.args.conversationId === "c-bloom")).toBe(true));
    const opened = calls.find((c) => c.cmd === "thread" && c.args.conversationId === "c-bloom");
    expect(opened?.args.workspace, "opened in the workspace it is of").toBe("w2");
    expect(pending).toBeNull();
  });
});

describe("App: access removed, and workspaces that wait for the password", () => {
  it("says why a workspace signed in last time waits for the password", async () => {
    const why = "https://a.example: This workspace was last open with the server more than 3 days ago: sign in to open it again.";
    mockIPC((cmd) => (cmd === "restore_session" ? { workspaces: [], active: null, notices: [why] } : emptyInbox(cmd)), {
      shouldMockEvents: true,
    });
    render(App);
    await vi.waitFor(() => expect(screen.getByTestId("restore-notices").textContent).toContain(why));
    expect(screen.getByLabelText("Password")).toBeTruthy(); // the sign-in form, under it
    await fireEvent.click(screen.getByText("OK"));
    expect(screen.queryByTestId("restore-notices")).toBeNull();
  });

  it("says an Admin removed the access, and takes the workspace out of the app with its data", async () => {
    const signOuts: unknown[] = [];
    const agent = { ...ownSession, workspace: { id: "w1", name: "Acme" } };
    mockIPC(
      (cmd, args) => {
        if (cmd === "restore_session") return { workspaces: [{ key: "main", session: agent }], active: "main", notices: [] };
        if (cmd === "connection") return { state: "access_removed" };
        if (cmd === "sign_out") signOuts.push(args);
        return emptyInbox(cmd);
      },
      { shouldMockEvents: true },
    );
    render(App);
    const dialog = await vi.waitFor(() => screen.getByTestId("access-removed"));
    expect(dialog.textContent).toContain("Your access to Acme was removed");
    expect(dialog.textContent).toContain("were deleted from this computer");
    expect(screen.queryByTestId("queue")).toBeNull(); // nothing of the workspace stays on screen
    await fireEvent.click(screen.getByTestId("access-removed-ok"));
    await vi.waitFor(() => expect(signOuts).toEqual([{ workspace: "main", wipe: true }]));
    await vi.waitFor(() => expect(screen.getByLabelText("Password")).toBeTruthy());
  });
});
