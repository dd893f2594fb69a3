// The queue: which view is shown, its rows (a page more each time the agent scrolls to its end),
// the rail's counts, the labels in use and the refused changes waiting for me.
import { INBOX_PAGE } from "../../bindings";
import { call, commands, messageOf } from "../core";
import type { Attention, Change, Conversation, InboxView, ViewCounts } from "../types";
import type { Domain, Problem } from "./workspace.svelte";

const NO_COUNTS: ViewCounts = { mine: 0, unassigned: 0, all: 0, mentions: 0, snoozed: 0, resolved: 0, teams: [] };

export class InboxStore implements Domain {
  readonly kinds = ["inbox", "mentioned", "attention"] as const;

  view = $state<InboxView>("unassigned");
  teamId = $state<string | null>(null);
  /** Narrows any view to the conversations carrying it; "" for all. */
  label = $state("");
  conversations = $state<Conversation[]>([]);
  counts = $state<ViewCounts>(NO_COUNTS);
  labels = $state<string[]>([]);
  attention = $state<Attention[]>([]);

  /** `key`: the workspace's; `problem`: where a failed read is told (a successful one clears it). */
  constructor(
    readonly key: string,
    private readonly problem: Problem,
  ) {}

  #limit: number = INBOX_PAGE;
  // Answers can arrive after newer ones: only the latest request's answer counts.
  #request = 0;

  async load() {
    await Promise.all([this.loadQueue(), this.loadAttention()]);
  }

  handle(change: Change) {
    if (change.kind === "attention") void this.loadAttention();
    else void this.loadQueue();
  }

  async loadQueue() {
    const request = ++this.#request;
    try {
      const [list, counts, labels] = await Promise.all([
        call(commands.inbox(this.key, this.view, this.teamId, this.label || null, this.#limit)),
        call(commands.counts(this.key)),
        call(commands.labels(this.key)),
      ]);
      if (request !== this.#request) return;
      this.conversations = list;
      this.counts = counts;
      this.labels = labels;
      if (this.label && !labels.includes(this.label)) this.label = "";
      this.problem.message = "";
    } catch (e) {
      this.problem.message = messageOf(e);
    }
  }

  async loadAttention() {
    this.attention = await call(commands.attention(this.key));
  }

  /** Shows a view (a team's, with `team`) from its first page. */
  setView(view: InboxView, team?: string) {
    this.view = view;
    this.teamId = view === "team" ? (team ?? null) : null;
    this.#limit = INBOX_PAGE;
    void this.loadQueue();
  }

  /** Narrows the view to a label ("" for all), from its first page. */
  setLabel(label: string) {
    this.label = label;
    this.#limit = INBOX_PAGE;
    void this.loadQueue();
  }

  /** The agent reached the end of what the queue holds: the next page, if the view has more. */
  more() {
    if (this.conversations.length < this.#limit) return;
    this.#limit += INBOX_PAGE;
    void this.loadQueue();
  }
}
