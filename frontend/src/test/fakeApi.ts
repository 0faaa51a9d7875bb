// An in-memory job API for component tests, served through msw at the network level, so
// the real api.ts client, XMLHttpRequest upload and fetch code paths all run.
import { createHash } from "node:crypto";
import { http, HttpResponse, delay } from "msw";
import type { ConvertOptions, ExecutionClass, Job, RunReport } from "../lib/types";
import { DEFAULT_OPTIONS } from "../lib/types";

export const API = "http://localhost/api";
export const STORAGE = "http://storage.test";

export interface RecordedUpload {
  jobId: string;
  fieldNames: string[];
  fileName: string | null;
  fileSize: number;
}

/** A part storage holds, as the fake records it. */
export interface StoredPart {
  size: number;
  etag: string;
  checksum: string;
}

/** The SHA-256 of bytes, base64: what the fake storage checks each part's header against (Node's, not the app's). */
function sha256(bytes: ArrayBuffer): string {
  return createHash("sha256").update(new Uint8Array(bytes)).digest("base64");
}

export function makeJob(overrides: Partial<Job> = {}): Job {
  const id = overrides.job_id ?? `job-${Math.random().toString(36).slice(2, 10)}`;
  return {
    job_id: id,
    status: "PENDING",
    filename: "data.parquet",
    options: { ...DEFAULT_OPTIONS },
    engine: "auto",
    execution_class: "standard",
    created_at: "2026-01-02T03:04:05Z",
    updated_at: "2026-01-02T03:04:05Z",
    input_bytes: null,
    output_bytes: null,
    rows_in: null,
    rows_out: null,
    duration_ms: null,
    error: null,
    ...overrides,
  };
}

/** The run report the API serves for a SUCCEEDED job (GET /jobs/{id}/report). */
export function makeReport(job: Job, overrides: Partial<RunReport> = {}): RunReport {
  return {
    engine: "local",
    rows_in: job.rows_in ?? 0,
    rows_out: job.rows_out ?? 0,
    input_bytes: job.input_bytes ?? 0,
    output_bytes: job.output_bytes ?? 0,
    duration_ms: job.duration_ms ?? 0,
    started_at: job.created_at,
    finished_at: job.updated_at,
    parquet_schema: "message schema {\n}\n",
    arrow_schema: "",
    json_schema: { type: "object", properties: {} },
    parts: [],
    ...overrides,
  };
}

// The API's own error codes and wording (etl_lib/jobs/service.py).
const notFound = (jobId: string) => HttpResponse.json({ error: { code: "JOB_NOT_FOUND", message: `no job ${jobId}` } }, { status: 404 });
const notFinished = (job: Job) =>
  HttpResponse.json(
    { error: { code: "JOB_NOT_FINISHED", message: `job ${job.job_id} is ${job.status}; the output is available once it has SUCCEEDED` } },
    { status: 409 },
  );

// The server's naming rule (Job.download_name): the input's stem plus the output's extension.
function downloadName(job: Job): string {
  const stem = job.filename.includes(".") ? job.filename.slice(0, job.filename.lastIndexOf(".")) : job.filename;
  return `${stem || "output"}.${job.options.format}${job.options.compression === "gzip" ? ".gz" : ""}`;
}

export class FakeApi {
  jobs: Job[] = [];
  outputs = new Map<string, Uint8Array | string>();
  reports = new Map<string, RunReport>();
  /** Jobs whose report the API serves by link, as it does for one too large for its body. */
  linkedReports = new Set<string>();
  reportRequests: string[] = [];
  /** GET /jobs/{id} and DELETE /jobs/{id} requests, in order ("DELETE <id>" for the latter). */
  jobRequests: string[] = [];
  uploads: RecordedUpload[] = [];
  createRequests: { filename: string; size: number; options: ConvertOptions; execution_class?: ExecutionClass }[] = [];
  /** The Idempotency-Key header of each POST /jobs, in order (null when none was sent). */
  idempotencyKeys: (string | null)[] = [];
  listRequests: URLSearchParams[] = [];
  deleted: string[] = [];
  rangeHeaders: (string | null)[] = [];
  /** Called on each list request: lets a test move jobs through their statuses over time. */
  onList: ((api: FakeApi) => void) | null = null;
  uploadDelayMs = 0;
  /** How long each list request takes; with it, listsInFlightMax says how many overlapped. */
  listDelayMs = 0;
  listsInFlightMax = 0;
  private listsInFlight = 0;
  /** Files larger than this get a multipart plan (null: never), in parts of `partSize`. */
  multipartAbove: number | null = null;
  partSize = 5 * 1024 * 1024;
  /** Multipart plans by job, and the parts storage holds. */
  plans = new Map<string, { size: number; partSize: number; partCount: number }>();
  parts = new Map<string, Map<number, StoredPart>>();
  /** "<jobId> <part>" of each part PUT received, in order (refused ones included). */
  partPuts: string[] = [];
  /** The checksum each POST .../upload/parts/{n} asked for, by "<jobId> <part>". */
  signedChecksums = new Map<string, string>();
  completed: string[] = [];
  /** Part numbers whose next PUT fails with a 500 (once each): storage having a bad moment. */
  failPartOnce = new Set<number>();
  /** The most part PUTs storage was receiving at once. */
  partsInFlightMax = 0;
  private partsInFlight = 0;
  /** Part numbers whose PUT never answers: a tab closed mid-part. */
  holdParts = new Set<number>();
  private seq = 0;

