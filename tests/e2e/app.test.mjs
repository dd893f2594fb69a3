// The walking skeleton, end to end, in the real app: sign in, see a customer message arrive
// without reloading, claim it, reply, and find the reply in the simulator's sent list.
import { execFileSync, spawn } from "node:child_process";
import { createHmac, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, api, screenshotOnFailure, startServer, startTeam, unlockedKeyring, waitFor, watchNotifications } from "./webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/debug/handoff-desktop");
const PASSWORD = "correct horse battery";
const APP_LOG = resolve(root, "target/e2e/app.log");

let server;
let serverDir;
let driver;
let appEnv; // the app's environment, kept for restarting it
let notifications; // what reaches the notification server, as dbus-monitor prints it
let admin;
let device;
let ben;
let downloads; // the app's Downloads folder

before(async () => {
  const tmp = mkdtempSync(join(tmpdir(), "handoff-e2e-"));
  serverDir = join(tmp, "server");
  ({ server, admin, device } = await startTeam(root, serverDir, "e2e.local", PASSWORD));
  ben = await admin("POST", "/api/v1/users", { email: "ben@e2e.local", name: "Ben Ortiz", password: PASSWORD, role: "agent" });
  notifications = await watchNotifications(root);
  // The app's Downloads folder, as the desktop's user-dirs file names it.
  downloads = join(tmp, "Downloads");
  mkdirSync(join(tmp, "config"), { recursive: true });
  mkdirSync(join(tmp, "home"), { recursive: true });
  writeFileSync(join(tmp, "config", "user-dirs.dirs"), `XDG_DOWNLOAD_DIR="${downloads}"\n`);
  // A real keyring, as on a desktop: the app keeps its session token there.
  await unlockedKeyring(join(tmp, "keyring"));
  driver = new Driver(root);
  // A private app-data and config folder: the app's cache and preferences start empty.
  appEnv = {
    XDG_DATA_HOME: join(tmp, "data"),
    XDG_CONFIG_HOME: join(tmp, "config"),
    // A home of its own too: what ignores the XDG folders (the autostart entry) stays in it.
    HOME: join(tmp, "home"),
    HANDOFF_LOG_FILE: APP_LOG,
    RUST_LOG: "debug,sqlx=warn,tao=info,wry=info",
  };
  await driver.start(APP, appEnv);
});

after(async () => {
  notifications?.stop();
  await driver?.stop();
  server?.child.kill("SIGTERM");
});

/** A test body that, on failure, keeps a screenshot and tells what the window and the app log said. */
const withScreenshot = screenshotOnFailure(() => driver, APP_LOG);

/** Opens `contact`'s conversation from the queue on screen, waiting for its row to be there. */
async function openRow(contact) {
  const click = () =>
    driver.js(
      "for (const r of document.querySelectorAll('[data-testid=conversation-row]')) { if (r.innerText.includes(arguments[0])) { r.querySelector('button').click(); return true; } } return false;",
      contact,
    );
  await waitFor(click, `${contact}'s conversation in the queue`);
}

/** Writes an internal note in the open conversation while offline; waits for its queued mark. */
async function queueNote(text) {
  await driver.click("[data-testid=mode-note]");
  await driver.type("[data-testid=composer-input]", text);
  await driver.click("[data-testid=send]");
  await waitFor(async () => (await driver.innerText("[data-kind=note] .queued-label")) === "sends when online", "the note queued");
}

/** Waits until the server holds messages with `body` in `contact`'s conversation; returns them. */
async function onServer(contact, body, what) {
  const conversation = (await admin("GET", "/api/v1/conversations")).items.find((c) => c.contact.name === contact);
  return waitFor(async () => {
    const page = await admin("GET", `/api/v1/conversations/${conversation.id}/messages`);
    const found = page.items.filter((m) => m.body === body);
    return found.length > 0 && found;
  }, what);
}

