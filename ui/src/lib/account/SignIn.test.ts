import { afterEach, describe, expect, it, vi } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import SignIn from "./SignIn.svelte";

afterEach(async () => {
  await tick();
  clearMocks();
});

describe("SignIn", () => {
  it("says what went wrong in words people understand", async () => {
    mockIPC((cmd) => {
      if (cmd === "recent_servers") return ["http://inbox.example.com:8750"];
      if (cmd === "server_address") return { url: "https://inbox.example.com", encrypted: true };
      if (cmd === "sign_in") throw { code: "wrong_credentials", message: "Wrong email or password." };
    });
    render(SignIn, { onSignedIn: () => {} });
    await fireEvent.input(screen.getByLabelText("Email"), { target: { value: "ana@example.com" } });
    await fireEvent.input(screen.getByLabelText("Password"), { target: { value: "nope" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "Wrong email or password.");
    expect((screen.getByLabelText("Server") as HTMLInputElement).value).toBe("http://inbox.example.com:8750");
  });

  it("asks for the missing fields before calling the server", async () => {
    let called = false;
    mockIPC((cmd) => {
      if (cmd === "recent_servers") return [];
      if (cmd === "server_address") return { url: "http://127.0.0.1:8750", encrypted: false };
      if (cmd === "sign_in") called = true;
    });
    render(SignIn, { onSignedIn: () => {} });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "Enter your email and password.");
    expect(called).toBe(false);
  });

  it("says whether the address is encrypted, or why it is refused, as it is typed", async () => {
    mockIPC((cmd, args) => {
      if (cmd === "recent_servers") return [];
      if (cmd === "server_address") {
        const input = (args as { input: string }).input;
        if (input === "inbox.example.com") return { url: "https://inbox.example.com", encrypted: true };
        if (input === "http://192.168.1.9:8750") return { url: "http://192.168.1.9:8750", encrypted: false };
        throw { code: "invalid", message: "Http:// would send your password unencrypted: use https://" };
      }
    });
    render(SignIn, { onSignedIn: () => {} });
    const hint = screen.getByTestId("server-hint");
    const server = screen.getByLabelText("Server");
    await fireEvent.input(server, { target: { value: "inbox.example.com" } });
    await vi.waitFor(() => expect(hint.textContent).toContain("Encrypted · https://inbox.example.com"));
    await fireEvent.input(server, { target: { value: "http://192.168.1.9:8750" } });
    await vi.waitFor(() => expect(hint.textContent).toContain("Not encrypted · http://192.168.1.9:8750"));
    await fireEvent.input(server, { target: { value: "http://inbox.example.com" } });
    await vi.waitFor(() => expect(hint.textContent).toContain("use https://"));
  });

  it("hands the session up on success", async () => {
    const user = { id: "u1", email: "ana@example.com", name: "Ana", role: "agent", active: true };
    const session = { server: "http://127.0.0.1:8750", user, encrypted: false, workspace: null };
    mockIPC((cmd) => {
      if (cmd === "recent_servers") return [];
      if (cmd === "server_address") return { url: "http://127.0.0.1:8750", encrypted: false };
      if (cmd === "sign_in") return { key: "main", session, others: [] };
    });
    let got: unknown = null;
    render(SignIn, { onSignedIn: (s: unknown) => (got = s) });
    await fireEvent.input(screen.getByLabelText("Email"), { target: { value: "ana@example.com" } });
    await fireEvent.input(screen.getByLabelText("Password"), { target: { value: "secret-pass" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await tick();
    await tick();
    expect(got).toEqual([{ key: "main", session, others: [] }]);
  });

  it("asks which of the account's other workspaces to add, and signs in to those chosen", async () => {
    const user = { id: "u1", email: "ana@example.com", name: "Ana", role: "agent", active: true };
    const at = (id: string, name: string) => ({ server: "https://a.example", user, encrypted: true, workspace: { id, name } });
    const asked: unknown[] = [];
    mockIPC((cmd, args) => {
      if (cmd === "recent_servers") return [];
      if (cmd === "server_address") return { url: "https://a.example", encrypted: true };
      if (cmd !== "sign_in") return null;
      const a = args as { workspace: string | null; workspaceId: string | null; password: string };
      asked.push({ workspace: a.workspace, workspaceId: a.workspaceId, password: a.password });
      if (a.workspaceId === null)
        return { key: "main", session: at("w-a", "Acme"), others: [{ id: "w-b", name: "Bloom", role: "agent" }, { id: "w-c", name: "Cobalt", role: "viewer" }] };
      return { key: a.workspaceId === "w-b" ? "w2" : "w3", session: at(a.workspaceId, "?"), others: [] };
    });
    let got: { key: string }[] = [];
    render(SignIn, { onSignedIn: (s: { key: string }[]) => (got = s) });
    await fireEvent.input(screen.getByLabelText("Email"), { target: { value: "ana@example.com" } });
    await fireEvent.input(screen.getByLabelText("Password"), { target: { value: "secret-pass" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    const pick = await screen.findByTestId("pick-workspaces");
    expect(pick.textContent).toContain("Acme is open");
    expect(got, "nothing shown before the choice").toEqual([]);
    await fireEvent.click(screen.getByRole("checkbox", { name: /Cobalt/ }));
    await fireEvent.click(screen.getByRole("button", { name: "Add 1 and open" }));
    await vi.waitFor(() => expect(got.map((s) => s.key)).toEqual(["main", "w2"]));
    expect(asked).toEqual([
      { workspace: null, workspaceId: null, password: "secret-pass" },
      { workspace: null, workspaceId: "w-b", password: "secret-pass" },
    ]);
  });
});
