// How many check errors each message has, for the list's badge. Reports are asked
// for lazily, only for the rows on screen, two at a time, and kept by message ID
// (a message's bytes never change; a report seen in the Checks tab, links checked
// or not, replaces the cached one). The list never waits for them: a badge appears
// when its report comes in. Rows scrolled away before their turn are not fetched.
import { SvelteMap } from 'svelte/reactivity';
import * as api from './api';
import type { CheckReport } from '../api/types';

/** Reports fetched at once: the engine parses each message, and the list stays first. */
const CONCURRENCY = 2;
/** Scrolling settles for this long before the rows on screen are asked for. */
const SETTLE_MS = 150;

export class CheckReports {
  /** Message ID → its report's error count. */
  errors = new SvelteMap<string, number>();
  /** Rows on screen still without a report, the first shown first. */
  #wanted: string[] = [];
  #inFlight = new Set<string>();
  #timer: ReturnType<typeof setTimeout> | undefined;

  /** The rows on screen now: fetch the reports they lack (and forget earlier wishes). */
  show(ids: string[]): void {
    clearTimeout(this.#timer);
    this.#timer = setTimeout(() => {
      this.#wanted = ids.filter((id) => !this.errors.has(id) && !this.#inFlight.has(id));
      this.#pump();
    }, SETTLE_MS);
  }

  /** A report seen elsewhere (the Checks tab): the badge follows it. */
  seen(id: string, report: CheckReport): void {
    this.errors.set(id, report.Summary.Errors);
  }

  /** The message was deleted: its report goes with it. */
  forget(id: string): void {
    this.errors.delete(id);
  }

  /** Every message may be gone (the inbox was emptied or pruned). */
  clear(): void {
    this.errors.clear();
    this.#wanted = [];
  }

  #pump(): void {
    while (this.#inFlight.size < CONCURRENCY && this.#wanted.length) {
      const id = this.#wanted.shift()!;
      if (this.errors.has(id) || this.#inFlight.has(id)) continue;
      this.#inFlight.add(id);
      api.checks(id).then(
        (report) => this.seen(id, report),
        // Deleted meanwhile, or the engine is away: no badge, and no retry loop.
        () => {},
      ).finally(() => {
        this.#inFlight.delete(id);
        this.#pump();
      });
    }
  }
}

export const checkReports = new CheckReports();
