// The desktop app's footprint: its binary's size and the memory (PSS) of all its processes —
// the app itself and the WebKit processes it starts — when it is signed in and idle with a
// small inbox. Prints one JSON object. Run under a display and a session bus, as the E2E tests:
//
//   xvfb-run -a dbus-run-session -- node tests/perf/footprint.mjs
//
// APP_BIN (default target/release/handoff-desktop, built with `--features
// handoff-desktop/custom-protocol`) and SERVER_BIN choose the binaries.
import { readdirSync, readFileSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, waitFor } from "../e2e/webdriver.mjs";
import { inject, signIn, startWorld } from "./world.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/release/handoff-desktop");
const CONVERSATIONS = Number(process.env.CONVERSATIONS ?? 20);
const IDLE_MS = Number(process.env.IDLE_MS ?? 10000);

/** Every process: pid, parent, executable name. */
function processes() {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .flatMap((pid) => {
      try {
        const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
        const ppid = Number(stat.slice(stat.lastIndexOf(")") + 2).split(" ")[1]);
        let exe = "";
        try {
          exe = readlinkSync(`/proc/${pid}/exe`);
        } catch {}
        return [{ pid: Number(pid), ppid, exe }];
      } catch {
        return [];
      }
    });
}

/** The app's process and all its descendants. */
function appTree() {
  const all = processes();
  // /proc names the file itself: a target folder that is a symlink resolves to another path.
  const real = realpathSync(APP);
  const app = all.find((p) => p.exe === real);
  if (!app) return [];
  const tree = [app];
  for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i].pid));
  return tree;
}

/** Proportional set size in MB: each shared page counted once across the processes sharing it. */
function pssMb(pid) {
  const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
  return Number(rollup.match(/^Pss:\s+(\d+) kB/m)[1]) / 1024;
}

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
  const tree = appTree();
  if (tree.length === 0) throw new Error(`no process runs ${APP}`);
  const each = tree.map((p) => ({ process: p.exe.split("/").pop(), pid: p.pid, pss_mb: Math.round(pssMb(p.pid) * 10) / 10 }));
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
