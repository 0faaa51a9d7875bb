// "Convert again": a failed job's file converted once more, with its options or others. The
// jobs table and the job's page hand the job to the upload panel in the route's state.
//
// What a user can expect: the browser may read a file only while the user's pick holds it. If
// this tab still holds the failed job's file (picked here, row still listed), one click makes
// a new job for it. After a reload, or for a file picked in another tab, nothing can read it
// again: the panel says so and asks to choose the file again, with the job's options selected.
// Either way the failed job stays listed until the user deletes it.
import type { ConvertOptions, Job } from "./types";

export interface ConvertAgain {
  jobId: string;
  filename: string;
  options: ConvertOptions;
}

/** The route state that opens the upload panel on `job`'s file and options. */
export function convertAgainState(job: Job): { again: ConvertAgain } {
  return { again: { jobId: job.job_id, filename: job.filename, options: job.options } };
}

export function readConvertAgain(state: unknown): ConvertAgain | null {
  return (state as { again?: ConvertAgain } | null)?.again ?? null;
}
