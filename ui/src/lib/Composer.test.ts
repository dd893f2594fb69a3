import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import Composer from "./Composer.svelte";

afterEach(async () => {
  await tick();
  clearMocks();
  localStorage.clear();
});

function setup(replying: string[]) {
  const replies: { body: string; force: boolean }[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "reply") {
      const a = args as { body: string; force: boolean };
      replies.push({ body: a.body, force: a.force });
      return "00000000-0000-7000-8000-000000000001";
    }
  });
  render(Composer, {
    conversationId: "c1",
    version: 3,
    canWrite: true,
    users: new Map(),
    refusal: null,
    onDismissRefusal: () => {},
    replying,
  });
  return replies;
}

describe("Composer", () => {
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
    mockIPC((cmd, args) => {
      if (cmd === "reply") replies.push(args as { body: string; force: boolean });
      if (cmd === "note" || cmd === "reply") return "00000000-0000-7000-8000-000000000001";
    });
    const props = {
      conversationId: "c1",
      version: 3,
      canWrite: true,
      users: new Map(),
      refusal: null as null | { body: string; changes: []; message: string; mutationId: string },
      onDismissRefusal: () => {},
    };
    const view = render(Composer, props);
    await fireEvent.click(screen.getByTestId("mode-note"));
    await fireEvent.input(screen.getByLabelText("Internal note"), { target: { value: "Called him" } });
    await fireEvent.click(screen.getByTestId("send"));
    await fireEvent.click(screen.getByTestId("mode-reply"));
    await fireEvent.input(screen.getByLabelText("Reply to the customer"), { target: { value: "Done!" } });
    await fireEvent.click(screen.getByTestId("send"));
    await tick();
    await view.rerender({ ...props, refusal: { body: "Done!", changes: [], message: "changed", mutationId: "m1" } });
    await tick();
    expect(screen.getByTestId("refusal")).toBeTruthy();
    expect((screen.getByLabelText("Reply to the customer") as HTMLTextAreaElement).value).toBe("Done!");
  });
});
