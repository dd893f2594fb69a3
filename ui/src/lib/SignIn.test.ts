import { afterEach, describe, expect, it } from "vitest";
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
      if (cmd === "sign_in") called = true;
    });
    render(SignIn, { onSignedIn: () => {} });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    expect(await screen.findByRole("alert")).toHaveProperty("textContent", "Enter your email and password.");
    expect(called).toBe(false);
  });

  it("hands the session up on success", async () => {
    const user = { id: "u1", email: "ana@example.com", name: "Ana", role: "agent", active: true };
    mockIPC((cmd) => {
      if (cmd === "recent_servers") return [];
      if (cmd === "sign_in") return { server: "http://127.0.0.1:8750", user };
    });
    let got: unknown = null;
    render(SignIn, { onSignedIn: (s: unknown) => (got = s) });
    await fireEvent.input(screen.getByLabelText("Email"), { target: { value: "ana@example.com" } });
    await fireEvent.input(screen.getByLabelText("Password"), { target: { value: "secret-pass" } });
    await fireEvent.click(screen.getByRole("button", { name: "Sign in" }));
    await tick();
    await tick();
    expect(got).toEqual({ server: "http://127.0.0.1:8750", user });
  });
});
