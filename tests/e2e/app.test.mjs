// The walking skeleton, end to end, in the real app: sign in, see a customer message arrive
// without reloading, claim it, reply, and find the reply in the simulator's sent list.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, api, startServer, waitFor } from "./webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/debug/handoff-desktop");
const PASSWORD = "correct horse battery";

let server;
let driver;
let admin;
let device;

before(async () => {
  const tmp = mkdtempSync(join(tmpdir(), "handoff-e2e-"));
  server = await startServer(root, join(tmp, "server"), {
    HANDOFF_ADMIN_EMAIL: "admin@e2e.local",
    HANDOFF_ADMIN_PASSWORD: PASSWORD,
  });
  const { token } = await api(server.url)("POST", "/api/v1/auth/login", { email: "admin@e2e.local", password: PASSWORD });
  admin = api(server.url, token);
  await admin("POST", "/api/v1/users", { email: "ana@e2e.local", name: "Ana Lima", password: PASSWORD, role: "agent" });
  device = await admin("POST", "/api/v1/devices", { name: "Support line", kind: "simulator" });
  await admin("POST", `/api/v1/devices/${device.id}/simulator/link`);
  driver = new Driver(root);
  // A private app-data and config folder: the app's cache and preferences start empty.
  await driver.start(APP, {
    XDG_DATA_HOME: join(tmp, "data"),
    XDG_CONFIG_HOME: join(tmp, "config"),
    HANDOFF_LOG_FILE: resolve(root, "target/e2e/app.log"),
    RUST_LOG: "debug,sqlx=warn,tao=info,wry=info",
  });
});

after(async () => {
  await driver?.stop();
  server?.child.kill("SIGTERM");
});

/** Runs a test body; on failure keeps a screenshot of what the window showed. */
const withScreenshot = (name, body) => async () => {
  try {
    await body();
  } catch (e) {
    await driver.screenshot(`${name}-failed`).catch(() => {});
    throw e;
  }
};

test("sign in, see a message arrive live, claim it, reply, and the simulator sends it once", withScreenshot("skeleton", async () => {
  await waitFor(() => driver.find("#server"), "the sign-in form");
  await driver.typeOver("#server", server.url);
  await driver.typeOver("#email", "ana@e2e.local");
  await driver.typeOver("#password", PASSWORD);
  await driver.click("#sign-in");
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online");
  await driver.screenshot("01-signed-in");

  // A customer writes; the row appears without any reload.
  await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, {
    from: "+4915112345678",
    name: "Lena Hoffmann",
    body: "Hi! My order #4821 hasn't arrived yet.",
  });
  const row = "[data-testid=conversation-row]";
  await waitFor(async () => (await driver.innerText(`${row} .preview`))?.includes("order #4821"), "the conversation in the queue");
  await driver.click(`${row} button`);
  await waitFor(async () => (await driver.text("[data-testid=thread] h2")) === "Lena Hoffmann", "the thread");
  await driver.screenshot("02-thread");

  await driver.click("[data-testid=claim]");
  await waitFor(async () => (await driver.text("[data-testid=assignee]")).includes("You"), "claimed by me");

  const reply = "Sorry about that, Lena! It left our warehouse today.";
  await driver.type("[data-testid=composer-input]", reply);
  await driver.click("[data-testid=send]");
  const sent = await waitFor(async () => {
    const page = await admin("GET", `/api/v1/devices/${device.id}/simulator/sent`);
    return page.items.length > 0 && page.items;
  }, "the reply at the simulator");
  assert.equal(sent.length, 1);
  assert.equal(sent[0].body, reply);
  assert.equal(sent[0].to, "+4915112345678");
  await waitFor(async () => {
    const bubbles = await driver.findAll("[data-kind=outbound] .ticks");
    return bubbles.length === 1 && (await driver.text("[data-kind=outbound] .body")) === reply;
  }, "the reply in the thread");
  await driver.screenshot("03-replied");

  // An internal note: amber, marked as internal, and never sent to WhatsApp.
  for (const [from, name, body] of [
    ["+447700900123", "Oliver Smith", "Can I change the delivery address for my order?"],
    ["+33612345678", "Camille Martin", "Is the blue version back in stock?"],
  ]) {
    await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, { from, name, body });
  }
  await driver.click("[data-testid=mode-note]");
  const note = "Customer ordered twice last month: check with the warehouse before promising a date.";
  await driver.type("[data-testid=composer-input]", note);
  await driver.click("[data-testid=send]");
  await waitFor(async () => (await driver.innerText("[data-kind=note] .body")) === note, "the note in the thread");
  assert.match(await driver.innerText("[data-kind=note] .note-head"), /Internal note · only your team sees this/);
  await driver.click("[data-view=all]");
  await waitFor(async () => (await driver.findAll("[data-testid=conversation-row]")).length === 3, "three conversations");
  await driver.screenshot("04-note");
  const after = await admin("GET", `/api/v1/devices/${device.id}/simulator/sent`);
  assert.equal(after.items.length, 1, "the note reached WhatsApp");
}));