test("sign in, see a message arrive live, claim it, reply, and the simulator sends it once", withScreenshot("skeleton", async () => {
  await driver.signIn(server.url, "ana@e2e.local", PASSWORD);
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
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Lena Hoffmann", "the thread");
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

test("a scripted teammate starts typing in the open conversation and the app shows it within 1 s", withScreenshot("typing", async () => {
  const conversations = await admin("GET", "/api/v1/conversations");
  const lena = conversations.items.find((c) => c.contact.name === "Lena Hoffmann");
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Lena Hoffmann", "Lena's thread open");
  const agent = spawn(resolve(root, "target/debug/scripted-agent"), [server.url, "ben@e2e.local", PASSWORD, lena.id], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  try {
    const typingAt = await new Promise((res, rej) => {
      let out = "";
      agent.stdout.on("data", (d) => {
        out += d;
        const m = out.match(/typing (\d+)/);
        if (m) res(Number(m[1]));
      });
      agent.on("exit", (code) => rej(new Error(`scripted agent exited with ${code}: ${out}`)));
    });
    await waitFor(async () => (await driver.innerText(".collision"))?.includes("Ben Ortiz is typing a reply…"), "the typing line", 5000);
    const shownAfter = Date.now() - typingAt;
    console.log(`typing shown ${shownAfter} ms after the teammate started`);
    assert.ok(shownAfter < 1000, `typing took ${shownAfter} ms to show`);
    await driver.screenshot("05-typing");
  } finally {
    agent.stdin.end();
  }
  await waitFor(async () => !(await driver.innerText(".collision"))?.includes("typing"), "the typing line gone after Ben left");

  // Ben mentions Ana in a note: the app raises a native notification with the Rust notifier.
  const { token } = await api(server.url)("POST", "/api/v1/auth/login", { email: "ben@e2e.local", password: PASSWORD });
  await api(server.url, token)("POST", `/api/v1/conversations/${lena.id}/notes`, { body: "@ana the courier called back" });
  await waitFor(() => notifications.summaries().includes("Ben Ortiz mentioned you: Lena Hoffmann"), "the native notification");
}));

test("escalate with an @mention: a scripted teammate finds it in the team queue with the note on top", withScreenshot("escalate", async () => {
  const billing = await admin("POST", "/api/v1/teams", { name: "Billing", first_response_secs: 1800, resolution_secs: 86400 });
  await admin("PUT", `/api/v1/teams/${billing.id}/members`, { user_ids: [ben.id] });
  // The team shows up in the rail without a reload.
  await waitFor(async () => (await driver.findAll("[data-view=team][data-team=Billing]")).length === 1, "the team in the rail");

  // Lena's conversation is the one Ana claimed in the first test.
  await driver.click("[data-view=mine]");
  await waitFor(async () => (await driver.innerText("[data-testid=conversation-row] .name")) === "Lena Hoffmann", "Lena in Mine");
  await driver.click("[data-testid=conversation-row] button");
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Lena Hoffmann", "Lena's thread");

  await driver.click("[data-testid=escalate]");
  await waitFor(() => driver.find("[data-testid=escalate-note]"), "the escalate dialog");
  await driver.type("[data-testid=escalate-note]", "@b");
  await waitFor(async () => (await driver.innerText(".suggestions"))?.includes("Ben Ortiz"), "the mention suggestion");
  await driver.screenshot("06-mention");
  await driver.click(".suggestions button");
  await driver.type("[data-testid=escalate-note]", "double charge on 3 Nov, please refund one.");
  const note = "@ben double charge on 3 Nov, please refund one.";
  assert.equal(await driver.js("return document.querySelector('[data-testid=escalate-note]').value"), note);
  await driver.click("[data-testid=escalate-submit]");
  // The dialog closes once the escalation is queued; a click before then lands on its backdrop.
  await waitFor(async () => (await driver.findAll("[data-testid=escalate-note]")).length === 0, "the dialog closed");

  await driver.click("[data-view=team][data-team=Billing]");
  await waitFor(async () => (await driver.innerText("[data-testid=conversation-row] .name")) === "Lena Hoffmann", "Lena in Billing's queue");
  await driver.click("[data-testid=conversation-row] button");
  await waitFor(async () => (await driver.innerText("[data-testid=escalation-note] .body")) === note, "the note pinned on top");
  assert.equal(await driver.innerText("[data-testid=team]"), "Billing");
  await driver.screenshot("07-escalated");

  // Ben, scripted over the public API, finds it unowned in Billing's queue with the note.
  const { token } = await api(server.url)("POST", "/api/v1/auth/login", { email: "ben@e2e.local", password: PASSWORD });
  const asBen = api(server.url, token);
  const queue = await waitFor(async () => {
    const page = await asBen("GET", `/api/v1/conversations?team=${billing.id}&assignee=none`);
    return page.items.length === 1 && page.items;
  }, "the conversation in Billing's queue");
  assert.equal(queue[0].contact.name, "Lena Hoffmann");
  const messages = await asBen("GET", `/api/v1/conversations/${queue[0].id}/messages`);
  const pinned = messages.items.find((m) => m.id === queue[0].escalation_note_id);
  assert.equal(pinned?.body, note);
  assert.equal(pinned?.kind, "note");
  assert.ok(queue[0].first_response_due_at, "Billing's SLA gives it a due time");
}));

test("offline: the banner says since when, search and notes work from the cache, and the note syncs once back", withScreenshot("offline", async () => {
  // The server dies (SIGKILL: no goodbye to the app).
  const exited = new Promise((res) => server.child.once("exit", res));
  server.child.kill("SIGKILL");
  await exited;
  await waitFor(async () => /^Offline since \d\d:\d\d/.test((await driver.innerText("[data-testid=offline-banner]")) ?? ""), "the offline banner", 15000);

  // Search answers from the local index: the reply and the note of the first test.
  await driver.click("[data-testid=search]");
  await driver.type("[data-testid=search]", "wareh");
  await waitFor(async () => (await driver.findAll("[data-testid=search-message]")).length === 2, "two messages found offline");
  const marks = await driver.js("return [...document.querySelectorAll('[data-testid=search-message] mark')].map((m) => m.textContent)");
  assert.deepEqual(marks.map((m) => m.toLowerCase()), ["warehouse", "warehouse"]);
  await driver.screenshot("10-offline-search");

  // Open Oliver's conversation from a contact hit and write a note: it waits, marked as such.
  await driver.typeOver("[data-testid=search]", "Oliver");
  await waitFor(async () => (await driver.innerText("[data-testid=search-contact] .name")) === "Oliver Smith", "Oliver found");
  await driver.click("[data-testid=search-contact]");
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Oliver Smith", "Oliver's thread");
  const note = "Called Oliver: the new address is confirmed.";
  await queueNote(note);
  // And a reply, written to what Ana sees now.
  await driver.click("[data-testid=mode-reply]");
  const reply = "Done: your order will go to the new address.";
  await driver.type("[data-testid=composer-input]", reply);
  await driver.click("[data-testid=send]");
  await waitFor(async () => (await driver.innerText("[data-kind=outbound] .queued-label")) === "sends when online", "the reply queued");
  await driver.screenshot("11-offline-note");

  // The server comes back on the same address and data, and Oliver writes again before the app
  // is back: the app reconnects by itself, sends the note once, and does not send the reply blind.
  server = await startServer(root, serverDir, {}, new URL(server.url).host);
  await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, {
    from: "+447700900123",
    name: "Oliver Smith",
    body: "Actually, hold it: I will be away next week.",
  });
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online again", 40000);
  assert.equal(await driver.findAll("[data-testid=offline-banner]").then((b) => b.length), 0, "the banner is gone");
  const notes = await onServer("Oliver Smith", note, "the note on the server");
  assert.equal(notes.length, 1);
  await waitFor(async () => !(await driver.innerText("[data-kind=note] .queued-label")), "the note no longer queued");

  // The reply waits in Needs attention; opening it shows what changed, and Send anyway sends it once.
  await waitFor(async () => (await driver.innerText("[data-testid=attention-item]"))?.includes(reply), "the reply in Needs attention");
  assert.match(await driver.innerText("[data-testid=attention]"), /Needs attention \(1\)/);
  await driver.screenshot("12-needs-attention");
  // Oliver's thread is open: the refusal is there already, the reply back in the composer.
  await waitFor(async () => (await driver.js("return document.querySelector('[data-testid=composer-input]').value")) === reply, "the reply back in the composer");
  await driver.click("[data-testid=attention-item]");
  await waitFor(async () => (await driver.innerText("[data-testid=refusal]"))?.includes("New customer message"), "what changed");
  assert.equal(await driver.js("return document.querySelector('[data-testid=composer-input]').value"), reply);
  await driver.click("[data-testid=refusal] button.primary");
  const sent = await waitFor(async () => {
    const page = await admin("GET", `/api/v1/devices/${device.id}/simulator/sent`);
    const found = page.items.filter((s) => s.body === reply);
    return found.length > 0 && found;
  }, "the reply at the simulator");
  assert.equal(sent.length, 1);
  await waitFor(async () => (await driver.findAll("[data-testid=attention]")).length === 0, "Needs attention empty");
  await driver.type("[data-testid=search]", "\uE00C"); // Escape clears the search
  await waitFor(async () => (await driver.findAll("[data-testid=search-results]")).length === 0, "the search closed");
}));

test("a note the server refused is reviewed as a note, saved again only as one, and never reaches WhatsApp", withScreenshot("refused-note", async () => {
  // WebSocket sessions the server has opened: a reconnect of the app adds one.
  const sessions = async () => Number((await (await fetch(`${server.url}/metrics`)).text()).match(/^handoff_ws_sessions_total (\d+)$/m)[1]);
  const reconnected = async (since, what) =>
    waitFor(async () => (await sessions()) > since && (await driver.text("[data-testid=connection-state]")) === "Online", what, 20000);
  const ana = (await admin("GET", "/api/v1/users")).items.find((u) => u.email === "ana@e2e.local");

  // Ana becomes a Viewer while her app is open: the server closes her connection and she
  // reconnects as one, so the note she writes next is refused (and kept in Needs attention).
  let before = await sessions();
  await admin("PATCH", `/api/v1/users/${ana.id}`, { role: "viewer" });
  await reconnected(before, "Ana reconnected as a Viewer");
  await driver.click("[data-testid=search]");
  await driver.type("[data-testid=search]", "Oliver");
  await waitFor(async () => (await driver.innerText("[data-testid=search-contact] .name")) === "Oliver Smith", "Oliver found");
  await driver.click("[data-testid=search-contact]");
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Oliver Smith", "Oliver's thread");
  await driver.type("[data-testid=search]", "\uE00C");
  await driver.click("[data-testid=mode-note]");
  const note = "Internal only: Oliver is on the VIP refund list.";
  await driver.type("[data-testid=composer-input]", note);
  await driver.click("[data-testid=send]");
  await waitFor(async () => (await driver.innerText("[data-testid=attention-item]"))?.includes(note), "the note in Needs attention");
  assert.match(await driver.innerText("[data-testid=attention-item]"), /Note not saved/);

  // Reviewed, it comes back as a note: the note draft holds it, the reply draft does not, and
  // from the reply tab the panel offers no way to send.
  await driver.click("[data-testid=attention-item]");
  await waitFor(async () => (await driver.innerText("[data-testid=refusal]"))?.startsWith("Note not saved"), "the refusal, as a note");
  assert.equal(await driver.js("return document.querySelector('[data-testid=refusal]').dataset.op"), "note");
  assert.equal(await driver.js("return document.querySelector('[data-testid=composer-input]').value"), note);
  assert.doesNotMatch(await driver.innerText("[data-testid=refusal]"), /Send anyway/);
  await driver.screenshot("13-refused-note");
  await driver.click("[data-testid=mode-reply]");
  await waitFor(async () => (await driver.js("return document.querySelector('[data-testid=composer-input]').value")) === "", "an empty reply draft");
  assert.equal((await driver.findAll("[data-testid=resend]")).length, 0, "no resend from the reply tab");

  // Her role is given back; "Save note again" saves it as a note, once, and WhatsApp gets nothing.
  before = await sessions();
  await admin("PATCH", `/api/v1/users/${ana.id}`, { role: "agent" });
  await reconnected(before, "Ana reconnected as an Agent");
  await driver.click("[data-testid=back-to-refused]");
  await waitFor(async () => (await driver.findAll("[data-testid=resend]")).length === 1, "back to the note");
  await driver.click("[data-testid=resend]");
  const saved = await onServer("Oliver Smith", note, "the note on the server");
  assert.deepEqual(saved.map((m) => m.kind), ["note"]);
  await waitFor(async () => (await driver.findAll("[data-testid=attention]")).length === 0, "Needs attention empty");
  const sent = await admin("GET", `/api/v1/devices/${device.id}/simulator/sent`);
  assert.equal(sent.items.filter((s) => s.body === note).length, 0, "the note never reached WhatsApp");
}));

test("an Admin sees the dashboard and tries a routing rule", withScreenshot("admin", async () => {
  await admin("POST", "/api/v1/routing-rules", {
    name: "Refunds",
    match: { keyword: "refund" },
    assign: { team_id: (await admin("GET", "/api/v1/teams")).items[0].id },
  });
  await driver.click("button.signout");
  await driver.signIn(server.url, "admin@e2e.local", PASSWORD, "online as Admin");

  await driver.click("[data-screen=dashboard]");
  await waitFor(async () => (await driver.innerText("[data-testid=tile-open]")) === "3", "three open conversations");
  await waitFor(async () => (await driver.innerText("[data-testid=at-risk]"))?.includes("Lena Hoffmann"), "Lena's SLA clock");
  await waitFor(async () => (await driver.findAll("[data-testid=dashboard] canvas")).length === 3, "three charts");
  await driver.screenshot("08-dashboard");

  await driver.click("[data-screen=admin]");
  await driver.click("[data-tab=rules]");
  await waitFor(async () => (await driver.innerText("[data-testid=rules-table]"))?.includes("Refunds"), "the rule");
  await driver.typeOver("[data-testid=try-body]", "I would like a REFUND please");
  await driver.click("[data-testid=try-form] button[type=submit]");
  await waitFor(async () => (await driver.innerText("[data-testid=rule-verdict]"))?.includes("“Refunds” matches"), "the verdict");
  await driver.screenshot("09-rules");
}));

test("an Admin exports a customer's data with progress, erases them after two questions, and sets a retention period", withScreenshot("privacy", async () => {
  // Still the Admin of the test before.
  const secret = "quokka17";
  await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, {
    from: "+4915199990077", name: "Erika Muster", body: `My code word is ${secret}`,
  });
  await driver.click("[data-view=all]");
  await openRow("Erika Muster");
  await waitFor(async () => (await driver.innerText("[data-testid=details]"))?.includes("Erika Muster"), "her details");
  await driver.click("[data-testid=export-csv]");
  const saved = await waitFor(async () => {
    const text = await driver.innerText("[data-testid=export-saved]");
    return text?.startsWith("Saved to ") && text.slice("Saved to ".length);
  }, "where the export was saved");
  assert.ok(saved.startsWith(join(downloads, "handoff-contact-")) && saved.endsWith(".zip"), saved);
  const zip = readFileSync(saved);
  assert.equal(zip.subarray(0, 4).toString("latin1"), "PK\x03\x04", "a zip file");
  await driver.screenshot("09b-contact-exported");

  await driver.click("[data-testid=erase-contact]");
  await waitFor(async () => (await driver.innerText("[data-testid=erase-counts]"))?.includes("1 conversation"), "what goes");
  await driver.screenshot("09c-erase-asks");
  await driver.click("[data-testid=erase-continue]");
  await driver.click("[data-testid=erase-confirm]");
  // The server's contact.erased takes her off this screen and out of search.
  await waitFor(async () => (await driver.findAll("[data-testid=thread]")).length === 0, "her conversation closes");
  await waitFor(async () => !(await driver.innerText("[data-testid=queue]") ?? "").includes("Erika Muster"), "she leaves the queue");
  const left = (await admin("GET", "/api/v1/conversations?limit=500")).items.filter((c) => c.contact.name === "Erika Muster");
  assert.deepEqual(left, [], "erased on the server");

  await driver.click("[data-screen=admin]");
  await driver.click("[data-tab=privacy]");
  await waitFor(async () => (await driver.findAll("[data-testid=privacy-settings]")).length === 1, "the privacy settings");
  await driver.click("[data-testid=retention-limit]");
  await driver.typeOver("[data-testid=retention-days]", "365");
  await waitFor(async () => (await driver.innerText("[data-testid=retention-warning]"))?.includes("365 days"), "the warning");
  await driver.screenshot("09d-privacy-settings");
  await driver.click("[data-testid=privacy-save]");
  await waitFor(async () => (await admin("GET", "/api/v1/settings")).retention_days === 365, "saved on the server");
  await admin("PATCH", "/api/v1/settings", { retention_days: null });
}));

test("an Admin adds a webhook, sees its signed deliveries arrive and sends one again", withScreenshot("webhooks", async () => {
  // An integration's endpoint on this machine: records each delivery as it came.
  const received = [];
  const receiver = createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      received.push({ headers: req.headers, raw: Buffer.concat(chunks) });
      res.writeHead(200, { "content-type": "text/plain" }).end("thanks");
    });
  });
  await new Promise((res) => receiver.listen(0, "127.0.0.1", res));
  const url = `http://127.0.0.1:${receiver.address().port}/hooks/handoff`;
  try {
    // Still the Admin of the tests before.
    await driver.click("[data-screen=admin]");
    await driver.click("[data-tab=webhooks]");
    await driver.typeOver("[data-testid=webhook-url]", url);
    await driver.click("[data-testid=add-webhook] button[type=submit]");
    const secret = await waitFor(async () => (await driver.innerText("[data-testid=webhook-secret]"))?.trim(), "the secret, shown once");
    assert.match(secret, /^whsec_/);
    await waitFor(async () => (await driver.innerText("[data-testid=webhook-state]")) === "Active", "the endpoint listed");
    await driver.screenshot("09e-webhook-added");

    await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, { from: "+4915199990088", name: "Jonas Weber", body: "Is my parcel on its way?" });
    const first = await waitFor(() => received[0], "the delivery at the receiver");
    const payload = JSON.parse(first.raw.toString("utf8"));
    assert.equal(payload.type, "message.received");
    assert.equal(payload.data.message.body, "Is my parcel on its way?");
    // The check docs/api.md gives for Node.js.
    const stamp = first.headers["handoff-timestamp"];
    const expected = "sha256=" + createHmac("sha256", secret).update(`${stamp}.`).update(first.raw).digest("hex");
    assert.ok(timingSafeEqual(Buffer.from(expected), Buffer.from(first.headers["handoff-signature"])), "signed with the secret shown");

    await driver.click("[data-testid=show-deliveries]");
    await waitFor(async () => (await driver.innerText("[data-testid=delivery-outcome]")) === "Delivered", "delivered, in the log");
    assert.ok((await driver.innerText("[data-testid=deliveries]")).includes("thanks"), "the answer's first bytes");
    await driver.screenshot("09f-webhook-deliveries");
    await driver.click("[data-testid=send-again]");
    const again = await waitFor(() => received[1], "sent again");
    assert.equal(JSON.parse(again.raw.toString("utf8")).id, payload.id, "the same delivery id");
    const hooks = await admin("GET", "/api/v1/webhooks");
    await admin("DELETE", `/api/v1/webhooks/${hooks.items[0].id}`);
  } finally {
    receiver.close();
  }
}));

