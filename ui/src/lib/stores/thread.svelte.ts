// The open conversation: its thread (the newest messages, and earlier ones a page at a time on
// request), and what the server said about a change made in it (a refusal to review, a notice).
import { THREAD_PAGE } from "../../bindings";
import { type Refusal } from "../thread/Composer.svelte";
import { call, commands, messageOf } from "../core";
import type { Attention, Change, Thread } from "../types";
import type { Domain, Problem } from "./workspace.svelte";

export class ThreadStore implements Domain {
  readonly kinds = ["conversation", "rejected"] as const;

  selectedId = $state<string | null>(null);
  thread = $state<Thread | null>(null);
  /** A refused reply or note, its text kept for the composer. */
  refusal = $state<Refusal | null>(null);
  /** A refusal without text to take back (a claim that lost, say). */
  notice = $state("");

  /** `problem`: where a refusal in another conversation than the open one is told. */
  /** `key`: the workspace's. */
  constructor(
    readonly key: string,
    private readonly problem: Problem,
  ) {}

  // The thread keeps the oldest message it shows (`#from`), so new messages add to it and
  // nothing it shows drops out.
  #newest: number = THREAD_PAGE;
  #from: string | null = null;
  #request = 0;
  /** The newest load: what a selection waits for (an older answer is dropped). */
  #latest: Promise<void> = Promise.resolve();

  load(): Promise<void> {
    this.#latest = this.#load();
    return this.#latest;
  }

  async #load() {
    if (!this.selectedId) {
      this.thread = null;
      return;
    }
    const request = ++this.#request;
    const loaded = await call(commands.thread(this.key, this.selectedId, this.#newest, this.#from));
    if (request !== this.#request) return;
    this.thread = loaded;
    this.#from = loaded?.messages[0]?.id ?? null;
  }

  /** Until the newest load has answered (a load started meanwhile is waited for too). */
  async #settled() {
    let waited: Promise<void>;
    do {
      waited = this.#latest;
      await waited;
    } while (waited !== this.#latest);
  }

  handle(change: Change) {
    if (change.kind === "conversation") {
      if (change.conversation_id === this.selectedId) void this.load();
      return;
    }
    if (change.kind !== "rejected") return;
    if (change.conversation_id !== this.selectedId) {
      this.problem.message = change.error.message;
    } else if (change.error.code === "conversation_changed" && change.body) {
      this.refusal = {
        op: change.op,
        body: change.body,
        changes: change.error.changes ?? [],
        message: change.error.message,
        mutationId: change.mutation_id,
      };
    } else {
      this.notice = change.error.message;
    }
  }

  /** Opens a conversation: its thread, "viewing" for the others, and read if it had unread messages. */
  async select(id: string) {
    if (this.selectedId !== id) {
      this.refusal = null;
      this.notice = "";
      this.#newest = THREAD_PAGE;
      this.#from = null;
    }
    this.selectedId = id;
    void this.load();
    await this.#settled();
    void commands.setPresence(this.key, id, "viewing");
    if (this.shows(id) && this.thread!.conversation.unread_count > 0) void call(commands.markRead(this.key, id)).catch(() => {});
  }

  /** The thread shown is this conversation's (not a previous one's, not missing). */
  shows(id: string): boolean {
    return this.thread?.conversation.id === id;
  }

  /** The next page of earlier messages. */
  async showEarlier() {
    if (!this.thread) return;
    this.#newest = this.thread.messages.length + THREAD_PAGE;
    this.#from = null;
    void this.load();
    await this.#settled();
  }

  /** Opens a refused change in its conversation, its text back in the composer. */
  async review(item: Attention) {
    await this.select(item.conversation_id);
    this.refusal = { op: item.op, body: item.body, changes: item.error.changes ?? [], message: item.error.message, mutationId: item.mutation_id };
  }

  /** The refusal panel is done (sent anyway, taken into the composer, or discarded). */
  refusalDone() {
    if (this.refusal) void call(commands.dismissAttention(this.key, this.refusal.mutationId)).catch((e) => (this.problem.message = messageOf(e)));
    this.refusal = null;
  }
}
