// The people and teams of the workspace.
import { call, commands } from "../core";
import type { Change, Team, User } from "../types";
import type { Domain } from "./workspace.svelte";

export class DirectoryStore implements Domain {
  readonly kinds = ["directory"] as const;

  /** `key`: the workspace's. */
  constructor(readonly key: string) {}

  users = $state(new Map<string, User>());
  teams = $state<Team[]>([]);

  async load() {
    const [users, teams] = await Promise.all([call(commands.users(this.key)), call(commands.teams(this.key))]);
    this.users = new Map(users.map((u) => [u.id, u]));
    this.teams = teams;
  }

  handle(_change: Change) {
    void this.load();
  }

  nameOf(userId: string): string {
    return this.users.get(userId)?.name ?? "Someone";
  }
}