test("a saved reply added in Settings is typed as /shortcut, filled in for the customer", withScreenshot("saved-replies", async () => {
  // Still the Admin (the tests before): a reply for everyone, with the contact's and the agent's names.
  await driver.click("[data-screen=settings]");
  await driver.typeOver("[data-testid=saved-reply-shortcut]", "thanks");
  await driver.typeOver("[data-testid=saved-reply-body]", "Thanks {{contact.first_name}}, {{agent.name}} here.");
  await driver.js("const s = document.querySelector('[data-testid=add-saved-reply] select'); s.value = 'false'; s.dispatchEvent(new Event('change'));");
  await driver.click("[data-testid=add-saved-reply] button[type=submit]");
  await waitFor(async () => (await driver.innerText("[data-testid=saved-replies]"))?.includes("/thanks"), "the reply listed");
  const stored = (await admin("GET", "/api/v1/saved-replies")).items;
  assert.deepEqual(stored.map((r) => [r.shortcut, r.owner_id]), [["thanks", null]], "in the library");
  await driver.screenshot("09g-saved-replies");

  await driver.click("[data-view=all]");
  await openRow("Jonas Weber");
  await waitFor(async () => (await driver.innerText("[data-testid=thread]"))?.includes("Is my parcel on its way?"), "his conversation");
  await waitFor(async () => (await driver.findAll("[data-testid=composer-input]")).length === 1, "the composer");
  await driver.type("[data-testid=composer-input]", "/tha");
  await waitFor(async () => (await driver.innerText("[data-testid=saved-reply-suggestions]"))?.includes("/thanks"), "the suggestion");
  await driver.screenshot("09h-saved-reply-suggested");
  await driver.keys("\uE004"); // Tab
  await waitFor(
    async () => (await driver.js("return document.querySelector('[data-testid=composer-input]').value")) === "Thanks Jonas, Admin here.",
    "the reply filled in",
  );
  // Not sent: the composer emptied again (Ctrl+A, Backspace), so no draft stays behind.
  await driver.keys("\uE009", "a");
  await driver.keys("\uE003");
  await waitFor(async () => (await driver.js("return document.querySelector('[data-testid=composer-input]').value")) === "", "the composer empty");
}));

