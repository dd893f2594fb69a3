// The people and teams of the workspace, and the saved replies its person sees.
import { call, commands } from "../core";
import type { Change, SavedReply, Team, User } from "../types";
import type { Domain } from "./workspace.svelte";

export class DirectoryStore implements Domain {
  readonly kinds = ["directory", "saved_replies"] as const;

  /** `key`: the workspace's. */
  constructor(readonly key: string) {}

  users = $state(new Map<string, User>());
  teams = $state<Team[]>([]);
  /** The workspace's library first, then my own (from the core's cache: offline too). */
  savedReplies = $state<SavedReply[]>([]);

  async load() {
    const [users, teams] = await Promise.all([
      call(commands.users(this.key)),
      call(commands.teams(this.key)),
      // Saved replies failing to read leaves the people and teams read.
      this.loadReplies().catch(() => {}),
    ]);
    this.users = new Map(users.map((u) => [u.id, u]));
    this.teams = teams;
  }

  async loadReplies() {
    this.savedReplies = await call(commands.savedReplies(this.key));
  }

  handle(change: Change) {
    if (change.kind === "saved_replies") void this.loadReplies().catch(() => {});
    else void this.load();
  }

  nameOf(userId: string): string {
    return this.users.get(userId)?.name ?? "Someone";
  }
}
