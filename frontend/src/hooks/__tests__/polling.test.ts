// The jobs list's polling, on TanStack Query's own timers (faked): two components showing the
// same page (the jobs table and the upload list) cost one request per tick, the back-off grows
// one step per answer, and a job's end shows within POLL_MAX_MS.
import { QueryClient, QueryObserver } from "@tanstack/react-query";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { makeJob } from "../../test/fakeApi";
import { POLL_MAX_MS, pollDelay } from "../../lib/polling";
import type { Job, JobPage } from "../../lib/types";
import { jobKeys, listRefetchInterval, refreshJobs } from "../useJobs";

let client: QueryClient;
let job: Job;
let requests: number[];

function observe(): () => void {
  const observer = new QueryObserver<JobPage>(client, {
    queryKey: jobKeys.list(null, 20),
    queryFn: async () => {
      requests.push(Date.now());
      return { jobs: [job], next_token: null };
    },
    refetchInterval: listRefetchInterval,
  });
  return observer.subscribe(() => undefined);
}

beforeEach(() => {
  vi.useFakeTimers({ now: 0 });
  client = new QueryClient();
  job = makeJob({ job_id: "j", status: "RUNNING" });
  requests = [];
});

afterEach(() => {
  client.clear();
  vi.useRealTimers();
});

describe("jobs list polling", () => {
  it("asks once per tick for two observers, one back-off step per answer", async () => {
    const stops = [observe(), observe()];
    await vi.advanceTimersByTimeAsync(10_000);
    // The expected times: the first answer at 0, then each delay of the back-off in turn.
    const expected = [0];
    for (let polls = 0; expected.at(-1)! + pollDelay(polls) <= 10_000; polls++) expected.push(expected.at(-1)! + pollDelay(polls));
    expect(requests).toEqual(expected);
    stops.forEach((stop) => stop());
  });

  it("shows a job's end within two seconds, then stops", async () => {
    const stop = observe();
    await vi.advanceTimersByTimeAsync(60_000);
    const ended = Date.now();
    job = { ...job, status: "SUCCEEDED" };
    await vi.advanceTimersByTimeAsync(POLL_MAX_MS);
    expect(requests.at(-1)! - ended).toBeLessThanOrEqual(POLL_MAX_MS);
    const seen = client.getQueryData<JobPage>(jobKeys.list(null, 20))!;
    expect(seen.jobs[0]!.status).toBe("SUCCEEDED");
    const count = requests.length;
    await vi.advanceTimersByTimeAsync(30_000);
    expect(requests).toHaveLength(count);
    stop();
  });

  it("polls fast again after an upload, in one request for a burst", async () => {
    const stop = observe();
    await vi.advanceTimersByTimeAsync(30_000);
    const before = requests.length;
    const kicked = Date.now();
    for (let i = 0; i < 16; i++) refreshJobs(client);
    await vi.advanceTimersByTimeAsync(0);
    expect(requests.length - before).toBeLessThanOrEqual(2);
    // Back at the fastest pace: the next tick comes after the shortest delay.
    await vi.advanceTimersByTimeAsync(pollDelay(0));
    expect(requests.at(-1)! - kicked).toBe(pollDelay(0));
    stop();
  });
});
