// What the app measurements share: a real server with an Admin, an agent (Ana) and a linked
// simulator number, and the real app signed in as Ana.
import { mkdtempSync, readFileSync, readdirSync, readlinkSync, realpathSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { api, startServer, waitFor } from "../e2e/webdriver.mjs";

const PASSWORD = "correct horse battery";

/** Starts the server in a fresh folder (`name` tells the folders apart) with Ana and a linked
 * simulator; returns the folder, the server, the Admin's API and the device. */
export async function startWorld(root, name) {
  const tmp = mkdtempSync(join(tmpdir(), `handoff-${name}-`));
  const server = await startServer(root, join(tmp, "server"), {
    HANDOFF_ADMIN_EMAIL: "admin@perf.local",
    HANDOFF_ADMIN_PASSWORD: PASSWORD,
  });
  const { token } = await api(server.url)("POST", "/api/v1/auth/login", { email: "admin@perf.local", password: PASSWORD });
  const admin = api(server.url, token);
  await admin("POST", "/api/v1/users", { email: "ana@perf.local", name: "Ana Lima", password: PASSWORD, role: "agent" });
  const device = await admin("POST", "/api/v1/devices", { name: "Support line", kind: "simulator" });
  await admin("POST", `/api/v1/devices/${device.id}/simulator/link`);
  return { tmp, server, admin, device };
}

/** Customer messages `count` times, `parallel` requests at a time; `inbound(i)` is the i-th body. */
export async function inject(admin, device, count, parallel, inbound) {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      await admin("POST", `/api/v1/devices/${device.id}/simulator/inbound`, inbound(next++));
    }
  };
  await Promise.all(Array.from({ length: parallel }, worker));
}

/** Starts the app with empty data and config folders and signs Ana in; resolves once it is online. */
export async function signIn(driver, app, world, onlineTimeoutMs = 15000) {
  await driver.start(app, { XDG_DATA_HOME: join(world.tmp, "data"), XDG_CONFIG_HOME: join(world.tmp, "config") });
  await waitFor(async () => (await driver.js("return document.activeElement?.id")) === "email", "the sign-in form");
  await driver.typeOver("#server", world.server.url);
  await driver.typeOver("#email", "ana@perf.local");
  await driver.typeOver("#password", PASSWORD);
  const started = Date.now();
  await driver.click("#sign-in");
  await waitFor(async () => (await driver.text("[data-testid=connection-state]")) === "Online", "online", onlineTimeoutMs);
  return (Date.now() - started) / 1000;
}

/** Every process: pid, parent, executable, name. */
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
        return [{ pid: Number(pid), ppid, exe, name: readFileSync(`/proc/${pid}/comm`, "utf8").trim() }];
      } catch {
        return [];
      }
    });
}

/** The process running `app` (a path) and all its descendants (WebKit's web and network processes). */
export function appTree(app) {
  const all = processes();
  // /proc names the file itself: a target folder that is a symlink resolves to another path.
  const real = realpathSync(app);
  const top = all.find((p) => p.exe === real);
  if (!top) return [];
  const tree = [top];
  for (let i = 0; i < tree.length; i++) tree.push(...all.filter((p) => p.ppid === tree[i].pid));
  return tree;
}

/**
 * What a process uses now: proportional set size and resident size in KiB (PSS counts each shared
 * page once across the processes sharing it) and CPU time so far in clock ticks (user + system,
 * 100 a second); null for one gone meanwhile.
 */
export function usage(pid) {
  try {
    const rollup = readFileSync(`/proc/${pid}/smaps_rollup`, "utf8");
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return {
      pss: Number(rollup.match(/^Pss:\s+(\d+)/m)?.[1] ?? 0),
      rss: Number(rollup.match(/^Rss:\s+(\d+)/m)?.[1] ?? 0),
      ticks: Number(fields[11]) + Number(fields[12]),
    };
  } catch {
    return null;
  }
}
