// The API's shapes, taken from the types generated from docs/openapi.json (api-types.ts,
// `npm run gen:types`): nothing here is written by hand, so the app cannot expect a field
// the API does not send.
import type { components } from "./api-types";

type Schemas = components["schemas"];

export type Job = Schemas["JobView"];
export type JobStatus = Schemas["JobStatus"];
export type JobError = Schemas["JobError"];
/** A code the API answers an error with: the API's codes of ErrorCode (etl_lib/errors.py). */
export type ApiErrorCode = Schemas["ErrorDetail"]["code"];
export type ConvertOptions = Schemas["ConvertOptions"];
export type OutputFormat = Schemas["OutputFormat"];
export type Compression = Schemas["Compression"];
export type GeometryFormat = Schemas["GeometryFormat"];
export type JobPage = Schemas["JobList"];
export type JobEnvelope = Schemas["JobEnvelope"];
export type JobReport = Schemas["JobReport"];
export type RunReport = Schemas["RunReportView"];
export type ReportPart = Schemas["ReportPart"];
/** What a run was charged for and its estimated cost (null until the run's end is accounted). */
export type RunCost = Schemas["RunCostView"];
/** Glue's execution class a job asks for: "flex" for jobs that are not urgent. */
export type ExecutionClass = Schemas["ExecutionClass"];
export type CreateJobRequest = Schemas["CreateJobRequest"];
export type CreateJobResponse = Schemas["CreateJobResponse"];
/** A presigned POST: send every field first, then the file, as multipart/form-data. */
export type PresignedPost = Schemas["PostUpload"];
/** A file above the multipart threshold: upload it in parts (the /jobs/{job_id}/upload routes). */
export type MultipartUpload = Schemas["MultipartUpload"];
export type DownloadLink = Schemas["DownloadLink"];
/** Where to PUT one part of a multipart upload, and the (signed) headers the PUT must carry. */
export type PresignedPart = Schemas["PresignedPartView"];
/** A part storage already holds (GET /jobs/{job_id}/upload/parts): what a resumed upload skips. */
export type UploadedPart = Schemas["UploadedPartView"];
export type UploadedParts = Schemas["UploadedParts"];

/** Statuses that will still change by themselves: polling continues while any job has one. */
export const ACTIVE_STATUSES: ReadonlySet<JobStatus> = new Set<JobStatus>(["PENDING", "QUEUED", "RUNNING"]);

// The defaults the API documents for ConvertOptions; a test checks them against docs/openapi.json.
export const DEFAULT_OPTIONS: ConvertOptions = {
  format: "jsonl",
  compression: "none",
  drop_nulls: false,
  bigint_as_string: false,
  decimal_as_string: false,
  nan_as_string: false,
  geometry: "geojson",
};

export function isActive(job: Pick<Job, "status">): boolean {
  return ACTIVE_STATUSES.has(job.status);
}