test("an Admin links a number by its QR code; when it disconnects everyone sees the banner", withScreenshot("devices", async () => {
  // Still signed in as the Admin (the test before).
  await driver.click("[data-screen=devices]");
  await waitFor(async () => (await driver.innerText("[data-testid=devices]"))?.includes("Support line"), "the linked number's card");
  await driver.typeOver("[data-testid=add-device] input[aria-label=Name]", "Sales line");
  await driver.click("[data-testid=add-device] button[type=submit]");
  const sales = await waitFor(
    async () => (await admin("GET", "/api/v1/devices")).items.find((d) => d.name === "Sales line"),
    "the new device on the server",
  );
  const card = `[data-testid=device-card][aria-label="Sales line"]`;
  const qrSvg = () => driver.js("const e = document.querySelector(arguments[0]); return e ? e.innerHTML : null", `${card} [data-testid=device-qr]`);
  await waitFor(async () => (await qrSvg())?.includes("<svg"), "a QR code drawn for the new number");
  const first = await qrSvg();
  await waitFor(
    async () => /enter [A-Z0-9]{4}-[A-Z0-9]{4}$/.test((await driver.innerText(`${card} [data-testid=pair-code]`)) ?? ""),
    "the pair-code alternative",
  );
  await driver.screenshot("13-devices-qr");

  // WhatsApp rotates the code: the card draws the new one.
  const rotated = await admin("POST", `/api/v1/devices/${sales.id}/simulator/rotate-qr`);
  assert.ok(rotated.qr.includes("handoff-simulator"));
  await waitFor(async () => {
    const now = await qrSvg();
    return now?.includes("<svg") && now !== first;
  }, "the rotated QR code", 20000);

  // The phone scans it: the card turns connected and the QR goes away.
  await admin("POST", `/api/v1/devices/${sales.id}/simulator/link`);
  await waitFor(async () => (await driver.innerText(`${card} [data-testid=device-status]`))?.startsWith("Connected"), "connected");
  assert.equal((await driver.findAll(`${card} [data-testid=device-qr]`)).length, 0);

  // It disconnects: the inbox shows the banner, and the Admin gets a native notification.
  await driver.click("[data-view=all]");
  await admin("POST", `/api/v1/devices/${sales.id}/simulator/disconnect`);
  await waitFor(
    async () => (await driver.innerText("[data-testid=device-banner]"))?.includes("Sales line disconnected just now: new messages may stall"),
    "the device banner",
  );
  await waitFor(() => notifications.summaries().includes("Sales line (+15550100) disconnected"), "the Admin's notification");
  await driver.screenshot("14-device-banner");
  // Back: the banner goes away.
  await admin("POST", `/api/v1/devices/${sales.id}/simulator/reconnect`);
  await waitFor(async () => (await driver.findAll("[data-testid=device-banner]")).length === 0, "the banner gone");
}));