  handlers() {
    return [
      http.get(`${API}/jobs`, async ({ request }) => {
        const params = new URL(request.url).searchParams;
        this.listRequests.push(params);
        this.onList?.(this);
        this.listsInFlight++;
        this.listsInFlightMax = Math.max(this.listsInFlightMax, this.listsInFlight);
        if (this.listDelayMs) await delay(this.listDelayMs);
        this.listsInFlight--;
        const limit = Number(params.get("limit") ?? "20");
        const start = Number(params.get("next_token") ?? "0");
        const page = this.jobs.slice(start, start + limit);
        const next = start + limit < this.jobs.length ? String(start + limit) : null;
        return HttpResponse.json({ jobs: page, next_token: next });
      }),
      http.post(`${API}/jobs`, async ({ request }) => {
        const body = (await request.json()) as { filename: string; size: number; options: ConvertOptions; execution_class?: ExecutionClass };
        this.createRequests.push(body);
        this.idempotencyKeys.push(request.headers.get("Idempotency-Key"));
        this.seq++;
        const job = makeJob({
          job_id: `job-${this.seq}`,
          filename: body.filename,
          options: body.options,
          execution_class: body.execution_class ?? "standard",
          created_at: new Date(Date.UTC(2026, 0, 1, 0, this.seq)).toISOString(),
        });
        this.jobs.unshift(job);
        if (this.multipartAbove !== null && body.size > this.multipartAbove) {
          const partCount = Math.ceil(body.size / this.partSize);
          this.plans.set(job.job_id, { size: body.size, partSize: this.partSize, partCount });
          this.parts.set(job.job_id, new Map());
          return HttpResponse.json({ job, upload: { method: "multipart", part_size: this.partSize, part_count: partCount } }, { status: 201 });
        }
        return HttpResponse.json(
          { job, upload: { method: "post", url: `${STORAGE}/upload`, fields: { key: `inputs/${job.job_id}`, policy: "p", "x-amz-signature": "s" } } },
          { status: 201 },
        );
      }),
      http.post(`${STORAGE}/upload`, async ({ request }) => {
        const form = await request.formData();
        // Duck-typed: the File class of jsdom and of Node differ, instanceof would lie.
        const file = form.get("file") as { name?: string; size?: number } | string | null;
        this.uploads.push({
          jobId: String(form.get("key")).replace("inputs/", ""),
          fieldNames: [...form.keys()],
          fileName: typeof file === "object" && file ? (file.name ?? null) : null,
          fileSize: typeof file === "object" && file ? (file.size ?? -1) : -1,
        });
        if (this.uploadDelayMs) await delay(this.uploadDelayMs);
        return new HttpResponse(null, { status: 204 });
      }),
      ...this.multipartHandlers(),
      http.get(`${API}/jobs/:id`, ({ params }) => {
        this.jobRequests.push(String(params.id));
        const job = this.jobs.find((candidate) => candidate.job_id === params.id);
        return job ? HttpResponse.json({ job }) : notFound(String(params.id));
      }),
      http.get(`${API}/jobs/:id/report`, ({ params }) => {
        const jobId = String(params.id);
        this.reportRequests.push(jobId);
        const job = this.jobs.find((candidate) => candidate.job_id === jobId);
        if (!job) return notFound(jobId);
        if (job.status !== "SUCCEEDED") return notFinished(job);
        const report = this.reports.get(jobId);
        if (!report) return HttpResponse.json({ error: { code: "REPORT_MISSING", message: `job ${jobId} has no run report` } }, { status: 404 });
        if (this.linkedReports.has(jobId)) {
          return HttpResponse.json({ job_id: jobId, report: null, report_url: `${STORAGE}/reports/${jobId}`, report_expires_at: "2026-01-02T04:00:00Z" });
        }
        return HttpResponse.json({ job_id: jobId, report });
      }),
      http.get(`${STORAGE}/reports/:id`, ({ params }) => {
        const report = this.reports.get(String(params.id));
        return report ? HttpResponse.json(report) : new HttpResponse(null, { status: 403 });
      }),
      http.delete(`${API}/jobs/:id`, ({ params }) => {
        this.deleted.push(String(params.id));
        this.jobRequests.push(`DELETE ${String(params.id)}`);
        this.jobs = this.jobs.filter((job) => job.job_id !== params.id);
        this.plans.delete(String(params.id));
        this.parts.delete(String(params.id));
        return new HttpResponse(null, { status: 204 });
      }),
      http.get(`${API}/jobs/:id/download`, ({ params }) => {
        const job = this.jobs.find((candidate) => candidate.job_id === params.id);
        if (!job) return notFound(String(params.id));
        if (job.status !== "SUCCEEDED") return notFinished(job);
        return HttpResponse.json({ url: `${STORAGE}/outputs/${job.job_id}`, expires_at: "2026-01-02T04:00:00Z", filename: downloadName(job) });
      }),
      http.get(`${STORAGE}/outputs/:id`, ({ params, request }) => {
        const range = request.headers.get("range");
        this.rangeHeaders.push(range);
        const output = this.outputs.get(String(params.id));
        if (output === undefined) return new HttpResponse("NoSuchKey", { status: 404 });
        const bytes = typeof output === "string" ? new TextEncoder().encode(output) : output;
        const match = range ? /bytes=(\d+)-(\d+)/.exec(range) : null;
        if (!match) return new HttpResponse(bytes, { status: 200 });
        const end = Math.min(Number(match[2]) + 1, bytes.length);
        return new HttpResponse(bytes.slice(Number(match[1]), end), {
          status: 206,
          headers: { "Content-Range": `bytes ${match[1]}-${end - 1}/${bytes.length}` },
        });
      }),
    ];
  }

