// A long thread in the real app: one customer's 10,000 messages. How long the thread takes to
// show after a click (its newest 200 messages), how long each "Show earlier messages" takes (200
// more), and how smooth scrolling through what is shown then is: the page scrolls from the
// bottom to the top in steps, one per frame, and every frame's time is kept. Prints one JSON
// object.
// Run under a display and a session bus, with release binaries:
//
//   cargo build --release -p handoff-server -p handoff-desktop --features handoff-desktop/custom-protocol
//   xvfb-run -a dbus-run-session -- node tests/perf/thread.mjs
//
// MESSAGES (default 10,000) in the thread; STEPS (default 300) scroll steps.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, waitFor } from "../e2e/webdriver.mjs";
import { inject, signIn, startWorld } from "./world.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/release/handoff-desktop");
process.env.SERVER_BIN ??= "target/release/handoff-server";
const MESSAGES = Number(process.env.MESSAGES ?? 10000);
const STEPS = Number(process.env.STEPS ?? 300);
const EARLIER = Number(process.env.EARLIER ?? 5);
const PAGE = 200; // the thread's page (THREAD_PAGE in src-tauri/src/commands.rs, through the bindings)
const PARALLEL = 16;

const world = await startWorld(root, "thread");
const driver = new Driver(root);
try {
  await inject(world.admin, world.device, MESSAGES, PARALLEL, (i) => ({
    from: "+4915112345678",
    name: "Lena Hoffmann",
    body: `Message ${i}: ` + "my order has still not arrived, could you check again please? ".repeat(1 + (i % 3)),
  }));
  await signIn(driver, APP, world, 600000);
  await driver.click("[data-view=all]");
  await waitFor(async () => (await driver.findAll("[data-testid=conversation-row]")).length === 1, "the conversation");

  // From the click to the frame that shows the thread's messages.
  const open_ms = await driver.wd("POST", driver.s("/execute/async"), {
    script: `
      const [want, done] = arguments;
      const t0 = performance.now();
      document.querySelector("[data-testid=conversation-row] button").click();
      const check = () => document.querySelectorAll("[data-testid=thread] [data-testid=message]").length >= want
        ? done(performance.now() - t0) : requestAnimationFrame(check);
      requestAnimationFrame(check);`,
    args: [Math.min(MESSAGES, PAGE)],
  }, 300000);

  // "Show earlier messages", EARLIER times: from the click to the frame with 200 more.
  const earlier = [];
  for (let i = 0; i < EARLIER; i++) {
    const ms = await driver.wd("POST", driver.s("/execute/async"), {
      script: `
        const done = arguments[0];
        const rows = () => document.querySelectorAll("[data-testid=thread] [data-testid=message]").length;
        const before = rows();
        const button = document.querySelector("[data-testid=show-earlier]");
        if (!button) return done(null);
        const t0 = performance.now();
        button.click();
        const check = () => rows() > before ? done(performance.now() - t0) : requestAnimationFrame(check);
        requestAnimationFrame(check);`,
      args: [],
    }, 300000);
    if (ms !== null) earlier.push(ms);
  }
  const rendered = (await driver.findAll("[data-testid=thread] [data-testid=message]")).length;

  // Scroll from the bottom to the top, one step per frame; keep each frame's duration.
  const frames = await driver.wd("POST", driver.s("/execute/async"), {
    script: `
      const [steps, done] = arguments;
      const list = document.querySelector("[data-testid=thread] .messages");
      const step = list.scrollHeight / steps;
      list.scrollTop = list.scrollHeight;
      const times = [];
      let last = performance.now(), n = 0;
      const frame = (now) => {
        times.push(now - last);
        last = now;
        if (++n > steps) return done(times.slice(1));
        list.scrollTop -= step;
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);`,
    args: [STEPS],
  }, 300000);
  const sorted = [...frames].sort((a, b) => a - b);
  const r1 = (x) => Math.round(x * 10) / 10;
  const pct = (p) => r1(sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]);
  console.log(
    JSON.stringify({
      bench: "thread",
      messages: MESSAGES,
      open_ms: r1(open_ms),
      show_earlier_ms: earlier.map(r1),
      rendered,
      scroll: {
        frames: frames.length,
        frame_ms: { p50: pct(50), p90: pct(90), p99: pct(99), max: r1(sorted[sorted.length - 1]) },
        over_16_7_ms: frames.filter((t) => t > 16.7).length,
        over_50_ms: frames.filter((t) => t > 50).length,
      },
    }),
  );
} finally {
  await driver.stop();
  world.server.child.kill("SIGTERM");
}
