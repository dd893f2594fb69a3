import { describe, expect, it } from "vitest";
import { rowTops, scrollToShow, visibleRows } from "./window";

describe("a windowed list", () => {
  const heights = [50, 70, 50, 50, 70, 50, 50, 50, 50, 50]; // 540 in all
  const tops = rowTops(heights);

  it("knows where every row starts and how tall the list is", () => {
    expect(Array.from(tops.slice(0, 4))).toEqual([0, 50, 120, 170]);
    expect(tops[heights.length]).toBe(540);
  });

  it("puts in the page the rows in view and the overscan either side", () => {
    // Scrolled to 120: rows 2 (120..170), 3 (170..220) and 4 (220..290) are in a 150 px view.
    expect(visibleRows(tops, 120, 150, 0)).toEqual([2, 5]);
    expect(visibleRows(tops, 120, 150, 2)).toEqual([0, 7]);
    // A row cut by the top edge is still in view.
    expect(visibleRows(tops, 130, 40, 0)).toEqual([2, 3]);
  });

  it("stays within the list at both ends", () => {
    expect(visibleRows(tops, 0, 10_000, 5)).toEqual([0, 10]);
    expect(visibleRows(tops, 10_000, 100, 3)).toEqual([6, 10]);
    expect(visibleRows(rowTops([]), 0, 100, 3)).toEqual([0, 0]);
  });

  it("finds the rows of a long list by binary search", () => {
    const many = rowTops(Array.from({ length: 50_000 }, (_, i) => (i % 3 === 0 ? 79 : 57)));
    const y = many[31_337] + 1;
    expect(visibleRows(many, y, 1, 0)).toEqual([31_337, 31_338]);
  });

  it("scrolls as little as it takes to show a row", () => {
    expect(scrollToShow(tops, 3, 0, 300)).toBeNull(); // 170..220 is in 0..300
    expect(scrollToShow(tops, 1, 100, 300)).toBe(50); // above: its top goes to the top
    expect(scrollToShow(tops, 7, 0, 300)).toBe(140); // below: 390..440, its bottom goes to the bottom
    expect(scrollToShow(tops, 42, 0, 300)).toBeNull();
  });
});
