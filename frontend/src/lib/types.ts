// Shapes of the job API (issue 3). Kept in one place so the client, hooks and
// components agree on what the server sends.

export const JOB_STATUSES = ["PENDING", "QUEUED", "RUNNING", "SUCCEEDED", "FAILED"] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

/** Statuses that will still change by themselves: polling continues while any job has one. */
export const ACTIVE_STATUSES: ReadonlySet<JobStatus> = new Set(["PENDING", "QUEUED", "RUNNING"]);

export type OutputFormat = "jsonl" | "json";
export type Compression = "none" | "gzip";

export interface ConvertOptions {
  format: OutputFormat;
  compression: Compression;
  drop_nulls: boolean;
  bigint_as_string: boolean;
  decimal_as_string: boolean;
  nan_as_string: boolean;
}

export const DEFAULT_OPTIONS: ConvertOptions = {
  format: "jsonl",
  compression: "none",
  drop_nulls: false,
  bigint_as_string: false,
  decimal_as_string: false,
  nan_as_string: false,
};

export interface JobError {
  code: string;
  message: string;
}

export interface JobReport {
  json_schema?: unknown;
  [key: string]: unknown;
}

export interface Job {
  job_id: string;
  status: JobStatus;
  filename: string;
  options: ConvertOptions;
  created_at: string;
  updated_at: string;
  input_bytes: number | null;
  output_bytes: number | null;
  rows_in: number | null;
  rows_out: number | null;
  duration_ms: number | null;
  error: JobError | null;
  report?: JobReport | null;
}

export interface JobPage {
  jobs: Job[];
  next_token: string | null;
}

/** A presigned POST: send every field first, then the file, as multipart/form-data. */
export interface PresignedPost {
  url: string;
  fields: Record<string, string>;
}

export interface CreateJobResponse {
  job: Job;
  upload: PresignedPost;
}

export interface DownloadLink {
  url: string;
  expires_at: string;
}

export function isActive(job: Pick<Job, "status">): boolean {
  return ACTIVE_STATUSES.has(job.status);
}
