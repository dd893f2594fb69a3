import { afterEach, describe, expect, it, vi } from "vitest";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import { emit } from "@tauri-apps/api/event";
import type { Change, Conversation, SessionInfo, User } from "../types";
import { Workspace } from "./workspace.svelte";

afterEach(() => clearMocks());

const ana: User = { id: "u-ana", email: "ana@example.com", name: "Ana", role: "agent", active: true, kind: "person", must_change_password: false };
const session: SessionInfo = { server: "https://inbox.example.com", user: ana, encrypted: true, workspace: null };
const NO_COUNTS = { mine: 0, unassigned: 0, all: 0, mentions: 0, snoozed: 0, resolved: 0, teams: [] };

function conversation(id: string): Conversation {
  return { id } as Conversation; // the stores pass rows through; only the id is read here
}

/**
 * The core as the stores see it: every command is recorded; `answers` overrides what one
 * answers (a function may hold its answer back).
 */
function core(answers: Record<string, (args: Record<string, unknown>) => unknown> = {}) {
  const calls: string[] = [];
  mockIPC(
    (cmd, args) => {
      calls.push(cmd);
      if (answers[cmd]) return answers[cmd](args as Record<string, unknown>);
      switch (cmd) {
        case "connection":
          return { state: "online" };
        case "counts":
          return NO_COUNTS;
        case "presence":
          return { statuses: [], activities: [] };
        case "thread":
          return null;
        default:
          return [];
      }
    },
    { shouldMockEvents: true },
  );
  return calls;
}

async function started(calls: string[]) {
  const ws = new Workspace("main", session);
  const stop = ws.start();
  await vi.waitFor(() => expect(calls).toContain("presence"));
  await vi.waitFor(() => expect(calls).toContain("devices"));
  return { ws, stop };
}

const change = (c: Change, workspace = "main") => emit("core-event", { workspace, change: c });

describe("Workspace stores", () => {
  it("hear their own workspace's core only, and name it in every command", async () => {
    const keys: unknown[] = [];
    const calls = core();
    mockIPC(
      (cmd, args) => {
        calls.push(cmd);
        keys.push((args as Record<string, unknown>).workspace);
        if (cmd === "connection") return { state: "online" };
        if (cmd === "counts") return NO_COUNTS;
        if (cmd === "presence") return { statuses: [], activities: [] };
        return [];
      },
      { shouldMockEvents: true },
    );
    const { stop } = await started(calls);
    expect(new Set(keys)).toEqual(new Set(["main"]));
    calls.length = 0;
    await change({ kind: "inbox" }, "w2");
    await change({ kind: "directory" }, "w2");
    await new Promise((r) => setTimeout(r, 20));
    expect(calls, "another workspace's changes are not this one's").toEqual([]);
    await change({ kind: "inbox" });
    await vi.waitFor(() => expect(calls).toContain("counts"));
    stop();
  });

  it("each store re-reads on its own kinds of change, and no other", async () => {
    const calls = core();
    const { stop } = await started(calls);
    const after = async (c: Change, expected: string[]) => {
      calls.length = 0;
      await change(c);
      await vi.waitFor(() => expect(new Set(calls)).toEqual(new Set(expected)));
    };
    await after({ kind: "inbox" }, ["inbox", "counts", "labels"]);
    await after({ kind: "directory" }, ["users", "teams", "saved_replies", "devices"]);
    await after({ kind: "saved_replies" }, ["saved_replies"]);
    await after({ kind: "attention" }, ["attention"]);
    await after({ kind: "roster" }, ["presence"]);
    // A conversation that is not open: nothing to read.
    calls.length = 0;
    await change({ kind: "conversation", conversation_id: "c-other" });
    await change({ kind: "attention" });
    await vi.waitFor(() => expect(calls).toEqual(["attention"]));
    stop();
  });

  it("an answer overtaken by a newer request is dropped", async () => {
    const held: ((rows: Conversation[]) => void)[] = [];
    const calls = core({
      inbox: (args) => (args.view === "mine" ? new Promise((resolve) => held.push(resolve)) : [conversation(`c-${args.view}`)]),
    });
    const { ws, stop } = await started(calls);
    ws.inbox.setView("mine");
    await vi.waitFor(() => expect(held).toHaveLength(1));
    ws.inbox.setView("all");
    await vi.waitFor(() => expect(ws.inbox.conversations.map((c) => c.id)).toEqual(["c-all"]));
    held[0]([conversation("c-mine")]);
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(ws.inbox.view).toBe("all");
    expect(ws.inbox.conversations.map((c) => c.id)).toEqual(["c-all"]);
    stop();
  });

  it("a refusal in the open conversation comes back to the composer; elsewhere it is told", async () => {
    const calls = core();
    const { ws, stop } = await started(calls);
    await ws.thread.select("c-open");
    const error = { code: "conversation_changed", message: "Ben replied first.", changes: [] };
    await change({ kind: "rejected", mutation_id: "m1", conversation_id: "c-open", op: "reply", error, body: "Hello" });
    await vi.waitFor(() => expect(ws.thread.refusal?.body).toBe("Hello"));
    expect(ws.thread.refusal?.mutationId).toBe("m1");
    await change({ kind: "rejected", mutation_id: "m2", conversation_id: "c-else", op: "claim", error: { code: "forbidden", message: "Viewers cannot claim." }, body: null });
    await vi.waitFor(() => expect(ws.problem.message).toBe("Viewers cannot claim."));
    // Opening another conversation drops the first one's refusal.
    await ws.thread.select("c-else");
    expect(ws.thread.refusal).toBeNull();
    stop();
  });

  it("a connection state an event brought is not overwritten by an older read", async () => {
    let answer: (state: unknown) => void = () => {};
    const calls = core({ connection: () => new Promise((resolve) => (answer = resolve)) });
    const ws = new Workspace("main", session);
    const stop = ws.start();
    await vi.waitFor(() => expect(calls).toContain("connection"));
    await change({ kind: "connection", state: { state: "offline", since: "2026-12-07T10:00:00Z", reason: "no network" } });
    answer({ state: "online" });
    await vi.waitFor(() => expect(calls).toContain("presence"));
    expect(ws.connection.state).toBe("offline");
    stop();
  });

  it("opening a conversation waits for its thread's newest load, not an overtaken one", async () => {
    const held: ((thread: unknown) => void)[] = [];
    const calls = core({ thread: () => new Promise((resolve) => held.push(resolve)) });
    const { ws, stop } = await started(calls);
    const thread = (id: string) => ({ conversation: { id, unread_count: 0 }, messages: [], earlier: 0 });
    let opened = false;
    const selecting = ws.thread.select("c-1").then(() => (opened = true));
    await vi.waitFor(() => expect(held).toHaveLength(1));
    // The conversation changes while it opens: a newer load overtakes the first.
    await change({ kind: "conversation", conversation_id: "c-1" });
    await vi.waitFor(() => expect(held).toHaveLength(2));
    held[0](thread("c-1"));
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(opened).toBe(false);
    held[1](thread("c-1"));
    await selecting;
    expect(ws.thread.shows("c-1")).toBe(true);
    stop();
  });
});
