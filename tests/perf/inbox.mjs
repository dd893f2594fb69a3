// The inbox with many cached conversations, in the real app: how long a first sync of them takes
// (a bulk import), how long the queue takes to show after switching to it, and how smoothly it
// scrolls. Prints one JSON object. Run under a display and a session bus, with release binaries:
//
//   cargo build --release -p handoff-server -p handoff-desktop --features handoff-desktop/custom-protocol
//   xvfb-run -a dbus-run-session -- node tests/perf/inbox.mjs
//
// CONVERSATIONS (default 50,000) customers each write once; ROUNDS (default 5) view switches;
// STEPS (default 300) scroll steps of 500 px down the queue.
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Driver, waitFor } from "../e2e/webdriver.mjs";
import { inject, signIn, startWorld } from "./world.mjs";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "../..");
const APP = resolve(root, process.env.APP_BIN ?? "target/release/handoff-desktop");
process.env.SERVER_BIN ??= "target/release/handoff-server";
const CONVERSATIONS = Number(process.env.CONVERSATIONS ?? 50000);
const ROUNDS = Number(process.env.ROUNDS ?? 5);
const PARALLEL = 16;
const PAGE = 2000; // the queue's page (Inbox.svelte)
const STEPS = Number(process.env.STEPS ?? 300);
const STEP_PX = 500; // 300 steps of 500 px: 150,000 px, about 2,500 rows: past the first page's end

const r1 = (x) => Math.round(x * 10) / 10;
const world = await startWorld(root, "inbox");
const driver = new Driver(root);
try {
  const seeding = Date.now();
  await inject(world.admin, world.device, CONVERSATIONS, PARALLEL, (i) => ({
    from: `+4915${String(100000000 + i)}`,
    name: `Customer ${i}`,
    body: `Question ${i}: where is my order?`,
  }));
  const seeded_s = (Date.now() - seeding) / 1000;
  const first_sync_s = await signIn(driver, APP, world, 600000);

  // Each round: from an empty view, switch to All and time until the queue holds every
  // conversation and its first rows are on screen (measured in the page, from the click to the
  // frame that shows them). The queue is windowed: only the rows in view are in the page.
  const firstPage = Math.min(CONVERSATIONS, PAGE);
  const times = [];
  let rendered = 0;
  for (let r = 0; r < ROUNDS; r++) {
    await driver.click("[data-view=mine]");
    await waitFor(async () => (await driver.findAll("[data-testid=conversation-row]")).length === 0, "an empty view");
    const [ms, rows] = await driver.wd("POST", driver.s("/execute/async"), {
      script: `
        const [want, done] = arguments;
        const t0 = performance.now();
        document.querySelector("[data-view=all]").click();
        const check = () => {
          const queue = document.querySelector("[data-testid=queue]");
          const rows = document.querySelectorAll("[data-testid=conversation-row]").length;
          if (queue && Number(queue.dataset.count) === want && rows > 0) done([performance.now() - t0, rows]);
          else requestAnimationFrame(check);
        };
        requestAnimationFrame(check);`,
      args: [firstPage],
    }, 120000);
    times.push(ms);
    rendered = rows;
  }

  // Scroll the queue from the top down, one step per frame (the next 2,000 load on reaching the
  // end); keep each frame's duration.
  const scroll = await driver.wd("POST", driver.s("/execute/async"), {
    script: `
      const [steps, stepPx, done] = arguments;
      const queue = document.querySelector("[data-testid=queue]").parentElement;
      queue.scrollTop = 0;
      const times = [];
      let last = performance.now(), n = 0;
      const frame = (now) => {
        times.push(now - last);
        last = now;
        if (++n > steps) return done({ times: times.slice(1), held: Number(document.querySelector("[data-testid=queue]").dataset.count) });
        queue.scrollTop += stepPx;
        requestAnimationFrame(frame);
      };
      requestAnimationFrame(frame);`,
    args: [STEPS, STEP_PX],
  }, 300000);
  const frames = [...scroll.times].sort((a, b) => a - b);
  const pct = (p) => r1(frames[Math.min(frames.length - 1, Math.floor((p / 100) * frames.length))]);
  times.sort((a, b) => a - b);
  console.log(
    JSON.stringify({
      bench: "inbox",
      conversations: CONVERSATIONS,
      seeded_s: r1(seeded_s),
      first_sync_s: r1(first_sync_s),
      queue_holds: firstPage,
      rows_in_page: rendered,
      switch_to_all_ms: { p50: r1(times[Math.floor(times.length / 2)]), max: r1(times[times.length - 1]), rounds: ROUNDS },
      scroll: {
        frames: frames.length,
        px_per_frame: STEP_PX,
        p50_ms: pct(50),
        p99_ms: pct(99),
        max_ms: r1(frames[frames.length - 1]),
        over_50ms: frames.filter((t) => t > 50).length,
        queue_holds_after: scroll.held,
      },
    }),
  );
} finally {
  await driver.stop();
  world.server.child.kill("SIGTERM");
}
