// Updates, with the updater plugin for real: a key pair made by the Tauri CLI (as a publisher
// makes theirs), an update server on loopback that answers the app's check only when the test
// lets it, and the app (a test build, which may take its endpoint and key from the environment).
// The check never holds up start-up or sign-in; the version it finds shows in Settings; an update
// whose bytes do not match their signature is refused. Run by tests/run-all.sh under Xvfb.
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { createServer } from "node:http";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, startTeam, waitFor } from "../e2e/webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/debug/handoff-desktop");
const PASSWORD = "correct horse battery";

let server;
let driver;
let updates;
let checks = 0;
let answer; // resolves the held check
const held = new Promise((r) => (answer = r));

/** The Tauri CLI pinned in ui/package.json, as the release workflow runs it. */
function tauri(...args) {
  return execFileSync("npm", ["--prefix", join(root, "ui"), "exec", "--", "tauri", ...args], { stdio: ["ignore", "pipe", "inherit"] }).toString();
}

before(async () => {
  const tmp = mkdtempSync(join(tmpdir(), "handoff-updates-"));
  // The publisher's key pair (no password) and an update signed with it.
  const key = join(tmp, "updater.key");
  tauri("signer", "generate", "--ci", "--password", "", "--write-keys", key);
  const bundle = join(tmp, "Handoff_9.9.9_amd64.AppImage");
  writeFileSync(bundle, "the signed bytes of an update\n".repeat(1000));
  tauri("signer", "sign", "--private-key-path", key, "--password", "", bundle);
  const signature = readFileSync(`${bundle}.sig`, "utf8");
  const pubkey = readFileSync(`${key}.pub`, "utf8");

  // The update server: the manifest (held until the test answers), and the bundle's bytes with
  // one of them changed, so that they no longer match the signature.
  updates = createServer(async (req, res) => {
    if (req.url === "/latest.json") {
      checks += 1;
      await held;
      const url = `http://127.0.0.1:${updates.address().port}/bundle`;
      const platform = { signature, url };
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({
        version: "9.9.9",
        notes: "Saved replies and a faster queue.",
        pub_date: "2026-12-01T12:00:00Z",
        platforms: { "linux-x86_64": platform, "linux-x86_64-appimage": platform, "linux-x86_64-deb": platform },
      }));
    } else if (req.url === "/bundle") {
      const bytes = readFileSync(bundle);
      bytes[10] ^= 1;
      res.setHeader("content-length", bytes.length);
      res.end(bytes);
    } else {
      res.statusCode = 404;
      res.end();
    }
  });
  await new Promise((r) => updates.listen(0, "127.0.0.1", r));

  ({ server } = await startTeam(root, join(tmp, "server"), "updates.local", PASSWORD));
  mkdirSync(join(tmp, "home"), { recursive: true });
  driver = new Driver(root);
  await driver.start(APP, {
    XDG_DATA_HOME: join(tmp, "data"),
    XDG_CONFIG_HOME: join(tmp, "config"),
    HOME: join(tmp, "home"),
    HANDOFF_TEST_UPDATER_ENDPOINT: `http://127.0.0.1:${updates.address().port}/latest.json`,
    HANDOFF_TEST_UPDATER_PUBKEY: pubkey,
  });
});

/** The update state Settings shows (`data-state` of its Updates line). */
function updateState() {
  return driver.js("return document.querySelector('[data-testid=updates]')?.dataset.state ?? null");
}

after(async () => {
  answer?.();
  await driver?.stop();
  server?.child.kill("SIGTERM");
  updates?.close();
});

test("the update check runs in the background: the app signs in while it waits, then Settings shows the new version", async () => {
  await waitFor(() => checks === 1, "the app's update check reaching the update server");
  // The update server has not answered: start-up and sign-in do not wait for it.
  await driver.signIn(server.url, "ana@updates.local", PASSWORD);
  await driver.click("[data-screen=settings]");
  await waitFor(async () => (await updateState()) === "checking", "Settings: checking for updates");

  answer();
  await waitFor(async () => (await driver.innerText("[data-testid=update-version]")) === "9.9.9", "Settings shows version 9.9.9");
  assert.match(await driver.innerText("[data-testid=updates]"), /Saved replies and a faster queue\./);
  await driver.screenshot("update-available");
});

test("an update whose bytes do not match the publisher's signature is refused, and nothing restarts", async () => {
  await driver.click("[data-testid=install-update]");
  await waitFor(async () => (await updateState()) === "failed", "the install refused");
  const text = await driver.innerText("[data-testid=updates]");
  assert.match(text, /signature/i, `the refusal names the signature: ${text}`);
  assert.equal(await driver.text("[data-testid=connection-state]"), "Online", "the app still runs, signed in");
  assert.equal(checks, 1, "one check per start");
});
