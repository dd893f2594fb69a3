// The desktop app's footprint: its binary's size and the memory (PSS) of all its processes —
// the app itself and the WebKit processes it starts — when it is signed in and idle with a
// small inbox. Prints one JSON object. Run under a display and a session bus, as the E2E tests:
//
//   xvfb-run -a dbus-run-session -- node tests/perf/footprint.mjs
//
// APP_BIN (default target/release/handoff-desktop, built with `--features
// handoff-desktop/custom-protocol`) and SERVER_BIN choose the binaries.
import { statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, waitFor } from "../e2e/webdriver.mjs";
import { appTree, inject, signIn, startWorld, usage } from "./world.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/release/handoff-desktop");
const CONVERSATIONS = Number(process.env.CONVERSATIONS ?? 20);
const IDLE_MS = Number(process.env.IDLE_MS ?? 10000);

const world = await startWorld(root, "footprint");
const driver = new Driver(root);
try {
  const { admin, device } = world;
  await inject(admin, device, CONVERSATIONS, 1, (i) => ({
    from: `+49151${String(1000000 + i)}`,
    name: `Customer ${i}`,
    body: `Question ${i} about my order`,
  }));
  await signIn(driver, APP, world);
  const inQueue = () => driver.js("return document.querySelector('[data-testid=queue]')?.dataset.count ?? null");
  await waitFor(async () => Number(await inQueue()) === CONVERSATIONS, "the inbox");
  // The measurement: memory after a period with nothing happening (not a wait for readiness).
  await new Promise((r) => setTimeout(r, IDLE_MS));
  const tree = appTree(APP);
  if (tree.length === 0) throw new Error(`no process runs ${APP}`);
  const each = tree.map((p) => ({ process: p.exe.split("/").pop(), pid: p.pid, pss_mb: Math.round(((usage(p.pid)?.pss ?? 0) / 1024) * 10) / 10 }));
  console.log(
    JSON.stringify({
      bench: "footprint",
      binary: APP.replace(`${root}/`, ""),
      binary_mb: Math.round((statSync(APP).size / 1e6) * 10) / 10,
      conversations: CONVERSATIONS,
      idle_s: IDLE_MS / 1000,
      pss_total_mb: Math.round(each.reduce((s, p) => s + p.pss_mb, 0) * 10) / 10,
      processes: each,
    }),
  );
} finally {
  await driver.stop();
  world.server.child.kill("SIGTERM");
}
