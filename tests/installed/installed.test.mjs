// The app as a user installs it: the .deb built by `.ci/bundle.sh` (tests/run-all.sh builds it from
// the debug profile, `--debug`, reusing what its earlier steps compiled; the packaging and install
// path are those of a release .deb), installed with apt (tests/run-all.sh does both), started from
// its installed path under Xvfb, signs in to a real server and sees a customer's message in the
// inbox; a handoff:// link opened through the desktop reaches it. INSTALLED_APP names the binary.
import { execFileSync } from "node:child_process";
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, startTeam, waitFor } from "../e2e/webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = process.env.INSTALLED_APP ?? "/usr/bin/handoff-desktop";
const PASSWORD = "correct horse battery";

let server;
let driver;
let admin;

before(async () => {
  assert.ok(existsSync(APP), `${APP} is installed`);
  const tmp = mkdtempSync(join(tmpdir(), "handoff-installed-"));
  let device;
  ({ server, admin, device } = await startTeam(root, join(tmp, "server"), "installed.local", PASSWORD));
  await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, {
    from: "+4915112345678",
    name: "Lena Hoffmann",
    body: "Hello from the installed app's test",
  });
  driver = new Driver(root);
  // No keyring here: the app works without one (it asks for the password next time).
  await driver.start(APP, { XDG_DATA_HOME: join(tmp, "data"), XDG_CONFIG_HOME: join(tmp, "config") });
});

after(async () => {
  await driver?.stop();
  server?.child.kill("SIGTERM");
});

test("the installed app signs in and shows the inbox", async () => {
  await driver.signIn(server.url, "ana@installed.local", PASSWORD);
  await waitFor(
    async () => (await driver.innerText("[data-testid=conversation-row] .preview"))?.includes("installed app's test"),
    "the customer's message in the queue",
  );
  await driver.screenshot("installed-inbox");
});

test("a handoff:// link opened through the desktop (xdg-open) shows its conversation in the running app", async () => {
  const [lena] = (await admin("GET", "/api/v1/conversations")).items;
  // The package's menu entry registered the scheme: xdg-open starts `handoff-desktop <link>`,
  // which hands the link to the running app and exits.
  execFileSync("xdg-open", [`handoff://conversation/${lena.id}`], { stdio: "inherit", timeout: 30000 });
  await waitFor(async () => (await driver.innerText("[data-testid=thread] h2")) === "Lena Hoffmann", "the linked conversation");
  await driver.screenshot("installed-link");
});
