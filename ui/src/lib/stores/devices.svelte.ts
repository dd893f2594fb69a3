// The workspace's linked WhatsApp numbers and their state.
import { call, commands } from "../core";
import type { Change, Device } from "../types";
import type { Domain } from "./workspace.svelte";

export class DevicesStore implements Domain {
  // Device changes come with the directory's.
  readonly kinds = ["directory"] as const;

  /** `key`: the workspace's. */
  constructor(readonly key: string) {}

  byId = $state(new Map<string, Device>());
  readonly all = $derived([...this.byId.values()]);

  async load() {
    const devices = await call(commands.devices(this.key));
    this.byId = new Map(devices.map((d) => [d.id, d]));
  }

  handle(_change: Change) {
    void this.load();
  }
}
