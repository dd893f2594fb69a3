// The app on a desktop with a window manager (openbox) and a tray host (the tray-host test tool,
// a StatusNotifierWatcher on the session bus): closing the window hides it to the tray and a
// customer's message still raises a native notification; a second launch brings the window back;
// Quit in the tray menu quits, and the next start puts the window where it was, at its size.
// Run by tests/run-all.sh under Xvfb and a private session bus.
import { execFileSync, spawn } from "node:child_process";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, startTeam, waitFor, watchNotifications } from "../e2e/webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/debug/handoff-desktop");
const PASSWORD = "correct horse battery";

let server;
let driver;
let admin;
let device;
let wm;
let trayHost;
let trayLog = "";
let notifications;
let appEnv;

/** Whether a visible top-level window is titled Handoff (xdotool asks the X server). */
function windowShown() {
  try {
    return execFileSync("xdotool", ["search", "--onlyvisible", "--name", "^Handoff$"]).toString().trim().length > 0;
  } catch {
    return false; // xdotool exits 1 when nothing matches
  }
}

before(async () => {
  const tmp = mkdtempSync(join(tmpdir(), "handoff-desktop-"));
  wm = spawn("openbox", ["--sm-disable"], { stdio: "ignore" });
  trayHost = spawn(resolve(root, "target/debug/tray-host"), [], { stdio: ["ignore", "pipe", "inherit"] });
  trayHost.stdout.on("data", (d) => (trayLog += d));
  await waitFor(() => trayLog.includes("ready"), "the tray host on the session bus");
  notifications = await watchNotifications(root);
  ({ server, admin, device } = await startTeam(root, join(tmp, "server"), "desktop.local", PASSWORD));
  mkdirSync(join(tmp, "home"), { recursive: true });
  appEnv = { XDG_DATA_HOME: join(tmp, "data"), XDG_CONFIG_HOME: join(tmp, "config"), HOME: join(tmp, "home") };
  driver = new Driver(root);
  await driver.start(APP, appEnv);
});

after(async () => {
  await driver?.stop();
  // Ending the WebDriver session closes the window, which hides a signed-in app to the tray: it
  // is stopped here, or the next test file's app would hand itself over to it (single instance).
  if (appRunning()) {
    execFileSync("pkill", ["-x", "handoff-desktop"]);
    await waitFor(() => !appRunning(), "the app stopped");
  }
  server?.child.kill("SIGTERM");
  notifications?.stop();
  trayHost?.kill();
  wm?.kill();
});

test("closing the window hides it to the tray, notifications keep coming, and a second launch brings it back", async () => {
  await driver.signIn(server.url, "ana@desktop.local", PASSWORD);
  await waitFor(() => trayLog.includes("registered"), "the app's tray icon registered with the tray host");

  // A conversation of Ana's, so that its next customer message is news for her.
  const first = await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, { from: "+4915112345678", name: "Lena Hoffmann", body: "Hello?" });
  await admin("POST", `/api/v1/conversations/${first.conversation_id}/assign`, {
    assignee_id: (await admin("GET", "/api/v1/users")).items.find((u) => u.email === "ana@desktop.local").id,
  });
  await waitFor(async () => (await driver.innerText("[data-view=mine] .count")) === "1", "Lena's conversation is Ana's");

  // The window manager closes the window, as its close button does.
  await waitFor(() => windowShown(), "the window on screen");
  execFileSync("wmctrl", ["-c", "Handoff"]);
  await waitFor(() => !windowShown(), "the window hidden");

  // Hidden, the app still syncs and notifies.
  await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, { from: "+4915112345678", name: "Lena Hoffmann", body: "Are you there?" });
  await waitFor(() => notifications.summaries().includes("New message from Lena Hoffmann"), "the notification, with the window closed");

  // Starting the app again shows the running one instead of a second copy.
  const second = spawn(APP, [], { env: { ...process.env, ...appEnv }, stdio: "ignore" });
  assert.equal(await new Promise((res) => second.once("exit", res)), 0, "the second launch exits");
  await waitFor(() => windowShown(), "the window back");
  assert.equal(await driver.text("[data-testid=connection-state]"), "Online");
  await driver.screenshot("desktop-back");
});

/** The Handoff window's place and size as the X server has them (xdotool). */
function geometry() {
  const id = execFileSync("xdotool", ["search", "--onlyvisible", "--name", "^Handoff$"]).toString().trim().split("\n")[0];
  const out = execFileSync("xdotool", ["getwindowgeometry", "--shell", id]).toString();
  const value = (k) => Number(out.match(new RegExp(`^${k}=(\\d+)$`, "m"))[1]);
  return { x: value("X"), y: value("Y"), width: value("WIDTH"), height: value("HEIGHT") };
}

/** Whether a handoff-desktop process runs (the app, whoever started it). */
function appRunning() {
  try {
    execFileSync("pgrep", ["-x", "handoff-desktop"]);
    return true;
  } catch {
    return false;
  }
}

test("Quit in the tray menu quits; started again, the window is where it was and as large", async () => {
  // Somewhere else than where it opened, at another size (as a user drags it).
  execFileSync("wmctrl", ["-r", "Handoff", "-e", "0,140,90,1010,640"]);
  await waitFor(() => {
    const g = geometry();
    return g.width === 1010 && g.height === 640;
  }, "the window moved and resized");
  const before = geometry();

  const clicked = execFileSync(resolve(root, "target/debug/tray-host"), ["click", "Quit"]).toString();
  assert.match(clicked, /clicked Quit/);
  await waitFor(() => !appRunning(), "the app gone after Quit");
  // It quit the orderly way: every workspace's cache closed first (the log says so).
  const logs = join(appEnv.XDG_DATA_HOME, "app.handoff.desktop", "logs");
  const log = readdirSync(logs).map((f) => readFileSync(join(logs, f), "utf8")).join("");
  assert.match(log, /Handoff quit: every workspace closed/);
  await driver.stop();

  driver = new Driver(root);
  await driver.start(APP, appEnv);
  await waitFor(() => windowShown(), "the window of the new start");
  await waitFor(() => {
    const g = geometry();
    return g.width === before.width && g.height === before.height && g.x === before.x && g.y === before.y;
  }, `the window back at ${JSON.stringify(before)}`);
});

test("the app writes its log in the OS log folder (Linux: the data folder's logs/)", () => {
  const dir = join(appEnv.XDG_DATA_HOME, "app.handoff.desktop", "logs");
  const files = readdirSync(dir).filter((f) => /^handoff\.\d{4}-\d\d-\d\d\.log$/.test(f));
  assert.equal(files.length, 1, `one day's log file in ${dir}: ${files}`);
  assert.match(readFileSync(join(dir, files[0]), "utf8"), /Handoff started/);
});
