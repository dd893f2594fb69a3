// A tiny W3C WebDriver client (Node 20 fetch) for driving the real app through tauri-driver,
// plus helpers to start the real server. No npm dependencies.
import { spawn } from "node:child_process";
import { mkdirSync, openSync, readFileSync, readdirSync, readlinkSync, realpathSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";

export const ELEM = "element-6066-11e4-a52e-4f735466cecf";
const pause = (ms) => new Promise((r) => setTimeout(r, ms));

/** Polls `fn` until it returns something truthy; each try waits for the last to finish. */
export async function waitFor(fn, what, timeoutMs = 15000) {
  const end = Date.now() + timeoutMs;
  let last;
  while (Date.now() < end) {
    try {
      last = await fn();
      if (last) return last;
    } catch (e) {
      last = e;
    }
    await pause(100);
  }
  throw new Error(`timed out waiting for ${what}; last=${last}`);
}

/** Starts `handoff-server serve` on a free loopback port; resolves once it says where it listens. */
export async function startServer(root, dataDir, env = {}, listen = "127.0.0.1:0") {
  const bin = resolve(root, process.env.SERVER_BIN ?? "target/debug/handoff-server");
  const log = openSync(resolve(root, "target/e2e/server.log"), "a");
  const child = spawn(bin, ["serve", "--data-dir", dataDir, "--listen", listen], {
    // Webhooks may go to this machine: the webhook test's receiver listens here.
    env: { HANDOFF_WEBHOOKS_TO_PRIVATE_ADDRESSES: "true", ...process.env, ...env, RUST_LOG: "info,sqlx=warn" },
    stdio: ["ignore", "pipe", log],
  });
  const url = await new Promise((res, rej) => {
    let out = "";
    child.stdout.on("data", (d) => {
      out += d;
      const m = out.match(/listening on (http:\/\/[\d.:]+)/);
      if (m) res(m[1]);
    });
    child.on("exit", (code) => rej(new Error(`server exited with ${code}: ${out}`)));
  });
  return { child, url };
}

/**
 * A server with a team on it: an Admin (`admin@<domain>`), the agent Ana Lima
 * (`ana@<domain>`), both with `password`, and a linked simulator number. Returns the server, an
 * Admin's API client and the number.
 */
export async function startTeam(root, dataDir, domain, password) {
  const server = await startServer(root, dataDir, { HANDOFF_ADMIN_EMAIL: `admin@${domain}`, HANDOFF_ADMIN_PASSWORD: password });
  const { token } = await api(server.url)("POST", "/api/v1/auth/login", { email: `admin@${domain}`, password });
  const admin = api(server.url, token);
  await admin("POST", "/api/v1/users", { email: `ana@${domain}`, name: "Ana Lima", password, role: "agent" });
  const device = await admin("POST", "/api/v1/devices", { name: "Support line", kind: "simulator" });
  await admin("POST", `/api/v1/devices/${device.id}/simulator/link`);
  return { server, admin, device };
}

/** JSON over HTTP against the server's public API. */
export function api(base, token) {
  return async (method, path, body) => {
    const res = await fetch(`${base}${path}`, {
      method,
      headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15000),
    });
    const text = await res.text();
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${text}`);
    return text ? JSON.parse(text) : null;
  };
}

/** The pids of the running processes whose program is `bin` (a real path). Linux: /proc. */
export function pidsOf(bin) {
  const pids = [];
  for (const name of readdirSync("/proc")) {
    if (!/^\d+$/.test(name)) continue;
    try {
      if (readlinkSync(`/proc/${name}/exe`) === bin) pids.push(Number(name));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return pids;
}

/** Sends `signal` to every process of `bin`; one that exited meanwhile is skipped. */
function signalAll(bin, signal) {
  for (const pid of pidsOf(bin)) {
    try {
      process.kill(pid, signal);
    } catch {
      // exited meanwhile
    }
  }
}

/**
 * Waits for every process of `bin` to exit. Ending a WebDriver session closes the app's webview
 * but not always the app (WebKitWebDriver leaves it running on its own at times), so one still
 * there after 2 s is sent SIGTERM, and after 5 s more SIGKILL.
 */
async function appGone(bin) {
  const gone = () => pidsOf(bin).length === 0;
  for (const [signal, ms] of [[null, 2000], ["SIGTERM", 5000], ["SIGKILL", 5000]]) {
    if (signal) {
      console.error(`# ${bin} still running after its session ended: ${signal}`);
      signalAll(bin, signal);
    }
    try {
      return await waitFor(gone, `${bin} to exit`, ms);
    } catch {
      // on to the next signal
    }
  }
  throw new Error(`${bin} did not exit, even after SIGKILL (pids ${pidsOf(bin).join(", ")})`);
}

export class Driver {
  constructor(root, port = Number(process.env.TAURI_DRIVER_PORT ?? 4444)) {
    this.root = root;
    this.port = port;
    this.base = `http://127.0.0.1:${port}`;
  }

