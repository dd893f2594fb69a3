import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { Device } from "../types";
import AdminPrivacy from "./AdminPrivacy.svelte";
import { workspaceContext } from "../stores/workspace.svelte";

afterEach(async () => {
  await tick();
  clearMocks();
});

type Numbers = { device_id: string; retention_days: number | null }[];
function server(settings = { retention_days: null as number | null, offline_grace_days: 3, numbers: [] as Numbers }) {
  const patches: unknown[] = [];
  mockIPC((cmd, args) => {
    if (cmd === "workspace_settings") return settings;
    if (cmd === "set_workspace_settings") {
      const patch = (args as { patch: typeof settings }).patch;
      patches.push(patch);
      settings = { ...settings, ...patch };
      return settings;
    }
  });
  const line: Device = { id: "d1", name: "Sales line", kind: "simulator", status: "connected", phone: "+15550100", last_seen_at: null };
  render(AdminPrivacy, { props: { devices: new Map([["d1", line]]) }, context: workspaceContext("main") });
  return patches;
}

const settle = async () => {
  for (let i = 0; i < 3; i++) await tick();
};

describe("Admin → Privacy", () => {
  it("shows the workspace's settings and saves a retention period, warning first", async () => {
    const patches = server();
    await settle();
    expect((screen.getByTestId("retention-keep") as HTMLInputElement).checked).toBe(true);
    expect((screen.getByTestId("privacy-save") as HTMLButtonElement).disabled).toBe(true);
    await fireEvent.click(screen.getByTestId("retention-limit"));
    await fireEvent.input(screen.getByTestId("retention-days"), { target: { value: "30" } });
    expect(screen.getByTestId("retention-warning").textContent).toContain("older than 30 days will be removed for good");
    await fireEvent.click(screen.getByTestId("privacy-save"));
    await settle();
    expect(patches).toEqual([{ retention_days: 30, offline_grace_days: 3, numbers: [] }]);
    expect(screen.getByText("Saved.")).toBeTruthy();
    expect(screen.queryByTestId("retention-warning")).toBeNull();
  });

  it("refuses a period out of range without asking the server", async () => {
    const patches = server({ retention_days: 90, offline_grace_days: 3, numbers: [] });
    await settle();
    expect((screen.getByTestId("retention-days") as HTMLInputElement).value).toBe("90");
    await fireEvent.input(screen.getByTestId("offline-grace"), { target: { value: "0" } });
    await fireEvent.click(screen.getByTestId("privacy-save"));
    expect(screen.getByRole("alert").textContent).toBe("The offline grace is 1 to 365 days.");
    expect(patches).toEqual([]);
  });
});

describe("Admin → Privacy: a number's own period", () => {
  it("lists each number, sends only the one changed, and empties back to the workspace's", async () => {
    const patches = server({ retention_days: null, offline_grace_days: 3, numbers: [{ device_id: "d1", retention_days: null }] });
    await settle();
    const table = screen.getByTestId("number-retention");
    expect(table.textContent).toContain("Sales line · +15550100");
    await fireEvent.input(screen.getByTestId("number-days"), { target: { value: "30" } });
    await fireEvent.click(screen.getByTestId("privacy-save"));
    await settle();
    expect(patches).toEqual([{ retention_days: null, offline_grace_days: 3, numbers: [{ device_id: "d1", retention_days: 30 }] }]);
    await fireEvent.input(screen.getByTestId("number-days"), { target: { value: "" } });
    await fireEvent.click(screen.getByTestId("privacy-save"));
    await settle();
    expect(patches[1]).toEqual({ retention_days: null, offline_grace_days: 3, numbers: [{ device_id: "d1", retention_days: null }] });
  });
});