test("a reply WhatsApp refuses shows why, Retry sends it once, and the composer counts down the 24-hour window", withScreenshot("retry", async () => {
  // Still the Admin, on All (the test before). Camille wrote a moment ago.
  await driver.click("[data-view=all]");
  await openRow("Camille Martin");
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Camille Martin", "the thread");
  await waitFor(
    async () => /^2[34] h \d+ min left in the 24-hour window$/.test((await driver.innerText("[data-testid=service-window]")) ?? ""),
    "the 24-hour window's countdown",
  );

  await admin("POST", `/api/v1/devices/${device.id}/simulator/fail-next`, { reasons: ["This number is not on WhatsApp"] });
  const reply = "The blue one is back next week.";
  await driver.type("[data-testid=composer-input]", reply);
  await driver.click("[data-testid=send]");
  await waitFor(
    async () => (await driver.innerText("[data-testid=failure]"))?.includes("This number is not on WhatsApp"),
    "the failure with its reason",
  );
  await driver.screenshot("15-failed-reply");
  const before = (await admin("GET", `/api/v1/devices/${device.id}/simulator/sent`)).items.filter((s) => s.body === reply);
  assert.equal(before.length, 0, "nothing went out");
  await driver.click("[data-testid=retry]");
  await waitFor(async () => (await driver.findAll("[data-testid=failure]")).length === 0, "the failure gone");
  const sent = await waitFor(async () => {
    const mine = (await admin("GET", `/api/v1/devices/${device.id}/simulator/sent`)).items.filter((s) => s.body === reply);
    return mine.length > 0 && mine;
  }, "the retried reply at the simulator");
  assert.equal(sent.length, 1);
}));