  async start(app, env) {
    this.app = realpathSync(resolve(this.root, app));
    mkdirSync(resolve(this.root, "target/e2e"), { recursive: true });
    const log = openSync(resolve(this.root, "target/e2e/tauri-driver.log"), "w");
    this.proc = spawn(process.env.TAURI_DRIVER ?? "tauri-driver", ["--port", String(this.port), "--native-port", String(this.port + 1)], {
      stdio: ["ignore", log, log],
      env: { ...process.env, ...env },
    });
    await waitFor(async () => (await fetch(`${this.base}/status`)).ok, "tauri-driver /status");
    const created = await this.wd("POST", "/session", { capabilities: { alwaysMatch: { "tauri:options": { application: app } } } });
    this.session = created.sessionId;
  }

  async stop() {
    if (this.session) await this.wd("DELETE", `/session/${this.session}`, undefined, 10000).catch(() => {});
    if (this.proc && this.proc.exitCode === null) {
      const exited = new Promise((r) => this.proc.once("exit", r));
      this.proc.kill("SIGTERM");
      await Promise.race([exited, pause(3000)]);
      if (this.proc.exitCode === null) this.proc.kill("SIGKILL");
    }
    // A start before the app has gone would be handed to it by the single-instance lock and
    // exit, and the new session would wait for a window that never comes.
    if (this.app) await appGone(this.app);
  }

