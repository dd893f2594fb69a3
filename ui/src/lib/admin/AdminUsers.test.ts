import { afterEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen, within } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { User } from "../types";
import AdminUsers from "./AdminUsers.svelte";
import { workspaceContext } from "../stores/workspace.svelte";

afterEach(async () => {
  await tick();
  clearMocks();
  delete (navigator as { clipboard?: unknown }).clipboard;
});

const person = (id: string, name: string, role: User["role"] = "agent"): User => ({
  id,
  email: `${name.toLowerCase()}@example.com`,
  name,
  role,
  active: true,
  kind: "person",
  must_change_password: false,
});
const me = person("u-admin", "Ana", "admin");
const ben = person("u-ben", "Ben");
const cleo = person("u-cleo", "Cleo");

/** The row of the users table that names `name`. */
const row = (name: string) =>
  within(screen.getByTestId("users-table"))
    .getAllByRole("row")
    .find((r) => r.querySelector("td")?.textContent?.includes(name))!;

function withReset(answer: (id: string) => string) {
  const asked: unknown[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "reset_password") {
      asked.push(args);
      return answer((args as { id: string }).id);
    }
  });
  return asked;
}

describe("AdminUsers: reset a password", () => {
  it("offers no reset of my own password", () => {
    withReset(() => "unused");
    render(AdminUsers, { props: { me, people: [me, ben] }, context: workspaceContext("main") });
    expect(within(row("Ana")).queryByTestId("reset-password")).toBeNull();
    expect(within(row("Ben")).getByTestId("reset-password")).toBeTruthy();
  });

  it("asks once more, then shows the temporary password once, for whom it is", async () => {
    const asked = withReset(() => "tmp-7Qx-93Lk");
    const writeText = vi.fn(async (_text: string) => {});
    Object.defineProperty(navigator, "clipboard", { value: { writeText }, configurable: true });
    render(AdminUsers, { props: { me, people: [me, ben, cleo] }, context: workspaceContext("main") });

    const reset = within(row("Ben")).getByTestId("reset-password");
    await fireEvent.click(reset);
    expect(reset.textContent?.trim()).toBe("Sign out and reset?");
    expect(asked).toEqual([]);
    expect(screen.queryByTestId("temporary-password")).toBeNull();

    await fireEvent.click(reset);
    const shown = await screen.findByTestId("temporary-password");
    expect(asked).toEqual([{ workspace: "main", id: "u-ben" }]);
    expect(shown.querySelector("strong")?.textContent).toBe("Ben");
    expect(shown.querySelector("code")?.textContent).toBe("tmp-7Qx-93Lk");
    expect(screen.getByText("Ben is signed out everywhere.")).toBeTruthy();
    expect(reset.textContent?.trim()).toBe("Reset");

    await fireEvent.click(within(shown).getByRole("button", { name: "Copy" }));
    expect(writeText).toHaveBeenCalledWith("tmp-7Qx-93Lk");
    expect(within(shown).getByRole("button", { name: "Copied" })).toBeTruthy();

    // Done: the password is gone from the screen and nothing brings it back.
    await fireEvent.click(within(shown).getByRole("button", { name: "Done" }));
    expect(screen.queryByTestId("temporary-password")).toBeNull();
    expect(document.body.textContent).not.toContain("tmp-7Qx-93Lk");
    expect(asked).toHaveLength(1);
  });

  it("says why a reset failed and shows no password", async () => {
    mockIPC((cmd) => {
      if (cmd === "reset_password") throw { code: "forbidden", message: "Only an Admin can reset a password." };
    });
    render(AdminUsers, { props: { me, people: [me, ben] }, context: workspaceContext("main") });
    const reset = within(row("Ben")).getByTestId("reset-password");
    await fireEvent.click(reset);
    await fireEvent.click(reset);
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "Only an Admin can reset a password.");
    expect(screen.queryByTestId("temporary-password")).toBeNull();
  });
});

describe("AdminUsers: sign out everywhere and wipe", () => {
  it("asks once more, then says how many sessions ended and what each computer does", async () => {
    const asked: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "wipe_user") {
        asked.push(args);
        return 2;
      }
    });
    render(AdminUsers, { props: { me, people: [me, ben] }, context: workspaceContext("main") });
    expect(within(row("Ana")).queryByTestId("wipe-user")).toBeNull();
    const wipe = within(row("Ben")).getByTestId("wipe-user");
    await fireEvent.click(wipe);
    expect(wipe.textContent?.trim()).toBe("Sign out and wipe everywhere?");
    expect(asked).toEqual([]);
    await fireEvent.click(wipe);
    expect(await screen.findByText(/Ben is signed out everywhere \(2 sessions\)/)).toBeTruthy();
    expect(asked).toEqual([{ workspace: "main", id: "u-ben" }]);
  });
});
