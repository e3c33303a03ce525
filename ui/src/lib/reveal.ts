// Brings a highlighted element into view when it appears: the row, part or line a
// check's "Show" pointed at.
import type { Action } from 'svelte/action';

/** `use:reveal={on}`: scroll the element to the middle of its scroller when `on`. */
export const reveal: Action<HTMLElement, boolean | undefined> = (element, on) => {
  if (on) requestAnimationFrame(() => element.scrollIntoView({ block: 'center' }));
};
