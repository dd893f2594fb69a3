// The inbox with many cached conversations, in the real app: how long a first sync of them takes
// (a bulk import), and how long the queue takes to show after switching to it. Prints one JSON
// object. Run under a display and a session bus, with release binaries:
//
//   cargo build --release -p handoff-server -p handoff-desktop --features handoff-desktop/custom-protocol
//   xvfb-run -a dbus-run-session -- node tests/perf/inbox.mjs
//
// CONVERSATIONS (default 50,000) customers each write once; ROUNDS (default 5) view switches.
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, api, startServer, waitFor } from "../e2e/webdriver.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/release/handoff-desktop");
process.env.SERVER_BIN ??= "target/release/handoff-server";
const PASSWORD = "correct horse battery";
const CONVERSATIONS = Number(process.env.CONVERSATIONS ?? 50000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PARALLEL = 16;

const tmp = mkdtempSync(join(tmpdir(), "handoff-inbox-"));
const server = await startServer(root, join(tmp, "server"), {
  HANDOFF_ADMIN_EMAIL: "admin@perf.local",
  HANDOFF_ADMIN_PASSWORD: PASSWORD,
});
const driver = new Driver(root);
try {
  const { token } = await api(server.url)("POST", "/api/v1/auth/login", { email: "admin@perf.local", password: PASSWORD });
  const admin = api(server.url, token);
  await admin("POST", "/api/v1/users", { email: "ana@perf.local", name: "Ana Lima", password: PASSWORD, role: "agent" });
  const device = await admin("POST", "/api/v1/devices", { name: "Support line", kind: "simulator" });
  await admin("POST", `/api/v1/devices/${device.id}/simulator/link`);
  const seeding = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < CONVERSATIONS) {
      const i = next++;
      await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, {
        from: `+4915${String(100000000 + i)}`,
        name: `Customer ${i}`,
        body: `Question ${i}: where is my order?`,
      });
    }
  };
  await Promise.all(Array.from({ length: PARALLEL }, worker));
  const seeded_s = (Date.now() - seeding) / 1000;

  await driver.start(APP, { XDG_DATA_HOME: join(tmp, "data"), XDG_CONFIG_HOME: join(tmp, "config") });
  await waitFor(async () => (await driver.js("return document.activeElement?.id")) === "email", "the sign-in form");
  await driver.typeOver("#server", server.url);
  await driver.typeOver("#email", "ana@perf.local");
  await driver.typeOver("#password", PASSWORD);
  const signIn = Date.now();
  await driver.click("#sign-in");
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online", 600000);
  const first_sync_s = (Date.now() - signIn) / 1000;

  // Each round: from an empty view, switch to All and time until its rows are on screen
  // (measured in the page, from the click to the frame that shows them).
  const shown = Math.min(CONVERSATIONS, 2000);
  const times = [];
  for (let r = 0; r < ROUNDS; r++) {
    await driver.click("[data-view=mine]");
    await waitFor(async () => (await driver.findAll("[data-testid=conversation-row]")).length === 0, "an empty view");
    const ms = await driver.wd("POST", driver.s("/execute/async"), {
      script: `
        const [want, done] = arguments;
        const t0 = performance.now();
        document.querySelector("[data-view=all]").click();
        const check = () => document.querySelectorAll("[data-testid=conversation-row]").length >= want
          ? done(performance.now() - t0) : requestAnimationFrame(check);
        requestAnimationFrame(check);`,
      args: [shown],
    }, 120000);
    times.push(ms);
  }
  times.sort((a, b) => a - b);
  const r1 = (x) => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      bench: "inbox",
      conversations: CONVERSATIONS,
      seeded_s: r1(seeded_s),
      first_sync_s: r1(first_sync_s),
      rows_shown: shown,
      switch_to_all_ms: { p50: r1(times[Math.floor(times.length / 2)]), max: r1(times[times.length - 1]), rounds: ROUNDS },
    }),
  );
} finally {
  await driver.stop();
  server.child.kill("SIGTERM");
}
