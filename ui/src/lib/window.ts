/**
 * A windowed list: only the rows in view (and a few either side) are in the page, however long
 * the list. Each row's height is known from its data, so where every row sits is a running sum
 * and the rows in view are found by binary search, without measuring the page.
 */

/** `tops[i]` is where row i starts; `tops[n]` is the height of the whole list. */
export function rowTops(heights: ArrayLike<number>): Float64Array {
  const tops = new Float64Array(heights.length + 1);
  for (let i = 0; i < heights.length; i++) tops[i + 1] = tops[i] + heights[i];
  return tops;
}

/** The first row whose bottom is below `y`. */
function rowAt(tops: Float64Array, y: number): number {
  let lo = 0;
  let hi = tops.length - 2; // the last row: below the list is the last row too
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (tops[mid + 1] <= y) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The rows to put in the page, `[start, end)`: those in view and `overscan` more either side. */
export function visibleRows(tops: Float64Array, scrollTop: number, viewport: number, overscan: number): [number, number] {
  const n = tops.length - 1;
  if (n <= 0) return [0, 0];
  const first = rowAt(tops, Math.max(0, scrollTop));
  const last = rowAt(tops, Math.max(0, scrollTop + Math.max(viewport, 1) - 1));
  return [Math.max(0, first - overscan), Math.min(n, last + 1 + overscan)];
}

/** Where to scroll so that row `i` is fully in view, moving as little as possible; null when it
 * already is. */
export function scrollToShow(tops: Float64Array, i: number, scrollTop: number, viewport: number): number | null {
  if (i < 0 || i >= tops.length - 1) return null;
  const top = tops[i];
  const bottom = tops[i + 1];
  if (top < scrollTop) return top;
  if (bottom > scrollTop + viewport) return Math.max(0, bottom - viewport);
  return null;
}
