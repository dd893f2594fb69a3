import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import type { SavedReply } from "../types";
import MentionInput from "./MentionInput.svelte";

afterEach(() => tick());

const reply = (shortcut: string, body: string, owner_id: string | null = null): SavedReply => ({
  id: shortcut + (owner_id ?? ""),
  shortcut,
  body,
  team_id: null,
  owner_id,
  created_by: "u1",
  updated_at: "2026-12-08T09:00:00.000000Z",
});

async function type(input: HTMLTextAreaElement, text: string) {
  input.value = text;
  input.setSelectionRange(text.length, text.length);
  await fireEvent.input(input);
}

describe("the composer's saved replies", () => {
  it("offers the replies whose shortcut starts with what follows the /, and Tab puts the filled-in one", async () => {
    const replies = [reply("thanks", "Thanks {{contact.first_name}}!"), reply("thanks", "Cheers!", "me"), reply("hours", "9 to 5")];
    render(MentionInput, {
      props: { people: [], replies, fill: (b: string) => b.replace("{{contact.first_name}}", "Lena"), label: "Reply", testid: "box" },
    });
    const input = screen.getByTestId("box") as HTMLTextAreaElement;
    await type(input, "Hello. /th");
    const list = screen.getByTestId("saved-reply-suggestions");
    expect(list.textContent).toContain("/thanks");
    expect(list.textContent).not.toContain("/hours");
    expect(list.querySelectorAll("li").length).toBe(2);
    expect(list.textContent).toContain("yours");
    await fireEvent.keyDown(input, { key: "ArrowDown" });
    await fireEvent.keyDown(input, { key: "ArrowDown" });
    await fireEvent.keyDown(input, { key: "ArrowUp" });
    await fireEvent.keyDown(input, { key: "Tab" });
    await tick();
    expect(input.value, "the second one: your own").toBe("Hello. Cheers!");
    expect(screen.queryByTestId("saved-reply-suggestions")).toBeNull();
    await type(input, "Hello. /th");
    await fireEvent.keyDown(input, { key: "Escape" });
    await fireEvent.keyUp(input, { key: "Escape" });
    await tick();
    expect(screen.queryByTestId("saved-reply-suggestions"), "Escape closes the list").toBeNull();
    await fireEvent.keyDown(input, { key: "Enter" });
    expect(input.value, "Enter then puts in nothing").toBe("Hello. /th");
  });

  it("offers nothing without saved replies, and a slash in a word is just a slash", async () => {
    render(MentionInput, { props: { people: [], replies: [reply("thanks", "x")], label: "Reply", testid: "box" } });
    const input = screen.getByTestId("box") as HTMLTextAreaElement;
    await type(input, "and/th");
    expect(screen.queryByTestId("saved-reply-suggestions")).toBeNull();
  });
});