  private async storePart(jobId: string, n: number, request: Request): Promise<Response> {
      if (this.failPartOnce.delete(n)) return new HttpResponse("<Error><Code>InternalError</Code><Message>try again</Message></Error>", { status: 500 });
      const held = this.plans.get(jobId) && this.parts.get(jobId);
      if (!held) return new HttpResponse("<Error><Code>NoSuchUpload</Code><Message>no such upload</Message></Error>", { status: 404 });
      const bytes = await request.arrayBuffer();
      const checksum = sha256(bytes);
      if (request.headers.get("x-amz-checksum-sha256") !== checksum) {
        return new HttpResponse("<Error><Code>BadDigest</Code><Message>The SHA256 you specified did not match the calculated checksum.</Message></Error>", { status: 400 });
      }
      const etag = `"${checksum.slice(0, 8)}-${n}"`;
      held.set(n, { size: bytes.byteLength, etag, checksum });
      return new HttpResponse(null, { status: 200, headers: { ETag: etag } });
  }

  /** The multipart routes, with the local stack's rules: parts bound to their SHA-256, completion checks every part. */
  private multipartHandlers() {
    const upload = (jobId: string) => {
      const plan = this.plans.get(jobId);
      const parts = this.parts.get(jobId);
      return plan && parts ? { plan, parts } : null;
    };
    return [
      http.get(`${API}/jobs/:id/upload/parts`, ({ params }) => {
        const held = upload(String(params.id));
        if (!held) return notFound(String(params.id));
        const parts = [...held.parts.entries()]
          .sort(([a], [b]) => a - b)
          .map(([n, part]) => ({ part_number: n, size: part.size, etag: part.etag, checksum_sha256: part.checksum }));
        return HttpResponse.json({ parts });
      }),
      http.post(`${API}/jobs/:id/upload/parts/:n`, async ({ params, request }) => {
        const jobId = String(params.id);
        const n = Number(params.n);
        const held = upload(jobId);
        if (!held) return notFound(jobId);
        if (n < 1 || n > held.plan.partCount) {
          return HttpResponse.json({ error: { code: "INVALID_PART_NUMBER", message: `part ${n} is outside 1 to ${held.plan.partCount}` } }, { status: 400 });
        }
        const { checksum_sha256: checksum } = (await request.json()) as { checksum_sha256: string };
        this.signedChecksums.set(`${jobId} ${n}`, checksum);
        return HttpResponse.json({ url: `${STORAGE}/parts/${jobId}/${n}`, headers: { "x-amz-checksum-sha256": checksum } });
      }),
      http.put(`${STORAGE}/parts/:id/:n`, async ({ params, request }) => {
        const jobId = String(params.id);
        const n = Number(params.n);
        this.partPuts.push(`${jobId} ${n}`);
        if (this.holdParts.has(n)) return new Promise<never>(() => undefined);
        this.partsInFlight++;
        this.partsInFlightMax = Math.max(this.partsInFlightMax, this.partsInFlight);
        try {
          return await this.storePart(jobId, n, request);
        } finally {
          this.partsInFlight--;
        }
      }),

      http.post(`${API}/jobs/:id/upload/complete`, ({ params }) => {
        const jobId = String(params.id);
        const held = upload(jobId);
        const job = this.jobs.find((candidate) => candidate.job_id === jobId);
        if (!held || !job) return notFound(jobId);
        const { size, partSize, partCount } = held.plan;
        const missing: number[] = [];
        for (let n = 1; n <= partCount; n++) {
          const want = n < partCount ? partSize : size - partSize * (partCount - 1);
          if (held.parts.get(n)?.size !== want) missing.push(n);
        }
        if (missing.length > 0) {
          return HttpResponse.json({ error: { code: "UPLOAD_INCOMPLETE", message: `parts missing or of the wrong size: ${missing.join(", ")}` } }, { status: 409 });
        }
        this.completed.push(jobId);
        return HttpResponse.json({ job });
      }),
    ];
  }
}
