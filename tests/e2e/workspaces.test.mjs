// An agency agent in the real app, in three workspaces on two servers: Ana is in Main and
// Retail on Acme's server and in Main on Bloom's. Messages, replies and counts stay in their
// workspace; one in the background is notified under its name, and its link opens it there;
// after a restart all three open again.
import { spawn } from "node:child_process";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, api, screenshotOnFailure, startTeam, unlockedKeyring, waitFor, watchNotifications } from "./webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/debug/handoff-desktop");
const PASSWORD = "correct horse battery";
const APP_LOG = resolve(root, "target/e2e/workspaces-app.log");

let acme; // { server, admin, device }: the workspace Main on Acme's server
let retail; // { admin, device, id }: the workspace Retail on Acme's server
let bloom; // { server, admin, device }: Main on Bloom's server
let driver;
let appEnv;
let notifications;

before(async () => {
  const tmp = mkdtempSync(join(tmpdir(), "handoff-e2e-ws-"));
  acme = await startTeam(root, join(tmp, "acme"), "acme.local", PASSWORD);
  bloom = await startTeam(root, join(tmp, "bloom"), "bloom.local", PASSWORD);
  // A second workspace on Acme's server, made by its owner, with a number of its own; Ana joins it.
  const made = await acme.admin("POST", "/api/v1/workspaces", { name: "Retail" });
  const { token } = await api(acme.server.url)("POST", "/api/v1/auth/login", { email: "admin@acme.local", password: PASSWORD, workspace_id: made.id });
  const admin = api(acme.server.url, token);
  const device = await admin("POST", "/api/v1/devices", { name: "Retail line", kind: "simulator" });
  await admin("POST", `/api/v1/devices/${device.id}/simulator/link`);
  await admin("POST", `/api/v1/workspaces/${made.id}/members`, { email: "ana@acme.local", role: "agent" });
  retail = { admin, device, id: made.id };

  notifications = await watchNotifications(root);
  mkdirSync(join(tmp, "home"), { recursive: true });
  await unlockedKeyring(join(tmp, "keyring"));
  driver = new Driver(root);
  appEnv = {
    XDG_DATA_HOME: join(tmp, "data"),
    XDG_CONFIG_HOME: join(tmp, "config"),
    HOME: join(tmp, "home"),
    HANDOFF_LOG_FILE: APP_LOG,
    RUST_LOG: "debug,sqlx=warn,tao=info,wry=info",
  };
  await driver.start(APP, appEnv);
});

after(async () => {
  notifications?.stop();
  await driver?.stop();
  acme?.server.child.kill("SIGTERM");
  bloom?.server.child.kill("SIGTERM");
});

const withScreenshot = screenshotOnFailure(() => driver, APP_LOG);

// The workspaces' keys in the app: the first signed in to keeps the files of an app from before
// workspaces ("main"); the others get the next free key.
const ACME = "main";
const RETAIL = "w2";
const BLOOM = "w3";
const ws = (key) => `[data-testid=workspace][data-key=${key}]`;
const count = async (key, which) => driver.innerText(`${ws(key)} [data-testid=workspace-${which}]`);
const onScreen = async (key) => (await driver.js(`return document.querySelector('${ws(key)}')?.getAttribute('aria-selected')`)) === "true";
const rows = async () => (await driver.innerText("[data-testid=queue]").catch(() => "")) ?? "";
const host = (server) => new URL(server.url).host;

/** Everything a simulator number sent, by body. */
async function sent(admin, device) {
  return (await admin("GET", `/api/v1/devices/${device.id}/simulator/sent`)).items.map((s) => s.body);
}

/** Opens `contact`'s row in the queue on screen. */
async function openRow(contact) {
  const click = () =>
    driver.js(
      "for (const r of document.querySelectorAll('[data-testid=conversation-row]')) { if (r.innerText.includes(arguments[0])) { r.querySelector('button').click(); return true; } } return false;",
      contact,
    );
  await waitFor(click, `${contact}'s conversation in the queue`);
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === contact, `${contact}'s thread`);
}

