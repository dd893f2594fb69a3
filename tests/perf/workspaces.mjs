// The real app at rest with one workspace signed in and with ten (one webview; the cores share
// one runtime): memory and CPU of all its processes. Prints one JSON object. Run under a display
// and a session bus, as the E2E tests:
//
//   xvfb-run -a dbus-run-session -- node tests/perf/workspaces.mjs [--workspaces 10] [--conversations 50] [--idle-secs 30] [--max-idle-cpu PCT]
//
// One server holds the workspaces (its first, Main, and the others its owner makes), each with
// a simulator number and conversations; Ana belongs to all. The app signs in to Main and, for
// the larger run, adds every other workspace from the sign-in's offer. Once every workspace is
// online and the queue shows, the app is left alone for the idle window, and the whole process
// tree (the app, WebKit's web and network processes) is measured: PSS and RSS at the end of the
// window, CPU time used during it. `--max-idle-cpu`: exit 1 when the app at rest uses more than
// PCT % of a core (the test command runs it small with a budget: WebKitGTK's own scrollbars once
// kept it at two thirds of a core). APP_BIN (default target/release/handoff-desktop, built with
// `--features handoff-desktop/custom-protocol`) and SERVER_BIN choose the binaries.
import { mkdirSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, api, unlockedKeyring, waitFor } from "../e2e/webdriver.mjs";
import { appTree, inject, startWorld, usage } from "./world.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/release/handoff-desktop");
const PASSWORD = "correct horse battery"; // world.mjs's
const arg = (name, fallback) => {
  const at = process.argv.indexOf(`--${name}`);
  return at === -1 ? fallback : Number(process.argv[at + 1]);
};
const WORKSPACES = arg("workspaces", 10);
const CONVERSATIONS = arg("conversations", 50);
const IDLE_SECS = arg("idle-secs", 30);
const MAX_IDLE_CPU = arg("max-idle-cpu", Infinity);
const TICKS = 100; // clock ticks a second (Linux's USER_HZ)

/** The app's processes now: each one's program and PSS, RSS (KiB) and CPU ticks, by pid. */
function measure() {
  const now = new Map();
  for (const p of appTree(APP)) {
    const u = usage(p.pid);
    if (u) now.set(p.pid, { name: p.name, ...u });
  }
  return now;
}

/**
 * Memory at the end of the window and CPU used during it, in all and by program. A process's CPU
 * counts from the window's start (one that started meanwhile, from its own start; one that
 * ended meanwhile is not in the tree at the end).
 */
function idleUse(before, after) {
  const all = { pss: 0, rss: 0, ticks: 0, each: {} };
  for (const [pid, u] of after) {
    const ticks = u.ticks - (before.get(pid)?.ticks ?? 0);
    all.pss += u.pss;
    all.rss += u.rss;
    all.ticks += ticks;
    const e = (all.each[u.name] ??= { pss: 0, ticks: 0 });
    e.pss += u.pss;
    e.ticks += ticks;
  }
  return all;
}

const mib = (kib) => +(kib / 1024).toFixed(1);
const cpu = (ticks, secs) => +((100 * ticks) / TICKS / secs).toFixed(2);

