// The inbox with many cached conversations, in the real app: how long a first sync of them takes
// (a bulk import), and how long the queue takes to show after switching to it. Prints one JSON
// object. Run under a display and a session bus, with release binaries:
//
//   cargo build --release -p handoff-server -p handoff-desktop --features handoff-desktop/custom-protocol
//   xvfb-run -a dbus-run-session -- node tests/perf/inbox.mjs
//
// CONVERSATIONS (default 50,000) customers each write once; ROUNDS (default 5) view switches.
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
      args: [CONVERSATIONS],
    }, 120000);
    times.push(ms);
    rendered = rows;
  }
  times.sort((a, b) => a - b);
  const r1 = (x) => Math.round(x * 10) / 10;
  console.log(
    JSON.stringify({
      bench: "inbox",
      conversations: CONVERSATIONS,
      seeded_s: r1(seeded_s),
      first_sync_s: r1(first_sync_s),
      rows_in_page: rendered,
      switch_to_all_ms: { p50: r1(times[Math.floor(times.length / 2)]), max: r1(times[times.length - 1]), rounds: ROUNDS },
    }),
  );
} finally {
  await driver.stop();
  world.server.child.kill("SIGTERM");
}
