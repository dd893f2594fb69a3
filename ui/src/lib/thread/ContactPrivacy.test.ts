import { afterEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { Channel } from "@tauri-apps/api/core";
import type { Conversation, ExportProgress, User } from "../types";
import DetailsPane from "./DetailsPane.svelte";
import { workspaceContext } from "../stores/workspace.svelte";

afterEach(async () => {
  await tick();
  clearMocks();
});

const person = (role: User["role"]): User => ({
  id: `u-${role}`,
  email: `${role}@example.com`,
  name: role,
  role,
  active: true,
  kind: "person",
  must_change_password: false,
});

const conversation = {
  id: "c1",
  device_id: "d1",
  contact: { id: "k1", name: "Erika Muster", phone: "+49 151 8765 4321" },
  status: "open",
  assignee_id: null,
  last_message_at: "2026-12-07T10:00:00Z",
} as unknown as Conversation;

function show(role: User["role"]) {
  render(DetailsPane, {
    props: { conversation, users: new Map(), devices: new Map(), messages: 14, me: person(role) },
    context: workspaceContext("main"),
  });
}

/** Resolves what a held-back command answers. */
function later<T>() {
  let resolve!: (value: T) => void;
  const promise = new Promise<T>((r) => (resolve = r));
  return { promise, resolve };
}

describe("A contact's privacy actions", () => {
  it("are an Admin's only", () => {
    mockIPC(() => null);
    show("agent");
    expect(screen.queryByTestId("contact-privacy")).toBeNull();
  });

  it("export into Downloads with the download's progress, then say where", async () => {
    const asked: Record<string, unknown>[] = [];
    const answer = later<string>();
    mockIPC((cmd, args) => {
      if (cmd === "export_contact") {
        asked.push(args as Record<string, unknown>);
        return answer.promise;
      }
    });
    show("admin");
    await fireEvent.click(screen.getByTestId("export-csv"));
    expect(asked).toHaveLength(1);
    expect(asked[0]).toMatchObject({ workspace: "main", id: "k1", format: "csv" });
    const progress = asked[0].progress as Channel<ExportProgress>;
    progress.onmessage({ done: 512 * 1024, total: 2 * 1024 * 1024 });
    await tick();
    expect(screen.getByTestId("export-progress").textContent).toContain("(25%)");
    expect((screen.getByTestId("export-json") as HTMLButtonElement).disabled).toBe(true);
    answer.resolve("/home/ana/Downloads/handoff-contact-k1-2026-12-07.zip");
    await vi.waitFor(() => expect(screen.queryByTestId("export-progress")).toBeNull());
    expect(screen.getByTestId("export-saved").textContent).toBe("Saved to /home/ana/Downloads/handoff-contact-k1-2026-12-07.zip");
  });

  it("erase only after asking twice, saying what goes", async () => {
    const erased: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "contact") return { id: "k1", name: "Erika Muster", phone: "+49 151 8765 4321", device_id: "d1", aliases: [], conversations: [{}, {}] };
      if (cmd === "erase_contact") {
        erased.push(args);
        return { contact_id: "k1", conversations: 2, messages: 14 };
      }
    });
    show("admin");
    await fireEvent.click(screen.getByTestId("erase-contact"));
    await vi.waitFor(() => expect(screen.getByTestId("erase-counts").textContent).toContain("2 conversations"));
    const dialog = screen.getByTestId("erase-dialog");
    expect(dialog.textContent).toContain("Erase Erika Muster everywhere?");
    expect(screen.getByTestId("erase-counts").textContent).toContain("2 conversations");
    expect(screen.getByTestId("erase-counts").textContent).toContain("14 messages");
    expect(document.activeElement?.textContent).toBe("Cancel"); // the safe answer has the focus
    await fireEvent.click(screen.getByTestId("erase-continue"));
    expect(erased).toHaveLength(0);
    expect(dialog.textContent).toContain("Are you sure?");
    await vi.waitFor(() => expect(document.activeElement?.textContent).toBe("Cancel"));
    await fireEvent.click(screen.getByTestId("erase-confirm"));
    await vi.waitFor(() => expect(erased).toHaveLength(1));
    expect(erased).toEqual([{ workspace: "main", id: "k1" }]);
    // Done: the dialog closes and says what went, whether or not the event has come yet.
    await vi.waitFor(() => expect(screen.queryByTestId("erase-dialog")).toBeNull());
    expect(screen.getByTestId("erased").textContent).toBe(
      "Erased Erika Muster: 2 conversations, 14 messages. Every computer removes them at its next sync.",
    );
  });

  it("closes on Escape and keeps Tab inside the dialog", async () => {
    mockIPC(() => null);
    show("admin");
    await fireEvent.click(screen.getByTestId("erase-contact"));
    const dialog = await vi.waitFor(() => screen.getByTestId("erase-dialog"));
    const buttons = [...dialog.querySelectorAll("button")];
    expect(document.activeElement).toBe(buttons[0]);
    await fireEvent.keyDown(window, { key: "Tab" });
    expect(document.activeElement).toBe(buttons[1]);
    await fireEvent.keyDown(window, { key: "Tab" });
    expect(document.activeElement).toBe(buttons[0]);
    await fireEvent.keyDown(window, { key: "Escape" });
    expect(screen.queryByTestId("erase-dialog")).toBeNull();
  });

  it("can be called off at either question", async () => {
    const erased: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "erase_contact") erased.push(args);
      if (cmd === "contact") throw { kind: "server", message: "offline" };
    });
    show("admin");
    await fireEvent.click(screen.getByTestId("erase-contact"));
    await vi.waitFor(() => expect(screen.getByTestId("erase-counts").textContent).toContain("their conversations"));
    await fireEvent.click(screen.getByText("Cancel"));
    expect(screen.queryByTestId("erase-dialog")).toBeNull();
    await fireEvent.click(screen.getByTestId("erase-contact"));
    await fireEvent.click(screen.getByTestId("erase-continue"));
    await fireEvent.click(screen.getByText("Cancel"));
    expect(screen.queryByTestId("erase-dialog")).toBeNull();
    expect(erased).toHaveLength(0);
  });
});