/** Claims the open conversation and replies; waits for the reply at `device`'s simulator. */
async function claimAndReply(admin, device, body) {
  await driver.click("[data-testid=claim]");
  await waitFor(async () => (await driver.text("[data-testid=assignee]")).includes("You"), "claimed by me");
  await driver.type("[data-testid=composer-input]", body);
  await driver.click("[data-testid=send]");
  await waitFor(async () => (await sent(admin, device)).includes(body), `"${body}" at the simulator`);
}

/** Fills the sign-in form (the first screen, or Add a workspace) and submits it. */
async function signIn(server, email) {
  await waitFor(async () => (await driver.js("return document.activeElement?.id")) === "email", "the sign-in form, focused");
  await driver.typeOver("#server", server.url);
  await driver.typeOver("#email", email);
  await driver.typeOver("#password", PASSWORD);
  await driver.click("#sign-in");
}

/** The app's sessions of `email` on `server` (the desktop app names itself in its User-Agent). */
async function appSessions(server, email) {
  const { token } = await api(server.url)("POST", "/api/v1/auth/login", { email, password: PASSWORD });
  const mine = api(server.url, token);
  const { items } = await mine("GET", "/api/v1/me/sessions");
  await mine("POST", "/api/v1/auth/logout");
  return items.filter((s) => /Handoff-Desktop/.test(s.client ?? "")).length;
}

test("an account in two workspaces of a server is offered the other at sign-in; a workspace on another server is added beside them", withScreenshot("ws-sign-in", async () => {
  // At first only Main: the other is left for later.
  await signIn(acme.server, "ana@acme.local");
  await waitFor(async () => (await driver.innerText("[data-testid=pick-workspaces]"))?.includes("Retail"), "the other workspace offered");
  await driver.screenshot("ws-01-pick");
  await driver.click("[data-testid=pick-workspaces] input[type=checkbox]");
  await driver.click("[data-testid=pick-workspaces] button.primary");
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online in Main");
  assert.equal((await driver.findAll("[data-testid=workspace]")).length, 1);

  // Add a workspace, the same server and account: Main stays as it is (its new session is
  // ended at once), and Retail is offered again.
  await driver.click("[data-testid=add-workspace-button]");
  await signIn(acme.server, "ana@acme.local");
  await waitFor(async () => (await driver.innerText("[data-testid=pick-workspaces]"))?.includes("Retail"), "Retail offered again");
  await driver.click("[data-testid=pick-workspaces] button.primary");
  await waitFor(async () => (await driver.findAll("[data-testid=workspace]")).length === 2, "two workspaces in the switcher");
  await waitFor(() => onScreen(ACME), "Main on screen");
  assert.equal(await appSessions(acme.server, "ana@acme.local"), 2, "one session per workspace in the app, none left over");

  // Bloom's server, from "Add a workspace": another server, another account.
  await driver.click("[data-testid=add-workspace-button]");
  await signIn(bloom.server, "ana@bloom.local");
  await waitFor(async () => (await driver.findAll("[data-testid=workspace]")).length === 3, "three workspaces in the switcher");
  await waitFor(() => onScreen(BLOOM), "the added one on screen");
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online in Bloom's Main");
  // Both servers' first workspace is "Main": the switcher tells them apart by their server.
  const shown = async (key) => [await driver.innerText(`${ws(key)} [data-testid=workspace-name]`), await driver.innerText(`${ws(key)} [data-testid=workspace-server]`).catch(() => null)];
  assert.deepEqual(await shown(ACME), ["Main", host(acme.server)]);
  assert.deepEqual(await shown(RETAIL), ["Retail", null]);
  assert.deepEqual(await shown(BLOOM), ["Main", host(bloom.server)]);
}));