  async wd(method, path, body, timeoutMs = 30000) {
    const res = await fetch(`${this.base}${path}`, {
      method,
      signal: AbortSignal.timeout(timeoutMs),
      headers: { "content-type": "application/json" },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json().catch(() => ({}));
    if (!res.ok) throw new Error(`${method} ${path} -> ${res.status} ${JSON.stringify(json)}`);
    return json.value;
  }

  s(path) {
    return `/session/${this.session}${path}`;
  }

  async find(css) {
    return (await this.wd("POST", this.s("/element"), { using: "css selector", value: css }))[ELEM];
  }

  async findAll(css) {
    return (await this.wd("POST", this.s("/elements"), { using: "css selector", value: css })).map((e) => e[ELEM]);
  }

  async text(css) {
    return this.wd("GET", this.s(`/element/${await this.find(css)}/text`));
  }

  /** The rendered text of the first element matching `css`, read in the page. (WebKitWebDriver's
   * own text call answers "" for text inside a button styled `all: unset`.) */
  async innerText(css) {
    return this.js("const e = document.querySelector(arguments[0]); return e ? e.innerText : null", css);
  }

  /** Runs a script in the page and returns its result. */
  async js(script, ...args) {
    return this.wd("POST", this.s("/execute/sync"), { script, args });
  }

  async click(css) {
    await this.wd("POST", this.s(`/element/${await this.find(css)}/click`), {});
  }

  /** Replaces an input's value: clear, then type (clear alone fires only `change`, which
   * Svelte's bind:value does not hear; the typing that follows fires `input` with the new value). */
  /** Replaces a field's text, and checks it took: a webview that has only just started can drop
   * keystrokes (seen on a fresh machine: a server address typed as "http://127.0.0.1:33"). */
  async typeOver(css, text) {
    const el = await this.find(css);
    let value;
    for (let attempt = 0; attempt < 3; attempt++) {
      await this.wd("POST", this.s(`/element/${el}/clear`), {});
      await this.wd("POST", this.s(`/element/${el}/value`), { text });
      value = await this.wd("GET", this.s(`/element/${el}/property/value`));
      if (value === text) return;
    }
    throw new Error(`${css} holds ${JSON.stringify(value)} after typing ${JSON.stringify(text)}`);
  }

  /**
   * Signs in through the sign-in form and waits until the app is online (`what` names that wait).
   * Typing waits for the email field to have taken the focus (autofocus): typing earlier can
   * lose keys to that focus change.
   */
  async signIn(server, email, password, what = "online") {
    await waitFor(async () => (await this.js("return document.activeElement?.id")) === "email", "the sign-in form, focused");
    await this.typeOver("#server", server);
    await this.typeOver("#email", email);
    await this.typeOver("#password", password);
    await this.click("#sign-in");
    await waitFor(async () => (await this.text("[data-testid=connection-state]")) === "Online", what);
  }

  async type(css, text) {
    const el = await this.find(css);
    await this.wd("POST", this.s(`/element/${el}/value`), { text });
  }

  /** Presses `keys` together, as a person does (Control and 1: "\uE009", "1"), then lets go. */
  async keys(...keys) {
    const down = keys.map((value) => ({ type: "keyDown", value }));
    const up = [...keys].reverse().map((value) => ({ type: "keyUp", value }));
    await this.wd("POST", this.s("/actions"), { actions: [{ type: "key", id: "keyboard", actions: [...down, ...up] }] });
    await this.wd("DELETE", this.s("/actions"));
  }

  async screenshot(name) {
    const png = await this.wd("GET", this.s("/screenshot"));
    writeFileSync(resolve(this.root, `target/e2e/${name}.png`), Buffer.from(png, "base64"));
  }
}

/**
 * Wraps test bodies so that a failure keeps a screenshot of the window (`target/e2e/<name>-failed.png`)
 * and adds to the error what the window said and the app log's last warnings: a CI log then tells
 * why without the screenshot. `driver` is a function: the tests make their driver later.
 */
export function screenshotOnFailure(driver, appLog) {
  return (name, body) => async () => {
    try {
      await body();
    } catch (e) {
      await driver().screenshot(`${name}-failed`).catch(() => {});
      const said = await whatTheAppSaid(driver(), appLog);
      // Some errors' message cannot be written (a DOMException from a fetch's timeout): wrap those.
      if (e instanceof Error && Object.getOwnPropertyDescriptor(e, "message")?.writable) {
        e.message += said;
        throw e;
      }
      throw new Error(`${e?.name ?? "Error"}: ${e?.message ?? e}${said}`, { cause: e });
    }
  };
}

/** The window's text and the app log's last warnings and errors, a few lines each. */
async function whatTheAppSaid(driver, appLog) {
  const squeeze = (text, max) => (text.length > max ? `${text.slice(0, max)}…` : text);
  const shown = await driver
    .js("return document.body.innerText")
    .then((t) => squeeze(String(t ?? "").replace(/\s+/g, " ").trim(), 400))
    .catch((e) => `(the window did not answer: ${e.message})`);
  let log;
  try {
    const lines = readFileSync(appLog, "utf8").split("\n");
    const notable = lines.filter((l) => /\s(WARN|ERROR)\s/.test(l)).slice(-6);
    log = [...notable, "…", ...lines.filter(Boolean).slice(-4)].map((l) => `    ${squeeze(l, 300)}`).join("\n");
  } catch (e) {
    log = `    (no app log: ${e.message})`;
  }
  return `\n  the window showed: ${shown}\n  the app log's last warnings, then its last lines:\n${log}`;
}

/** Starts a notification server (dunst) on the session bus and records every notification's
 * summary as dbus-monitor sees it. Needs DISPLAY and a session bus (xvfb-run + dbus-run-session). */
export async function watchNotifications(root) {
  const dunst = spawn("dunst", ["-conf", "/dev/null"], { stdio: "ignore" });
  const monitor = spawn("dbus-monitor", ["--session", "type='method_call',interface='org.freedesktop.Notifications',member='Notify'"], {
    stdio: ["ignore", "pipe", "ignore"],
  });
  let log = "";
  monitor.stdout.on("data", (d) => (log += d));
  await waitFor(() => log.includes("NameLost"), "dbus-monitor ready");
  return {
    /** Summaries of the Notify calls so far (the third string argument of each call). */
    summaries() {
      const out = [];
      for (const call of log.split(/^method call /m).slice(1)) {
        const strings = [...call.matchAll(/^ {3}string "(.*)"$/gm)].map((m) => m[1]);
        if (strings.length >= 3) out.push(strings[2]);
      }
      writeFileSync(resolve(root, "target/e2e/notifications.txt"), out.join("\n") + "\n");
      return out;
    },
    stop() {
      monitor.kill();
      dunst.kill();
    },
  };
}

/**
 * Starts gnome-keyring on the session bus, with a new login keyring in `dir`, unlocked: the
 * Secret Service the app keeps its session token in. Needs a session bus (dbus-run-session); the
 * daemon leaves with it.
 */
export async function unlockedKeyring(dir) {
  mkdirSync(dir, { recursive: true });
  const launcher = spawn("gnome-keyring-daemon", ["--unlock", "--components=secrets"], {
    env: { ...process.env, HOME: dir, XDG_DATA_HOME: join(dir, "data"), XDG_CACHE_HOME: join(dir, "cache") },
    stdio: ["pipe", "ignore", "inherit"],
  });
  launcher.stdin.end("e2e-keyring"); // the new keyring's password, read from stdin
  const code = await new Promise((res) => launcher.on("exit", res));
  if (code !== 0) throw new Error(`gnome-keyring-daemon --unlock exited with ${code}`);
  const owned = () =>
    new Promise((res) => {
      const ask = spawn("dbus-send", ["--session", "--print-reply", "--dest=org.freedesktop.DBus", "/org/freedesktop/DBus",
        "org.freedesktop.DBus.NameHasOwner", "string:org.freedesktop.secrets"], { stdio: ["ignore", "pipe", "ignore"] });
      let out = "";
      ask.stdout.on("data", (d) => (out += d));
      ask.on("exit", () => res(out.includes("boolean true")));
    });
  await waitFor(owned, "the Secret Service on the session bus");
}
