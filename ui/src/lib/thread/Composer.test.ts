import { afterEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import Composer from "./Composer.svelte";
import ComposerInThread from "./ComposerInThread.test.svelte";
import { workspaceContext } from "../stores/workspace.svelte";

const inWorkspace = workspaceContext("main");

afterEach(async () => {
  await tick();
  clearMocks();
  localStorage.clear();
});

/** mockIPC, with the core's draft commands kept in a map as the cache keeps them. */
function withDrafts(handler: (cmd: string, args: unknown) => unknown) {
  const drafts = new Map<string, string>();
  mockIPC((cmd, args) => {
    const a = args as { conversationId: string; mode: string; body?: string };
    const key = `${a.conversationId}/${a.mode}`;
    if (cmd === "draft") return drafts.get(key) ?? null;
    if (cmd === "set_draft") {
      if (a.body?.trim()) drafts.set(key, a.body);
      else drafts.delete(key);
      return null;
    }
    return handler(cmd, args);
  });
  return drafts;
}

function setup(replying: string[]) {
  const replies: { body: string; force: boolean }[] = [];
  withDrafts((cmd, args) => {
    if (cmd === "reply") {
      const a = args as { body: string; force: boolean };
      replies.push({ body: a.body, force: a.force });
      return "00000000-0000-7000-8000-000000000001";
    }
  });
  render(Composer, {
    props: { conversationId: "c1", version: 3, canWrite: true, users: new Map(), refusal: null, onDismissRefusal: () => {}, replying },
    context: inWorkspace,
  });
  return replies;
}

describe("Composer", () => {
  it("keeps the tab the agent chose while the thread is read again, and takes a refusal in once", async () => {
    const calls: string[] = [];
    withDrafts((cmd) => {
      calls.push(cmd);
      return null;
    });
    const refusal = { op: "note", body: "VIP list", changes: [], message: "Viewers cannot write notes.", mutationId: "m9" };
    const view = render(ComposerInThread, { props: { refusal }, context: inWorkspace });
    await tick();
    expect((screen.getByLabelText("Internal note") as HTMLTextAreaElement).value).toBe("VIP list");
    await fireEvent.click(screen.getByTestId("mode-reply"));
    await vi.waitFor(() => expect(screen.getByRole("button", { name: "Back to the note" })).toBeTruthy());
    const drafts = calls.filter((c) => c === "draft").length;
    // A new message (or a teammate's change) re-reads the thread; the refusal is read again too.
    view.component.reread();
    await view.rerender({ refusal: { ...refusal } });
    await tick();
    expect(screen.getByRole("button", { name: "Back to the note" })).toBeTruthy();
    expect(screen.queryByTestId("resend")).toBeNull();
    expect(calls.filter((c) => c === "draft").length, "no draft read again").toBe(drafts);
  });

  it("asks before replying while a teammate is typing a reply, without overriding the send guard", async () => {
    const replies = setup(["Ben Ortiz"]);
    await fireEvent.input(screen.getByLabelText("Reply to the customer"), { target: { value: "On it!" } });
    await fireEvent.click(screen.getByTestId("send"));
    expect(await screen.findByTestId("collision-confirm")).toHaveProperty(
      "textContent",
      expect.stringContaining("Ben Ortiz is typing a reply to this customer right now."),
    );
    expect(replies).toEqual([]);
    await fireEvent.click(screen.getByRole("button", { name: "Send anyway" }));
    await tick();
    expect(replies).toEqual([{ body: "On it!", force: false }]);
  });

  it("sends at once when nobody else is replying", async () => {
    const replies = setup([]);
    await fireEvent.input(screen.getByLabelText("Reply to the customer"), { target: { value: "Hello!" } });
    await fireEvent.click(screen.getByTestId("send"));
    await tick();
    expect(replies).toEqual([{ body: "Hello!", force: false }]);
    expect(screen.queryByTestId("collision-confirm")).toBeNull();
  });

  it("puts a refused reply back in the composer, also after a note was written", async () => {
    const replies: { body: string; force: boolean }[] = [];
    withDrafts((cmd, args) => {
      if (cmd === "reply") replies.push(args as { body: string; force: boolean });
      if (cmd === "note" || cmd === "reply") return "00000000-0000-7000-8000-000000000001";
    });
    const props = {
      conversationId: "c1",
      version: 3,
      canWrite: true,
      users: new Map(),
      refusal: null as null | { op: string; body: string; changes: []; message: string; mutationId: string },
      onDismissRefusal: () => {},
    };
    const view = render(Composer, { props, context: inWorkspace });
    await fireEvent.click(screen.getByTestId("mode-note"));
    await fireEvent.input(screen.getByLabelText("Internal note"), { target: { value: "Called him" } });
    await fireEvent.click(screen.getByTestId("send"));
    await fireEvent.click(screen.getByTestId("mode-reply"));
    await fireEvent.input(screen.getByLabelText("Reply to the customer"), { target: { value: "Done!" } });
    await fireEvent.click(screen.getByTestId("send"));
    await tick();
    await view.rerender({ ...props, refusal: { op: "reply", body: "Done!", changes: [], message: "changed", mutationId: "m1" } });
    await tick();
    expect(screen.getByTestId("refusal")).toBeTruthy();
    expect((screen.getByLabelText("Reply to the customer") as HTMLTextAreaElement).value).toBe("Done!");
  });

  it("reviews a refused note as a note: its text never enters the reply, and it is saved again only as a note", async () => {
    const calls: { cmd: string; args: unknown }[] = [];
    const drafts = withDrafts((cmd, args) => {
      calls.push({ cmd, args });
      if (cmd === "resend_attention" || cmd === "note" || cmd === "reply") return "00000000-0000-7000-8000-000000000002";
      return null;
    });
    let dismissed = 0;
    render(Composer, {
      props: {
        conversationId: "c1",
        version: 3,
        canWrite: true,
        users: new Map(),
        refusal: { op: "note", body: "VIP: refund approved internally", changes: [], message: "Viewers cannot write notes.", mutationId: "m9" },
        onDismissRefusal: () => dismissed++,
      },
      context: inWorkspace,
    });
    await tick();
    const panel = screen.getByTestId("refusal");
    expect(panel.textContent).toContain("Note not saved: Viewers cannot write notes.");
    expect(panel.textContent).not.toContain("Send anyway");
    expect((screen.getByLabelText("Internal note") as HTMLTextAreaElement).value).toBe("VIP: refund approved internally");
    // The reply draft is untouched, and from the reply tab the panel offers no way to send.
    await vi.waitFor(() => expect(drafts.get("c1/note")).toBe("VIP: refund approved internally"));
    expect(drafts.has("c1/reply")).toBe(false);
    await fireEvent.click(screen.getByTestId("mode-reply"));
    await vi.waitFor(() => expect((screen.getByLabelText("Reply to the customer") as HTMLTextAreaElement).value).toBe(""));
    expect(screen.queryByTestId("resend")).toBeNull();
    await fireEvent.click(screen.getByRole("button", { name: "Back to the note" }));
    await vi.waitFor(() =>
      expect((screen.getByLabelText("Internal note") as HTMLTextAreaElement).value).toBe("VIP: refund approved internally"),
    );
    await fireEvent.click(screen.getByTestId("resend"));
    await tick();
    await tick();
    expect(calls.filter((c) => c.cmd === "reply")).toEqual([]);
    expect(calls.find((c) => c.cmd === "resend_attention")?.args).toEqual({
      workspace: "main",
      mutationId: "m9",
      body: "VIP: refund approved internally",
      force: false,
    });
    expect(dismissed).toBe(1);
  });
});
