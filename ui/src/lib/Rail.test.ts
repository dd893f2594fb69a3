import { describe, expect, it } from "vitest";
import { render, screen } from "@testing-library/svelte";
import type { User } from "./types";
import Rail from "./Rail.svelte";

const me: User = { id: "u1", email: "ana@example.com", name: "Ana", role: "agent", active: true, kind: "person", must_change_password: false };

function renderRail(encrypted: boolean, server: string) {
  render(Rail, {
    me,
    users: new Map([[me.id, me]]),
    statuses: [],
    counts: { mine: 0, unassigned: 0, all: 0, mentions: 0, snoozed: 0, resolved: 0, teams: [] },
    teams: [],
    devices: [],
    view: "unassigned",
    teamId: null,
    screen: "inbox",
    connection: { state: "online" },
    encrypted,
    server,
    onView: () => {},
    onScreen: () => {},
    onSignOut: () => {},
  });
}

describe("Rail", () => {
  it("marks a plain-http server as not encrypted, naming it", () => {
    renderRail(false, "http://192.168.1.9:8750");
    const mark = screen.getByTestId("not-encrypted");
    expect(mark.textContent).toBe("Not encrypted");
    expect(mark.getAttribute("title")).toContain("http://192.168.1.9:8750 is reached over plain http");
  });

  it("has no such mark for an https server", () => {
    renderRail(true, "https://inbox.example.com");
    expect(screen.queryByTestId("not-encrypted")).toBeNull();
    expect(screen.queryByText("Not encrypted")).toBeNull();
    expect(screen.getByTestId("connection-state").textContent).toBe("Online");
  });
});