/** Starts the app on empty folders, signs Ana in to `count` workspaces, measures it at rest. */
async function run(world, count) {
  const tmp = mkdtempSync(join(tmpdir(), "handoff-perf-workspaces-"));
  mkdirSync(join(tmp, "home"), { recursive: true });
  await unlockedKeyring(join(tmp, "keyring"));
  const driver = new Driver(root);
  await driver.start(APP, { XDG_DATA_HOME: join(tmp, "data"), XDG_CONFIG_HOME: join(tmp, "config"), HOME: join(tmp, "home"), RUST_LOG: "warn" });
  try {
    await waitFor(async () => (await driver.js("return document.activeElement?.id")) === "email", "the sign-in form", 30000);
    await driver.typeOver("#server", world.server.url);
    await driver.typeOver("#email", "ana@perf.local");
    await driver.typeOver("#password", PASSWORD);
    const started = Date.now();
    await driver.click("#sign-in");
    const picking = async () => (await driver.findAll("[data-testid=pick-workspaces]")).length === 1;
    const signedIn = async () => (await driver.findAll("[data-testid=workspace]")).length > 0;
    await waitFor(async () => (await picking()) || (await signedIn()), "signed in", 30000);
    if (await picking()) {
      // The others are offered, all chosen: one workspace alone leaves them out.
      if (count === 1) {
        for (const box of await driver.findAll("[data-testid=pick-workspaces] input[type=checkbox]")) {
          await driver.wd("POST", driver.s(`/element/${box}/click`), {});
        }
      }
      await driver.click("[data-testid=pick-workspaces] button.primary");
    }
    const online = async () =>
      (await driver.js("return [...document.querySelectorAll('[data-testid=workspace]')].filter((w) => /online/.test(w.getAttribute('aria-label'))).length")) === count;
    await waitFor(online, `${count} workspaces online`, 120000);
    await waitFor(async () => (await driver.findAll("[data-testid=conversation-row]")).length > 0, "the queue", 30000);
    const signedInMs = Date.now() - started;
    const before = measure();
    const t0 = Date.now();
    await new Promise((r) => setTimeout(r, IDLE_SECS * 1000)); // the idle window measured, not a wait for readiness
    const used = idleUse(before, measure());
    const secs = (Date.now() - t0) / 1000;
    const byProgram = Object.entries(used.each).map(([name, e]) => [name, { pss_mib: mib(e.pss), idle_cpu_pct: cpu(e.ticks, secs) }]);
    return {
      workspaces: count,
      signed_in_ms: signedInMs,
      pss_mib: mib(used.pss),
      rss_mib: mib(used.rss),
      idle_cpu_pct: cpu(used.ticks, secs),
      by_program: Object.fromEntries(byProgram),
    };
  } finally {
    await driver.stop();
  }
}

const world = await startWorld(root, "perf-workspaces");
try {
  const customers = (ws) => (i) => ({ from: `+4915${String(ws).padStart(2, "0")}${String(i).padStart(6, "0")}`, name: `Customer ${ws}-${i}`, body: `Question ${i}` });
  await inject(world.admin, world.device, CONVERSATIONS, 4, customers(1));
  for (let n = 2; n <= WORKSPACES; n++) {
    const made = await world.admin("POST", "/api/v1/workspaces", { name: `Client ${n}` });
    const { token } = await api(world.server.url)("POST", "/api/v1/auth/login", { email: "admin@perf.local", password: PASSWORD, workspace_id: made.id });
    const admin = api(world.server.url, token);
    const device = await admin("POST", "/api/v1/devices", { name: `Line ${n}`, kind: "simulator" });
    await admin("POST", `/api/v1/devices/${device.id}/simulator/link`);
    await admin("POST", `/api/v1/workspaces/${made.id}/members`, { email: "ana@perf.local", role: "agent" });
    await inject(admin, device, CONVERSATIONS, 4, customers(n));
  }
  const one = await run(world, 1);
  const all = WORKSPACES > 1 ? await run(world, WORKSPACES) : one;
  const extra = WORKSPACES > 1 ? +((all.pss_mib - one.pss_mib) / (WORKSPACES - 1)).toFixed(2) : 0;
  console.log(JSON.stringify({ bench: "workspaces", binary: APP.replace(`${root}/`, ""), conversations_each: CONVERSATIONS, idle_s: IDLE_SECS, one, all, pss_per_extra_workspace_mib: extra }));
  for (const m of [one, all]) {
    if (m.idle_cpu_pct > MAX_IDLE_CPU) {
      console.error(`the app at rest with ${m.workspaces} workspace(s) used ${m.idle_cpu_pct} % of a core (budget ${MAX_IDLE_CPU} %)`);
      process.exitCode = 1;
    }
  }
} finally {
  world.server.child.kill("SIGTERM");
}
