// One workspace in the app as the UI holds it: its key (named in every command), who is signed
// in there, a store per domain, each re-reading on its own kinds of change from that
// workspace's core, and the connection's state. Every workspace in the app has its set, live
// while another is on screen (the switcher shows their counts and connections). The inbox's
// components read the stores; the screens with data of their own (the dashboard, search,
// administration) still read it themselves, through the key their workspace provides.
import { getContext, setContext } from "svelte";
import { call, commands, onChange } from "../core";
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

/** Where a notification, the tray or a link asks the workspace to go (taken by its inbox). */
export type Request = { kind: "conversation"; id: string } | { kind: "devices" } | { kind: "webhooks" };

export class Workspace {
  session = $state<SessionInfo>() as SessionInfo;
  connection = $state<ConnectionState>({ state: "connecting" });
  /** Asked from outside the window, until its inbox shows it. */
  request = $state<Request | null>(null);

  readonly problem = new Problem();
  readonly inbox: InboxStore;
  readonly thread: ThreadStore;
  readonly presence: PresenceStore;
  readonly directory: DirectoryStore;
  readonly devices: DevicesStore;

  readonly #domains: Domain[];
  #connectionEvents = 0;

  /** `key`: the workspace's in the app; `session`: who is signed in there (signing in again replaces it). */
  constructor(
    readonly key: string,
    session: SessionInfo,
  ) {
    this.session = session;
    this.inbox = new InboxStore(key, this.problem);
    this.thread = new ThreadStore(key, this.problem);
    this.presence = new PresenceStore(key, () => this.session.user.id);
    this.directory = new DirectoryStore(key);
    this.devices = new DevicesStore(key);
    this.#domains = [this.inbox, this.thread, this.presence, this.directory, this.devices];
  }

  /** What the switcher calls it: the workspace's name, else the server's host. */
  get name(): string {
    return this.session.workspace?.name ?? this.host;
  }

  /** The server's host (and port). */
  get host(): string {
    return hostOf(this.session.server);
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

  /** Listens to its core, then reads everything (a change between the two is never missed); returns the stop. */
  start(): () => void {
    let unlisten: (() => void) | undefined;
    let stopped = false;
    void onChange(this.key, (change) => this.handle(change)).then(async (u) => {
      if (stopped) return u();
      unlisten = u;
      const before = this.#connectionEvents;
      const state = await call(commands.connection(this.key)).catch(() => null);
      // A state an event brought meanwhile is newer than the one read.
      if (state && this.#connectionEvents === before) this.connection = state;
      await Promise.all(this.#domains.map((d) => d.load().catch(() => {})));
    });
    const stopTick = this.presence.start();
    return () => {
      stopped = true;
      unlisten?.();
      stopTick();
    };
  }
}

function hostOf(server: string): string {
  try {
    return new URL(server).host;
  } catch {
    return server;
  }
}

const CONTEXT = Symbol("workspace");

/** Makes `key` the workspace of the components below (the inbox of that workspace does). */
export function provideWorkspace(key: string) {
  setContext(CONTEXT, key);
}

/** The key of the workspace this component is in, for its commands. */
export function workspaceKey(): string {
  const key = getContext<string | undefined>(CONTEXT);
  if (!key) throw new Error("this component is not inside a workspace");
  return key;
}

/** The context a component rendered on its own (in a unit test) needs to be in workspace `key`. */
export function workspaceContext(key: string): Map<unknown, unknown> {
  return new Map([[CONTEXT, key]]);
}