test("a customer message in each workspace reaches that one only, each reply goes out through its own number, and the counts are each one's", withScreenshot("ws-messages", async () => {
  await acme.admin("POST", `/api/v1/devices/${acme.device.id}/simulator/inbound`, { from: "+4915112345678", name: "Lena Hoffmann", body: "Acme: where is order #4821?" });
  await bloom.admin("POST", `/api/v1/devices/${bloom.device.id}/simulator/inbound`, { from: "+34600111222", name: "Marta Ruiz", body: "Bloom: can I change my bouquet?" });
  await waitFor(async () => (await count(ACME, "waiting")) === "1", "one waiting in Acme's Main");
  await waitFor(async () => (await count(BLOOM, "waiting")) === "1", "one waiting in Bloom's Main");
  assert.equal(await count(RETAIL, "waiting"), "0");

  // Bloom's Main is on screen: Marta, and not Lena.
  await openRow("Marta Ruiz");
  assert.doesNotMatch(await rows(), /Lena/);
  await claimAndReply(bloom.admin, bloom.device, "Bloom: yes, until 5 pm today.");
  await waitFor(async () => (await count(BLOOM, "mine")) === "1", "one mine in Bloom's Main");

  // Ctrl+1: Acme's Main. Lena, and not Marta.
  await driver.keys("\uE009", "1");
  await waitFor(() => onScreen(ACME), "Acme's Main on screen");
  await openRow("Lena Hoffmann");
  assert.doesNotMatch(await rows(), /Marta/);
  await claimAndReply(acme.admin, acme.device, "Acme: it left our warehouse today.");
  await waitFor(async () => (await count(ACME, "mine")) === "1", "one mine in Acme's Main");
  await driver.screenshot("ws-02-two-workspaces");

  // Nothing crossed: each number sent its own reply only; Retail got nothing; Acme's search
  // knows no Marta.
  assert.deepEqual(await sent(acme.admin, acme.device), ["Acme: it left our warehouse today."]);
  assert.deepEqual(await sent(bloom.admin, bloom.device), ["Bloom: yes, until 5 pm today."]);
  assert.deepEqual(await sent(retail.admin, retail.device), []);
  assert.equal((await retail.admin("GET", "/api/v1/conversations")).items.length, 0);
  await driver.type("[data-testid=search]", "Marta");
  await waitFor(async () => (await driver.innerText("[data-testid=search-results]"))?.includes("Nothing"), "Acme's search finds no Marta");
  await driver.type("[data-testid=search]", "\uE00C");
}));

test("a customer message in a workspace in the background is notified under its name, and its link opens it there", withScreenshot("ws-background", async () => {
  await driver.keys("\uE009", "3");
  await waitFor(() => onScreen(BLOOM), "Bloom's Main on screen");
  const before = notifications.summaries().length;
  await acme.admin("POST", `/api/v1/devices/${acme.device.id}/simulator/inbound`, { from: "+4915112345678", name: "Lena Hoffmann", body: "Acme: thanks, and the invoice?" });
  const summary = `Main (${host(acme.server)}) · New message from Lena Hoffmann`;
  await waitFor(() => notifications.summaries().slice(before).includes(summary), "the notification, named by its workspace");

  // Its link (what Open does, and a link pasted in a chat): the app comes to Acme's Main, on Lena.
  const lena = (await acme.admin("GET", "/api/v1/conversations")).items.find((c) => c.contact.name === "Lena Hoffmann");
  const second = spawn(APP, [`handoff://conversation/${lena.id}`], { env: { ...process.env, ...appEnv, HANDOFF_LOG_FILE: `${APP_LOG}.second` }, stdio: "ignore" });
  assert.equal(await new Promise((res) => second.once("exit", res)), 0, "the second launch exits");
  await waitFor(() => onScreen(ACME), "Acme's Main on screen, from the link");
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Lena Hoffmann", "Lena's thread");
  await driver.screenshot("ws-03-from-the-link");
}));

test("after a restart the three workspaces open signed in, the one last on screen first", withScreenshot("ws-restart", async () => {
  await driver.stop();
  await driver.start(APP, appEnv);
  await waitFor(async () => (await driver.findAll("[data-testid=workspace]")).length === 3, "three workspaces again");
  await waitFor(() => onScreen(ACME), "Acme's Main on screen");
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online");
  for (const key of [ACME, RETAIL, BLOOM]) {
    await waitFor(async () => /online/.test(await driver.js(`return document.querySelector('${ws(key)}').getAttribute('aria-label')`)), `${key} online`);
  }
  assert.equal(await count(BLOOM, "mine"), "1");
  assert.equal((await driver.findAll("#password")).length, 0, "no sign-in form");
  await driver.screenshot("ws-04-restarted");
}));
