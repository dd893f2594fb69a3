import { afterEach, describe, expect, it } from "vitest";
import { fireEvent, render, screen } from "@testing-library/svelte";
import { tick } from "svelte";
import { clearMocks, mockIPC } from "@tauri-apps/api/mocks";
import type { Webhook, WebhookDelivery } from "../types";
import AdminWebhooks from "./AdminWebhooks.svelte";
import { workspaceContext } from "../stores/workspace.svelte";

afterEach(async () => {
  await tick();
  clearMocks();
});

const settle = async () => {
  for (let i = 0; i < 4; i++) await tick();
};

const hook = (over: Partial<Webhook> = {}): Webhook => ({
  id: "w1",
  url: "https://crm.example.com/hooks/handoff",
  events: ["message.received"],
  status: "active",
  failing_since: null,
  paused_at: null,
  created_by: "u1",
  created_at: "2026-12-08T09:00:00.000000Z",
  ...over,
});

const delivery = (over: Partial<WebhookDelivery> = {}): WebhookDelivery => ({
  id: "d1",
  webhook_id: "w1",
  type: "message.received",
  seq: 7,
  conversation_id: "c1",
  status: "failed",
  attempts: 20,
  created_at: "2026-12-07T09:00:00.000000Z",
  next_attempt_at: null,
  last_attempt_at: "2026-12-08T09:00:00.000000Z",
  status_code: 503,
  latency_ms: 12,
  error: "answered 503 Service Unavailable",
  response: "down for maintenance",
  delivered_at: null,
  body: "{}",
  ...over,
});

/** A server with `hooks`; records every command the screen sends. */
function server(hooks: Webhook[], log: WebhookDelivery[] = []) {
  const calls: { cmd: string; args: Record<string, unknown> }[] = [];
  mockIPC((cmd, args) => {
    const a = args as Record<string, unknown>;
    calls.push({ cmd, args: a });
    if (cmd === "webhooks") return hooks;
    if (cmd === "create_webhook") {
      const req = a.req as { url: string; events: Webhook["events"] };
      const created = hook({ id: "w2", url: req.url, events: req.events });
      hooks = [...hooks, created];
      return { ...created, secret: "whsec_shown_once" };
    }
    if (cmd === "patch_webhook") {
      const req = a.req as { status: Webhook["status"] };
      hooks = hooks.map((h) => (h.id === a.id ? { ...h, status: req.status, paused_at: null, failing_since: null } : h));
      return hooks.find((h) => h.id === a.id);
    }
    if (cmd === "webhook_deliveries") return { items: log, next_cursor: null };
    if (cmd === "retry_webhook_delivery") return { ...log[0], status: "pending", next_attempt_at: "2026-12-08T10:00:00.000000Z" };
    if (cmd === "delete_webhook") {
      hooks = hooks.filter((h) => h.id !== a.id);
      return null;
    }
  });
  render(AdminWebhooks, { context: workspaceContext("main") });
  return calls;
}

describe("Admin → Webhooks", () => {
  it("adds an endpoint with the events chosen and shows its secret once", async () => {
    const calls = server([]);
    await settle();
    expect(screen.getByTestId("webhooks").textContent).toContain("No webhooks yet.");
    await fireEvent.input(screen.getByTestId("webhook-url"), { target: { value: "https://crm.example.com/in" } });
    await fireEvent.click(screen.getByLabelText("Internal note added"));
    await fireEvent.submit(screen.getByTestId("add-webhook"));
    await settle();
    const create = calls.find((c) => c.cmd === "create_webhook");
    expect(create?.args.req).toEqual({
      url: "https://crm.example.com/in",
      events: ["message.received", "conversation.assigned", "conversation.resolved", "note.created"],
    });
    expect(screen.getByTestId("webhook-secret").textContent).toBe("whsec_shown_once");
    expect(screen.getByTestId("webhooks").textContent).toContain("https://crm.example.com/in");
    await fireEvent.click(screen.getByText("Done"));
    expect(screen.queryByTestId("webhook-secret")).toBeNull();
  });

  it("says a paused endpoint is paused, resumes it, and sends a given-up delivery again", async () => {
    const calls = server([hook({ status: "paused", paused_at: "2026-12-08T09:00:00.000000Z", failing_since: "2026-12-07T09:00:00.000000Z" })], [delivery()]);
    await settle();
    expect(screen.getByTestId("webhook-state").textContent).toContain("Paused");
    await fireEvent.click(screen.getByTestId("show-deliveries"));
    await settle();
    const row = screen.getByTestId("delivery-row");
    expect(row.textContent).toContain("Given up");
    expect(row.textContent).toContain("503");
    expect(row.textContent).toContain("down for maintenance");
    expect(screen.queryByTestId("send-again"), "not while paused").toBeNull();
    await fireEvent.click(screen.getByText("Resume"));
    await settle();
    expect(calls.find((c) => c.cmd === "patch_webhook")?.args.req).toEqual({ url: null, events: null, status: "active" });
    expect(screen.getByTestId("webhook-state").textContent).toBe("Active");
    await fireEvent.click(screen.getByTestId("send-again"));
    await settle();
    expect(calls.find((c) => c.cmd === "retry_webhook_delivery")?.args).toMatchObject({ id: "w1", delivery: "d1" });
    expect(screen.getByTestId("delivery-outcome").textContent).toContain("Retrying");
  });

  it("deletes only on the second click", async () => {
    const calls = server([hook()]);
    await settle();
    await fireEvent.click(screen.getByText("Delete"));
    expect(calls.some((c) => c.cmd === "delete_webhook")).toBe(false);
    await fireEvent.click(screen.getByText("Delete, with its log?"));
    await settle();
    expect(calls.some((c) => c.cmd === "delete_webhook")).toBe(true);
    expect(screen.getByTestId("webhooks").textContent).toContain("No webhooks yet.");
  });
});
