// Presence as the core knows it: who is online, and who is viewing or writing where. Writing
// entries carry their own expiry, checked on a one-second tick.
import { call, commands } from "../core";
import type { Activity, Change, Conversation, PresenceView } from "../types";
import type { Domain } from "./workspace.svelte";

export class PresenceStore implements Domain {
  readonly kinds = ["presence", "status", "roster"] as const;

  view = $state<PresenceView>({ statuses: [], activities: [] });
  /** Moves on every second: what reads it is re-evaluated (expiries, "for 5 min" labels). */
  tick = $state(0);

  /** `key`: the workspace's; `me`: whose own activity is left out. */
  constructor(
    readonly key: string,
    private readonly me: () => string,
  ) {}

  async load() {
    this.view = await call(commands.presence(this.key));
  }

  handle(_change: Change) {
    void this.load();
  }

  /** Starts the tick; returns its stop. */
  start(): () => void {
    const timer = setInterval(() => (this.tick += 1), 1000);
    return () => clearInterval(timer);
  }

  /** Who else is in a conversation now, and doing what. */
  live(conversationId: string): Map<string, Activity> {
    void this.tick;
    const now = Date.now();
    const out = new Map<string, Activity>();
    for (const a of this.view.activities) {
      const fresh = !a.expires_at || new Date(a.expires_at).getTime() > now;
      if (a.conversation_id === conversationId && a.user_id !== this.me() && fresh) out.set(a.user_id, a.activity);
    }
    return out;
  }

  /** The conversations among `conversations` someone else is writing in. */
  typingIn(conversations: Conversation[]): Set<string> {
    return new Set(conversations.filter((c) => [...this.live(c.id).values()].some((a) => a.startsWith("composing"))).map((c) => c.id));
  }
}