test("a customer's attachment downloads into the Downloads folder with one click", withScreenshot("download", async () => {
  const content = "Order #4821, paid 2026-11-20, EUR 89.90\n";
  await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, {
    from: "+4915199990001", name: "Dana Weiss", body: "Here is my receipt",
    media: { kind: "document", filename: "receipt-4821.txt", mime: "text/plain", size: content.length },
    media_content: content,
  });
  await openRow("Dana Weiss");
  await waitFor(async () => (await driver.innerText("[data-testid=media]"))?.includes("receipt-4821.txt"), "the placeholder");
  await driver.click("[data-testid=download]");
  const saved = await waitFor(async () => {
    const text = await driver.innerText("[data-testid=media-saved]");
    return text?.startsWith("Saved to ") && text.slice("Saved to ".length);
  }, "where the file was saved");
  await driver.screenshot("16-attachment-saved");
  assert.equal(saved, join(downloads, "receipt-4821.txt"));
  assert.equal(readFileSync(saved, "utf8"), content);
}));

test("a long thread shows its newest 200 messages, and earlier ones on request", withScreenshot("long-thread", async () => {
  for (let i = 0; i < 250; i++) {
    await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, { from: "+4915199990002", name: "Emil Berg", body: `Long thread message ${i}` });
  }
  // The thread is opened once the cache holds all 250 (the row shows the last; events apply in
  // order). Opened earlier, it would keep its oldest message in view as the rest came in, and
  // rightly show them all.
  await waitFor(
    () => driver.js("return [...document.querySelectorAll('[data-testid=conversation-row]')].some((r) => r.innerText.includes('Long thread message 249'))"),
    "Emil's row with his last message",
  );
  await openRow("Emil Berg");
  const shown = () => driver.js("return document.querySelectorAll('[data-testid=thread] [data-testid=message]').length");
  await waitFor(async () => (await shown()) === 200, "the newest 200 messages");
  // All 250 are in the cache once the button says so (they may still be arriving).
  await waitFor(
    async () => (await driver.innerText("[data-testid=show-earlier]")) === "Show 50 earlier messages (50 not shown)",
    "the button for the 50 earlier ones",
  );
  await driver.click("[data-testid=show-earlier]");
  await waitFor(async () => (await shown()) === 250, "all 250");
  assert.equal((await driver.findAll("[data-testid=show-earlier]")).length, 0, "nothing left to show");
  const first = await driver.js("return document.querySelector('[data-testid=thread] [data-testid=message] .body')?.innerText");
  assert.equal(first, "Long thread message 0");
}));

