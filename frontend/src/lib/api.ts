// Typed client for the job API. Every call carries the ID token when auth is on,
// and every non-2xx answer becomes an ApiError carrying the server's {"error": {code, message}}
// so components can show the server's own wording.
import type {
  CreateJobRequest as ApiCreateJobRequest,
  CreateJobResponse,
  DownloadLink,
  Job,
  JobEnvelope,
  JobPage,
  JobReport,
  PresignedPart,
  UploadedPart,
  UploadedParts,
} from "./types";

export class ApiError extends Error {
  readonly status: number;
  readonly code: string;

  constructor(status: number, code: string, message: string) {
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.code = code;
  }
}

/** The header the API reads an idempotency key from (lambdas/common/models.py IDEMPOTENCY_HEADER). */
export const IDEMPOTENCY_HEADER = "Idempotency-Key";

export type TokenProvider = () => Promise<string | null>;

/** What the app sends: the engine is left to the API's default ("auto"); the execution class
 * is sent when the user chose one. */
export type CreateJobRequest = Pick<ApiCreateJobRequest, "filename" | "size" | "options"> &
  Partial<Pick<ApiCreateJobRequest, "execution_class">>;

export interface ApiClient {
  listJobs(params: { limit: number; nextToken: string | null }): Promise<JobPage>;
  getJob(jobId: string): Promise<Job>;
  /** `idempotencyKey` (one per file) makes a retried request return the same job. */
  createJob(request: CreateJobRequest, idempotencyKey?: string): Promise<CreateJobResponse>;
  deleteJob(jobId: string): Promise<void>;
  getDownload(jobId: string): Promise<DownloadLink>;
  getReport(jobId: string): Promise<JobReport>;
  /** A multipart upload's parts that storage holds (to resume it), by part number. */
  listUploadParts(jobId: string): Promise<UploadedPart[]>;
  /** The signed URL (and headers) to PUT part `partNumber`, bound to its SHA-256 (base64). */
  signUploadPart(jobId: string, partNumber: number, checksumSha256: string): Promise<PresignedPart>;
  /** Completes a multipart upload from the parts storage holds; the job is then queued. */
  completeUpload(jobId: string): Promise<Job>;
}

/** Reads the API's error body; falls back to the HTTP status when the body is not ours (e.g. a proxy page). */
export async function toApiError(response: Response): Promise<ApiError> {
  let code = `HTTP_${response.status}`;
  let message = `Request failed (HTTP ${response.status}${response.statusText ? ` ${response.statusText}` : ""})`;
  try {
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown }; message?: unknown };
    if (body.error && typeof body.error.message === "string") {
      message = body.error.message;
      if (typeof body.error.code === "string") code = body.error.code;
    } else if (typeof body.message === "string") {
      // API Gateway's own errors (e.g. an expired token) look like {"message": "..."}.
      message = body.message;
    }
  } catch {
    // Not JSON: keep the generic message.
  }
  return new ApiError(response.status, code, message);
}

/**
 * `onUnauthorized` is told of a 401: with Cognito on, the token was refused (expired or
 * revoked session), and the user must sign in again.
 */
export function createApiClient(baseUrl: string, getToken: TokenProvider = async () => null, onUnauthorized?: () => void): ApiClient {
  async function request<T>(method: string, path: string, body?: unknown, extraHeaders: Record<string, string> = {}): Promise<T> {
    const headers: Record<string, string> = { Accept: "application/json", ...extraHeaders };
    const token = await getToken();
    if (token) headers.Authorization = token;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    let response: Response;
    try {
      response = await fetch(`${baseUrl}${path}`, {
        method,
        headers,
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch {
      throw new ApiError(0, "NETWORK_ERROR", "The service could not be reached. Check your connection and try again.");
    }
    if (response.status === 401) onUnauthorized?.();
    if (!response.ok) throw await toApiError(response);
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    return (text ? JSON.parse(text) : undefined) as T;
  }

  const job = (jobId: string) => `/jobs/${encodeURIComponent(jobId)}`;

  return {
    listJobs({ limit, nextToken }) {
      const query = new URLSearchParams({ limit: String(limit) });
      if (nextToken) query.set("next_token", nextToken);
      return request<JobPage>("GET", `/jobs?${query.toString()}`);
    },
    getJob: (jobId) => request<JobEnvelope>("GET", job(jobId)).then((envelope) => envelope.job),
    createJob: (body, idempotencyKey) =>
      request<CreateJobResponse>("POST", "/jobs", body, idempotencyKey ? { [IDEMPOTENCY_HEADER]: idempotencyKey } : {}),
    deleteJob: (jobId) => request<void>("DELETE", job(jobId)),
    getDownload: (jobId) => request<DownloadLink>("GET", `${job(jobId)}/download`),
    getReport: (jobId) => request<JobReport>("GET", `${job(jobId)}/report`),
    listUploadParts: (jobId) => request<UploadedParts>("GET", `${job(jobId)}/upload/parts`).then((body) => body.parts),
    signUploadPart: (jobId, partNumber, checksumSha256) =>
      request<PresignedPart>("POST", `${job(jobId)}/upload/parts/${partNumber}`, { checksum_sha256: checksumSha256 }),
    completeUpload: (jobId) => request<JobEnvelope>("POST", `${job(jobId)}/upload/complete`).then((envelope) => envelope.job),
  };
}
