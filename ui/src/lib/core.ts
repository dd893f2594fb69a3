// The one door from the UI into the Rust core: typed commands (generated bindings) whose
// failures become thrown `CommandFailure`s with a code and a sentence for people.
import { commands, events, type UpdateState } from "../bindings";
import type { Change, CommandError } from "./types";

export { commands };

export class CommandFailure extends Error {
  constructor(
    public code: string,
    message: string,
  ) {
    super(message);
  }
}

type Result<T> = { status: "ok"; data: T } | { status: "error"; error: CommandError };

/** Unwraps a command's result, throwing its error. */
export async function call<T>(pending: Promise<Result<T>>): Promise<T> {
  const result = await pending;
  if (result.status === "ok") return result.data;
  throw new CommandFailure(result.error.code, result.error.message);
}

/** A message for people from anything thrown. */
export function messageOf(e: unknown): string {
  if (e instanceof CommandFailure) return e.message;
  if (e instanceof Error) return e.message;
  return String(e);
}

/** Subscribes to the changes of workspace `key`'s core; returns the unsubscribe function. */
export function onChange(key: string, handler: (change: Change) => void): Promise<() => void> {
  return events.coreEvent.listen((e) => {
    if (e.payload.workspace === key) handler(e.payload.change);
  });
}

/** Subscribes to "show this conversation" (a notification, the tray or a link), with its workspace. */
export function onOpenConversation(handler: (workspace: string, conversationId: string) => void): Promise<() => void> {
  return events.openConversation.listen((e) => handler(e.payload.workspace, e.payload.conversation_id));
}

/** Subscribes to "show Devices" (a notification about a linked number was clicked), with its workspace. */
export function onOpenDevices(handler: (workspace: string) => void): Promise<() => void> {
  return events.openDevices.listen((e) => handler(e.payload.workspace));
}

/** An Admin clicked the notification of a paused webhook: show that workspace's Admin → Webhooks. */
export function onOpenWebhooks(handler: (workspace: string) => void): Promise<() => void> {
  return events.openWebhooks.listen((e) => handler(e.payload.workspace));
}

/** Subscribes to the update state (a check finished, a download progressed). */
export function onUpdateChanged(handler: (state: UpdateState) => void): Promise<() => void> {
  return events.updateChanged.listen((e) => handler(e.payload));
}
