// Polling of jobs: fast right after something changed (a new upload, a status move), a little
// slower while nothing moves, and never slower than POLL_MAX_MS while a job is active, so a
// job's end shows within two seconds. An idle or hidden tab does not poll at all (TanStack
// Query pauses refetchInterval in background tabs; nothing active means no polling).
import type { Query } from "@tanstack/react-query";

export const POLL_MIN_MS = 1000;
export const POLL_MAX_MS = 2000;
export const POLL_FACTOR = 1.25;

export function pollDelay(unchangedPolls: number): number {
  return Math.min(POLL_MAX_MS, Math.round(POLL_MIN_MS * POLL_FACTOR ** unchangedPolls));
}

/**
 * Tracks how many answers in a row showed the same active set, and answers the next delay
 * (or false to stop polling when nothing is active).
 *
 * TanStack Query asks for the interval on every update of the query (fetch started, data
 * arrived) and once per observer: only a new answer (`answeredAt`) counts as a poll, so the
 * back-off grows one step per request however often it is asked.
 */
export class BackoffPoller {
  private lastSignature: string | null = null;
  private lastAnswer: number | null = null;
  private unchanged = 0;

  next(signature: string, anyActive: boolean, answeredAt: number): number | false {
    if (!anyActive) {
      this.reset();
      return false;
    }
    if (answeredAt !== this.lastAnswer) {
      this.unchanged = signature === this.lastSignature ? this.unchanged + 1 : 0;
      this.lastSignature = signature;
      this.lastAnswer = answeredAt;
    }
    return pollDelay(this.unchanged);
  }

  /** Back to the fastest pace (a new upload: its job will move soon). */
  reset(): void {
    this.lastSignature = null;
    this.lastAnswer = null;
    this.unchanged = 0;
  }
}

// One poller per query, shared by every component observing it: each observer asks for the
// interval, and they must all get the same answer from the same state.
const pollers = new WeakMap<object, BackoffPoller>();

/** The poller of `query` (created on first use). */
export function pollerOf(query: Pick<Query, "queryHash"> | object): BackoffPoller {
  let poller = pollers.get(query);
  if (!poller) {
    poller = new BackoffPoller();
    pollers.set(query, poller);
  }
  return poller;
}

/**
 * Runs `refresh` at most once at a time: calls while one runs are folded into a single
 * follow-up run once it ends, so a burst of 16 finished uploads costs two list requests,
 * not 16 (and the last answer still reflects the last upload).
 */
export function coalesced(refresh: () => Promise<unknown>): () => void {
  let running = false;
  let again = false;
  const run = (): void => {
    running = true;
    again = false;
    void refresh()
      .catch(() => undefined)
      .finally(() => {
        running = false;
        if (again) run();
      });
  };
  return () => {
    if (running) again = true;
    else run();
  };
}
