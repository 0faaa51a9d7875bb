// What an upload row says: where the file is (creating its job, uploading), then where its job
// is (queued, converting, done or failed), from the job as the jobs list last showed it.
import type { UploadItem } from "../hooks/uploads";
import type { Job } from "./types";

export type RowKind = "creating" | "uploading" | "interrupted" | "queued" | "converting" | "succeeded" | "failed" | "upload-failed" | "cancelled";

export interface RowState {
  kind: RowKind;
  /** Upload progress, 0 to 100. */
  percent: number;
  /** The job's failure reason, or why the upload failed. */
  reason: string | null;
}

export function rowState(item: UploadItem, job: Job | undefined): RowState {
  const percent = item.size > 0 ? Math.min(100, Math.round((item.loaded / item.size) * 100)) : 0;
  switch (item.phase) {
    case "creating":
      return { kind: "creating", percent: 0, reason: null };
    case "uploading":
      return { kind: "uploading", percent, reason: null };
    case "error":
      return { kind: "upload-failed", percent, reason: item.error };
    case "cancelled":
      return { kind: "cancelled", percent, reason: null };
    case "interrupted":
      return { kind: "interrupted", percent: 0, reason: null };
    case "uploaded":
      break;
  }
  // Uploaded: the job takes over. A job not (yet) in the list is waiting to be picked up.
  switch (job?.status) {
    case "SUCCEEDED":
      return { kind: "succeeded", percent: 100, reason: null };
    case "FAILED":
      return { kind: "failed", percent: 100, reason: job.error?.message ?? "The conversion failed without a message." };
    case "RUNNING":
      return { kind: "converting", percent: 100, reason: null };
    default:
      return { kind: "queued", percent: 100, reason: null };
  }
}

/** Rows whose story is over: nothing will change them any more. */
export const FINISHED_KINDS: ReadonlySet<RowKind> = new Set<RowKind>(["succeeded", "failed", "upload-failed", "cancelled"]);

/** "12 of 16 done", plus the failures, for a batch folded into one line. */
export function batchSummary(kinds: readonly RowKind[]): string {
  const done = kinds.filter((kind) => kind === "succeeded").length;
  const failed = kinds.filter((kind) => kind === "failed" || kind === "upload-failed").length;
  const cancelled = kinds.filter((kind) => kind === "cancelled").length;
  const parts = [`${done} of ${kinds.length} done`];
  if (failed > 0) parts.push(`${failed} failed`);
  if (cancelled > 0) parts.push(`${cancelled} cancelled`);
  return parts.join(", ");
}