test("an expired session asks for the password, keeps the queue and the outbox, and carries on", withScreenshot("expired", async () => {
  // The server stops (an upgrade, say). Offline, the Admin writes a note: it waits in the outbox.
  const exited = new Promise((res) => server.child.once("exit", res));
  server.child.kill("SIGTERM");
  await exited;
  await waitFor(async () => /^Offline since/.test((await driver.innerText("[data-testid=offline-banner]")) ?? ""), "the offline banner", 15000);
  await driver.click("[data-view=all]");
  await openRow("Lena Hoffmann");
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Lena Hoffmann", "Lena's thread");
  const note = "Checked with the courier: delivery tomorrow.";
  await queueNote(note);

  // Meanwhile the app's session runs out. The server's clock is not the test's to move, so the
  // test ages the session in the stopped server's database: last used long ago, as after a
  // holiday. Only this app's session (the Admin's, named by its User-Agent), not the test's own
  // API session nor the scripted teammates'.
  const aged = execFileSync("sqlite3", [
    join(serverDir, "handoff.db"),
    "UPDATE sessions SET created_at = '2020-01-01T00:00:00.000000Z', last_used_at = '2020-01-01T00:00:00.000000Z' " +
      "WHERE client LIKE 'Handoff-Desktop/%' AND user_id = (SELECT id FROM users WHERE email = 'admin@e2e.local'); SELECT changes();",
  ]).toString().trim();
  assert.equal(aged, "1", "one app session in the database");
  server = await startServer(root, serverDir, {}, new URL(server.url).host);

  // Back online, the app says the session expired and asks for the password; the queue and the
  // queued note stay on screen behind the dialog.
  await waitFor(async () => (await driver.innerText("#reauth-title")) === "Your session expired", "the password dialog", 40000);
  // The note, and the conversation marked read when it was opened.
  await waitFor(async () => {
    const waiting = (await driver.innerText("[data-testid=reauth-kept]"))?.match(/(\d+) changes? waits? to be sent/);
    return waiting && Number(waiting[1]) >= 1;
  }, "the dialog counting what waits in the outbox");
  assert.equal(await driver.innerText("[data-kind=note] .queued-label"), "sends when online");
  assert.ok((await driver.findAll("[data-testid=conversation-row]")).length > 0, "the queue is still shown");
  await driver.screenshot("17-session-expired");
  await driver.typeOver("[data-testid=reauth-password]", PASSWORD);
  await driver.click("[data-testid=reauth-submit]");
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online again", 20000);
  const notes = await onServer("Lena Hoffmann", note, "the note on the server");
  assert.equal(notes.length, 1);
  await waitFor(async () => (await driver.findAll("[data-testid=reauth]")).length === 0, "the dialog gone");

  // Settings lists where this account is signed in: this app, by name, marked as this computer.
  await driver.click("[data-screen=settings]");
  await waitFor(async () => {
    const rows = await driver.js("return [...document.querySelectorAll('[data-testid=session-row]')].map((r) => r.innerText)");
    return rows.some((r) => r.includes("Handoff-Desktop/") && r.includes("This computer"));
  }, "this session in the list");
  await driver.js("document.querySelector('[data-testid=sessions]').scrollIntoView({ block: 'center' })");
  await driver.screenshot("18-sessions");
  await driver.click("[data-view=all]");
}));

test("start at login comes and goes; a handoff:// link opens its conversation: a second launch hands it to the running app and exits", withScreenshot("deep-link", async () => {
  const oliver = (await admin("GET", "/api/v1/conversations")).items.find((c) => c.contact.name === "Oliver Smith");
  await driver.click("[data-screen=settings]"); // somewhere else than the conversation
  // Start at login, on and off: the desktop's autostart entry comes and goes.
  const autostartDirs = [join(appEnv.XDG_CONFIG_HOME, "autostart"), join(appEnv.HOME, ".config", "autostart")];
  const entries = () => autostartDirs.flatMap((d) => (existsSync(d) ? readdirSync(d).filter((f) => /^handoff/i.test(f)).map((f) => join(d, f)) : []));
  await waitFor(async () => (await driver.findAll("[data-testid=autostart]")).length === 1, "the start-at-login setting");
  await driver.click("[data-testid=autostart]");
  const [entry] = await waitFor(async () => entries().length > 0 && entries(), "an autostart entry");
  assert.match(readFileSync(entry, "utf8"), /handoff-desktop/, `${entry} starts the app`);
  await driver.click("[data-testid=autostart]");
  await waitFor(async () => entries().length === 0, "the autostart entry gone");
  // What the OS does when the link is opened in a browser or a chat: it starts the app with it.
  // The running app takes it over, comes forward on it, and the second launch leaves at once.
  const second = spawn(APP, [`handoff://conversation/${oliver.id}`], { env: { ...process.env, ...appEnv, HANDOFF_LOG_FILE: `${APP_LOG}.second` }, stdio: "ignore" });
  const code = await new Promise((res) => second.once("exit", res));
  assert.equal(code, 0, "the second launch exits");
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Oliver Smith", "Oliver's conversation, from the link");
  assert.equal(await driver.text("[data-testid=connection-state]"), "Online", "the first instance carries on, online");
  await driver.screenshot("19-deep-link");
}));

