// Back-off for polling active jobs: fast right after something changed (a new upload, a
// status move), slower while nothing moves, so an idle tab does not hammer the API.

export const POLL_MIN_MS = 1000;
export const POLL_MAX_MS = 15000;
export const POLL_FACTOR = 1.6;

export function pollDelay(unchangedPolls: number): number {
  return Math.min(POLL_MAX_MS, Math.round(POLL_MIN_MS * POLL_FACTOR ** unchangedPolls));
}

/**
 * Tracks how many polls in a row saw the same active set, and answers the next delay
 * (or false to stop polling when nothing is active).
 */
export class BackoffPoller {
  private lastSignature: string | null = null;
  private unchanged = 0;

  next(signature: string, anyActive: boolean): number | false {
    if (!anyActive) {
      this.lastSignature = null;
      this.unchanged = 0;
      return false;
    }
    if (signature === this.lastSignature) this.unchanged++;
    else this.unchanged = 0;
    this.lastSignature = signature;
    return pollDelay(this.unchanged);
  }
}
