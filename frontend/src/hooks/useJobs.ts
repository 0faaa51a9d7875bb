// Data hooks for jobs. TanStack Query owns caching, de-duplication and polling; the
// components only read state and call mutations.
import { useMemo } from "react";
import { keepPreviousData, useMutation, useQuery, useQueryClient, type QueryClient } from "@tanstack/react-query";
import { useApi } from "./ApiContext";
import type { CreateJobRequest } from "../lib/api";
import { coalesced, pollerOf } from "../lib/polling";
import { fetchPreview } from "../lib/preview";
import { isActive, type Job, type JobPage, type RunReport } from "../lib/types";

export const jobKeys = {
  all: ["jobs"] as const,
  list: (nextToken: string | null, limit: number) => ["jobs", "list", nextToken, limit] as const,
  detail: (jobId: string) => ["jobs", "detail", jobId] as const,
  preview: (jobId: string) => ["jobs", "preview", jobId] as const,
  report: (jobId: string) => ["jobs", "report", jobId] as const,
};

function signature(jobs: Job[]): string {
  return jobs.map((job) => `${job.job_id}:${job.status}`).join(",");
}

/** The interval for a list query: shared by all its observers, one back-off step per answer. */
export function listRefetchInterval(query: { state: { data?: JobPage; dataUpdatedAt: number } }): number | false {
  const jobs = query.state.data?.jobs ?? [];
  return pollerOf(query).next(signature(jobs), jobs.some(isActive), query.state.dataUpdatedAt);
}

/**
 * One page of jobs, newest first; polls with back-off while any job on it is active. Every
 * component showing the same page shares one query, one poller and so one request per tick.
 */
export function useJobs(nextToken: string | null, limit: number) {
  const api = useApi();
  return useQuery<JobPage>({
    queryKey: jobKeys.list(nextToken, limit),
    queryFn: () => api.listJobs({ limit, nextToken }),
    // Keep showing the previous page while the next one loads, so the table does not flash.
    placeholderData: keepPreviousData,
    refetchInterval: listRefetchInterval,
  });
}

const refreshers = new WeakMap<QueryClient, () => void>();

/**
 * Something just changed (a job was created, a file finished uploading): poll the job lists at
 * the fastest pace again and fetch them now, folding a burst of calls into one request at a time.
 */
export function refreshJobs(queryClient: QueryClient): void {
  let refresh = refreshers.get(queryClient);
  if (!refresh) {
    refresh = coalesced(() => {
      for (const query of queryClient.getQueryCache().findAll({ queryKey: ["jobs", "list"] })) pollerOf(query).reset();
      // cancelRefetch: false joins a request already in flight instead of cancelling it and
      // sending another.
      return queryClient.invalidateQueries({ queryKey: ["jobs", "list"] }, { cancelRefetch: false });
    });
    refreshers.set(queryClient, refresh);
  }
  refresh();
}

/** One job; polls while the job is active (one poller shared by the page and the breadcrumbs). */
export function useJob(jobId: string | null) {
  const api = useApi();
  return useQuery<Job>({
    queryKey: jobKeys.detail(jobId ?? ""),
    queryFn: () => api.getJob(jobId as string),
    enabled: jobId !== null,
    refetchInterval: (query) => {
      const job = query.state.data;
      return job ? pollerOf(query).next(job.status, isActive(job), query.state.dataUpdatedAt) : false;
    },
  });
}

export function useCreateJob() {
  const api = useApi();
  return useMutation({
    mutationFn: ({ request, idempotencyKey }: { request: CreateJobRequest; idempotencyKey?: string }) => api.createJob(request, idempotencyKey),
  });
}

export function useDeleteJob() {
  const api = useApi();
  const queryClient = useQueryClient();
  return useMutation({
    mutationFn: (jobId: string) => api.deleteJob(jobId),
    onSuccess: () => queryClient.invalidateQueries({ queryKey: ["jobs", "list"] }),
  });
}

/**
 * Drops a deleted job's queries. One still shown (its page is being left: react-router
 * navigates in a transition, after other updates render) is dropped once its last observer
 * goes: dropped earlier, the next render would fetch it again and get a 404.
 */
export function forgetJob(queryClient: QueryClient, jobId: string) {
  const keys = [jobKeys.detail(jobId), jobKeys.preview(jobId), jobKeys.report(jobId)];
  const cache = queryClient.getQueryCache();
  const isOurs = (queryKey: readonly unknown[]) => keys.some((key) => JSON.stringify(key) === JSON.stringify(queryKey));
  for (const key of keys) queryClient.removeQueries({ queryKey: key, exact: true, type: "inactive" });
  if (!cache.getAll().some((query) => isOurs(query.queryKey))) return;
  const unsubscribe = cache.subscribe((event) => {
    if (event.type === "observerRemoved" && isOurs(event.query.queryKey) && event.query.getObserversCount() === 0) {
      cache.remove(event.query);
    }
    if (!cache.getAll().some((query) => isOurs(query.queryKey))) unsubscribe();
  });
}

/** Asks for a fresh presigned GET each time: links expire, so they are never cached. */
export function useDownload() {
  const api = useApi();
  return useMutation({ mutationFn: (jobId: string) => api.getDownload(jobId) });
}

/** The run report (summary, output schema, input parts) of a SUCCEEDED job. */
/** How long after a job ended its report may still gain the run's cost (a Glue run's is
 * accounted when Glue reports the run's end, moments after the job SUCCEEDED). */
export const COST_WAIT_MS = 2 * 60_000;
export const COST_POLL_MS = 5_000;

/** How often to ask again for a finished job's report (false: not again): while it has no
 * cost, and only within COST_WAIT_MS of the job's end (a local run is never charged). */
export function costPollMs(job: Pick<Job, "updated_at"> | undefined, report: RunReport | undefined, now: number): number | false {
  const ended = job ? Date.parse(job.updated_at) : NaN;
  return report?.cost == null && now - ended < COST_WAIT_MS ? COST_POLL_MS : false;
}

export function useReport(job: Job | undefined) {
  const api = useApi();
  return useQuery({
    queryKey: jobKeys.report(job?.job_id ?? ""),
    enabled: job?.status === "SUCCEEDED",
    // A finished run's report changes once at most: when its cost is added. Until then, and
    // only shortly after the job ended (a local run is never charged), it is asked for again.
    staleTime: Infinity,
    refetchInterval: (query) => costPollMs(job, query.state.data, Date.now()),
    queryFn: async (): Promise<RunReport> => {
      const body = await api.getReport(job!.job_id);
      if (body.report) return body.report;
      // Too large for the API's answer: the report's JSON is read from storage by its link.
      const response = await fetch(body.report_url!);
      if (!response.ok) throw new Error(`the run report could not be read (HTTP ${response.status})`);
      return (await response.json()) as RunReport;
    },
  });
}

/** The first records of a SUCCEEDED job's output. */
export function usePreview(job: Job | undefined) {
  const api = useApi();
  const enabled = job?.status === "SUCCEEDED";
  const options = useMemo(
    () => ({ format: job?.options.format ?? "jsonl", compression: job?.options.compression ?? "none" }) as const,
    [job?.options.format, job?.options.compression],
  );
  return useQuery({
    queryKey: jobKeys.preview(job?.job_id ?? ""),
    enabled,
    staleTime: Infinity, // a finished output never changes
    retry: false,
    queryFn: async ({ signal }) => {
      const link = await api.getDownload(job!.job_id);
      return fetchPreview(link.url, options, { signal });
    },
  });
}