/** Every byte of the first workspace's cache files (database and write-ahead log). */
function cacheFiles() {
  const dir = join(appEnv.XDG_DATA_HOME, "app.handoff.desktop");
  return ["cache.db", "cache.db-wal"].map((f) => join(dir, f)).filter((f) => existsSync(f)).map((f) => readFileSync(f));
}

test("the sign-in and the encrypted cache are remembered: after a restart the app opens signed in, with its draft, without the password", withScreenshot("restart", async () => {
  const me = await driver.innerText(".me-name");
  // A draft lives in the cache alone (never on the server): it is there after the restart only
  // if the cache opened again with the key the keyring keeps.
  const draft = "Draft kept across a restart: quokka77";
  await driver.click("[data-view=all]");
  await openRow("Oliver Smith");
  await driver.click("[data-testid=mode-reply]");
  await driver.typeOver("[data-testid=composer-input]", draft);
  await openRow("Lena Hoffmann");
  await openRow("Oliver Smith");
  const composer = () => driver.js("return document.querySelector('[data-testid=composer-input]').value");
  await waitFor(async () => (await composer()) === draft, "the draft read back from the cache");
  // What the disk holds: no SQLite header, no draft, no customer's name (all encrypted).
  const files = cacheFiles();
  assert.ok(files.reduce((n, b) => n + b.length, 0) > 4096, "the cache's files hold more than a page");
  for (const text of ["SQLite format 3", "quokka77", "Oliver Smith", "Lena Hoffmann"]) {
    assert.ok(!files.some((b) => b.includes(text)), `${text} readable in the cache's files`);
  }

  await driver.stop();
  await driver.start(APP, appEnv);
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online again");
  assert.equal(await driver.innerText(".me-name"), me);
  assert.equal((await driver.findAll("#password")).length, 0, "the sign-in form");
  await driver.click("[data-view=all]");
  await openRow("Oliver Smith");
  await waitFor(async () => (await composer()) === draft, "the draft, after the restart");
  await driver.screenshot("20-restarted");
}));

test("an app from before workspaces opens where it was: its preferences become the first workspace, its sign-in and cache kept", withScreenshot("upgrade", async () => {
  const me = await driver.innerText(".me-name");
  const prefsFile = join(appEnv.XDG_CONFIG_HOME, "app.handoff.desktop", "prefs.json");
  const prefs = JSON.parse(readFileSync(prefsFile, "utf8"));
  const [first] = prefs.workspaces;
  assert.equal(first.key, "main");
  await driver.stop();
  // The preferences as an app before workspaces wrote them; the cache and the keyring entry are
  // where that app kept them (cache.db, the entry named by the server).
  const old = { servers: prefs.servers, last_server: first.server, notifications: first.notifications, close_to_tray: prefs.close_to_tray };
  writeFileSync(prefsFile, JSON.stringify(old));
  await driver.start(APP, appEnv);
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online, without the password");
  assert.equal(await driver.innerText(".me-name"), me);
  assert.equal((await driver.findAll("#password")).length, 0, "the sign-in form");
  await waitFor(async () => (await driver.findAll("[data-testid=conversation-row]")).length > 0 || (await driver.findAll("[data-testid=empty-queue]")).length > 0, "the queue");
  const upgraded = JSON.parse(readFileSync(prefsFile, "utf8"));
  assert.deepEqual(upgraded.workspaces.map((w) => [w.key, w.server, w.signed_in]), [["main", first.server, true]]);
  assert.equal(upgraded.last_server, undefined, "the old field is not written again");
}));

test("an Admin signs a person out everywhere: the app says so, and its copy of the workspace and its key are gone from the disk", withScreenshot("access-removed", async () => {
  await driver.click("button.signout");
  await driver.signIn(server.url, "ben@e2e.local", PASSWORD, "online as Ben");
  const secret = "wombat55";
  await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, { from: "+4915199990088", name: "Wanda Wombat", body: `Code ${secret}` });
  await driver.click("[data-view=all]");
  await openRow("Wanda Wombat");
  await waitFor(async () => (await driver.innerText("[data-testid=thread]")).includes(secret), "her message on screen");
  assert.ok(!cacheFiles().some((b) => b.includes(secret)), "her message encrypted in the cache's files");

  await admin("POST", `/api/v1/users/${ben.id}/wipe`);
  await waitFor(async () => (await driver.findAll("[data-testid=access-removed]")).length === 1, "the app says so");
  assert.ok((await driver.innerText("[data-testid=access-removed]")).includes("were deleted from this computer"));
  await driver.screenshot("21-access-removed");
  await driver.click("[data-testid=access-removed-ok]");
  await waitFor(async () => (await driver.findAll("#password")).length === 1, "the sign-in form");
  // Its rows were deleted at once; the files go too, and with them the key (the keyring check
  // shows a forgotten key is gone): nothing on the disk can be read back.
  await waitFor(async () => cacheFiles().length === 0, "the cache's files removed");
}));
