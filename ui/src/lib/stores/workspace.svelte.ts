// One signed-in workspace as the UI holds it: a store per domain, each re-reading on its own
// kinds of change from the core, and the connection's state. The inbox's components read the
// stores; the screens with data of their own (the dashboard, search, administration) still read
// it themselves.
import { commands, onChange } from "../core";
import type { Change, ConnectionState, SessionInfo } from "../types";
import { DevicesStore } from "./devices.svelte";
import { DirectoryStore } from "./directory.svelte";
import { InboxStore } from "./inbox.svelte";
import { PresenceStore } from "./presence.svelte";
import { ThreadStore } from "./thread.svelte";

/** A store of one domain: the kinds of change it follows, and how it reads what it shows. */
export interface Domain {
  readonly kinds: readonly Change["kind"][];
  handle(change: Change): void;
  load(): Promise<void>;
}

/** The one problem the queue pane shows (a failed read, a refusal elsewhere), until the next good read. */
export class Problem {
  message = $state("");
}

export class Workspace {
  connection = $state<ConnectionState>({ state: "connecting" });

  readonly problem = new Problem();
  readonly inbox = new InboxStore(this.problem);
  readonly thread = new ThreadStore(this.problem);
  readonly presence = new PresenceStore(() => this.session.user.id);
  readonly #session: () => SessionInfo;
  readonly directory = new DirectoryStore();
  readonly devices = new DevicesStore();

  readonly #domains: Domain[] = [this.inbox, this.thread, this.presence, this.directory, this.devices];
  #connectionEvents = 0;

  /** `session`: who is signed in here (read each time: signing in again may change it). */
  constructor(session: () => SessionInfo) {
    this.#session = session;
  }

  get session(): SessionInfo {
    return this.#session();
  }

  /** Routes a change from the core to the stores that follow its kind. */
  handle(change: Change) {
    if (change.kind === "connection") {
      this.#connectionEvents += 1;
      this.connection = change.state;
    }
    for (const domain of this.#domains) {
      if (domain.kinds.includes(change.kind)) domain.handle(change);
    }
  }

  /** Listens to the core, then reads everything (a change between the two is never missed); returns the stop. */
  start(): () => void {
    let unlisten: (() => void) | undefined;
    let stopped = false;
    void onChange((change) => this.handle(change)).then(async (u) => {
      if (stopped) return u();
      unlisten = u;
      const before = this.#connectionEvents;
      const state = await commands.connection();
      // A state an event brought meanwhile is newer than the one read.
      if (this.#connectionEvents === before) this.connection = state;
      await Promise.all(this.#domains.map((d) => d.load()));
    });
    const stopTick = this.presence.start();
    return () => {
      stopped = true;
      unlisten?.();
      stopTick();
    };
  }
}
