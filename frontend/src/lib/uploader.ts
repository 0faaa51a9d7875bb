// The app's one upload engine: the only module that owns the Uppy instance and the callbacks
// Uppy makes to the job API. Why Uppy (@uppy/core + @uppy/aws-s3) rather than hand-written
// XHR: it is maintained, runs uploads in parallel under one limit, cancels cleanly, retries a
// failed part with back-off (its retryDelays), and its multipart mode (createMultipartUpload,
// signPart, listParts, completeMultipartUpload, abortMultipartUpload, and resuming from a known
// upload id by listing the parts held) is the API's large-file protocol, mapped below.
//
// Each file's job is created *before* the file is handed to Uppy: Uppy decides whether a file
// goes in parts (shouldUseMultipart) and how large they are (getChunkSize) before it calls any
// callback, and only the API's plan (POST /jobs) says so. Guessing from the size would split a
// file differently from the plan the server checks at completion whenever the threshold of a
// deployment differs. Job creation runs in its own queue of PARALLEL_UPLOADS, so a batch of
// many files still creates a few jobs at a time, and a file's upload starts as soon as its plan
// is known.
import AwsS3 from "@uppy/aws-s3";
import Uppy, { type UppyFile } from "@uppy/core";
import { RateLimitedQueue } from "@uppy/utils";
import { ApiError, type ApiClient } from "./api";
import type { ApiErrorCode, ConvertOptions, CreateJobResponse, ExecutionClass, Job, MultipartUpload } from "./types";
import { RESUME_HINT } from "./resumable";
import { sendBytes } from "./upload";

/** Files uploading at once, jobs created at once, and parts of one file sent at once. */
export const PARALLEL_UPLOADS = 4;

/**
 * Uppy never cuts a part smaller than S3's minimum (5 MiB; MultipartUploader's minPartSize):
 * a plan with smaller parts (a local stack's test setting) would be cut differently from it.
 */
export const UPPY_MIN_PART_BYTES = 5 * 1024 * 1024;

/** The API's answer once a job's upload is over (completed, aborted, expired): no resuming it. */
const UPLOAD_CLOSED: ApiErrorCode = "UPLOAD_CLOSED";


/** The base64 SHA-256 of a part's bytes, as the API asks for it (44 characters). */
export async function sha256Base64(body: Blob): Promise<string> {
  // A view rather than the buffer itself: digest refuses an ArrayBuffer made by another realm
  // (jsdom's Blob in the tests); the view is made here, and costs no copy.
  const digest = new Uint8Array(await crypto.subtle.digest("SHA-256", new Uint8Array(await body.arrayBuffer())));
  let binary = "";
  for (const byte of digest) binary += String.fromCharCode(byte);
  return btoa(binary);
}

type UploadMeta = {
  name: string;
  type: string;
  /** The upload list's key for this file. */
  key: string;
  options: ConvertOptions;
  /** One per file picked, random: a retried POST /jobs gets the same job back. */
  idempotencyKey: string;
  /**
   * Uppy names a file by its name, type, size and date, and refuses a second file of the same
   * name: this is the one per-file part of that name, so the same file may be converted twice
   * (with other options, or again after a failure).
   */
  relativePath: string;
  /** The job the API created for the file, and how it said to upload it. */
  jobId: string;
  plan: CreateJobResponse["upload"];
};
type UploadBody = Record<string, never>;
type EngineFile = UppyFile<UploadMeta, UploadBody>;

/** What the engine tells the upload list, keyed by the list's key. */
export interface UploadEvents {
  /** `plan` is set for a multipart upload: what to keep to resume it after a reload. */
  jobCreated(key: string, job: Job, plan: MultipartUpload | null): void;
  progress(key: string, loaded: number): void;
  uploaded(key: string): void;
  /** `resumable`: the job and its parts are kept; choosing the same file again resumes it. */
  failed(key: string, message: string, resumable: boolean): void;
}

export interface UploadEngine {
  /** Creates the file's job (with Glue's `executionClass` when given) and uploads the file;
   * progress and outcome come as events. */
  add(key: string, file: File, options: ConvertOptions, executionClass?: ExecutionClass): void;
  /** Sends the parts of a multipart upload that storage does not hold yet, then completes it. */
  resume(key: string, file: File, upload: { jobId: string; plan: Pick<MultipartUpload, "part_size" | "part_count">; options: ConvertOptions }): void;
  /** Stops the upload and deletes its job (which would otherwise wait for its file forever). */
  cancel(key: string): void;
  /** Stops everything (the app is going away). */
  close(): void;
}

/** A message a user can act on, from whatever went wrong before or while uploading. */
export function describeUploadError(fileName: string, error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 413) return `"${fileName}" is too large: ${error.message}`;
    if (error.status === 429) return `"${fileName}" must wait: ${error.message}`;
    if (error.status === 400 || error.status === 422) return `"${fileName}" was refused: ${error.message}`;
    return `Could not create a job for "${fileName}": ${error.message}`;
  }
  return error instanceof Error && error.message ? error.message : `Could not upload "${fileName}".`;
}

/** Why a plan cannot be uploaded by this engine, or null when it can. */
function planProblem(fileName: string, size: number, plan: CreateJobResponse["upload"]): string | null {
  if (plan.method !== "multipart") return null;
  // Uppy only goes multipart above its smallest part, and never cuts parts below it.
  if (plan.part_size < UPPY_MIN_PART_BYTES || size <= UPPY_MIN_PART_BYTES) {
    return `"${fileName}" cannot be uploaded here: the server plans parts of ${plan.part_size} bytes, below the ${UPPY_MIN_PART_BYTES} this app sends`;
  }
  return null;
}

export function createUploadEngine(api: ApiClient, events: UploadEvents): UploadEngine {
  const uppy = new Uppy<UploadMeta, UploadBody>({ id: "uploads", autoProceed: false, allowMultipleUploadBatches: true });
  const fileIds = new Map<string, string>(); // list key -> Uppy file id
  const jobIds = new Map<string, string>(); // list key -> job id
  // Part size by file data: Uppy's getChunkSize is handed the bytes, not the Uppy file.
  const partSizes = new WeakMap<Blob, number>();
  // Keys whose end the engine itself caused (cancel, close): their later events are dropped.
  const ended = new Set<string>();
  const creating = new RateLimitedQueue(PARALLEL_UPLOADS);

  const deleteJob = (jobId: string) => void api.deleteJob(jobId).catch(() => undefined);

  // Removing a finished file frees its bytes and lets the same file be added again.
  const forget = (key: string) => {
    const id = fileIds.get(key);
    fileIds.delete(key);
    jobIds.delete(key);
    ended.add(key);
    if (id && uppy.getFile(id)) uppy.removeFile(id);
  };

  const jobOf = (file: EngineFile) => file.meta.jobId;

  /** Hands a file whose job exists to Uppy; `resumeFrom` names a multipart upload already begun. */
  function enqueue(key: string, file: File, meta: Omit<UploadMeta, "name" | "type" | "key" | "relativePath">, resumeFrom: string | null) {
    if (meta.plan.method === "multipart") partSizes.set(file, meta.plan.part_size);
    const id = uppy.addFile({
      name: file.name,
      type: file.type,
      data: file,
      meta: { ...meta, name: file.name, type: file.type, key, relativePath: key },
    });
    fileIds.set(key, id);
    // With an upload id and key known, Uppy lists the parts held and sends only the others.
    if (resumeFrom) uppy.setFileState(id, { s3Multipart: { uploadId: resumeFrom, key: resumeFrom } } as Partial<EngineFile>);
    // Starts this file (and any other waiting one); each batch settles on its own.
    uppy.upload().catch(() => undefined);
  }

  const createJob = creating.wrapPromiseFunction(
    (file: File, options: ConvertOptions, idempotencyKey: string, executionClass: ExecutionClass | undefined) =>
      api.createJob(
        { filename: file.name, size: file.size, options, ...(executionClass ? { execution_class: executionClass } : {}) },
        idempotencyKey,
      ),
  );

  async function createAndEnqueue(key: string, file: File, options: ConvertOptions, executionClass?: ExecutionClass) {
    const idempotencyKey = crypto.randomUUID();
    try {
      const created = await createJob(file, options, idempotencyKey, executionClass);
      if (ended.has(key)) {
        // Cancelled while the job was being created: nobody will upload its file.
        deleteJob(created.job.job_id);
        return;
      }
      const problem = planProblem(file.name, file.size, created.upload);
      if (problem) {
        deleteJob(created.job.job_id);
        forget(key);
        events.failed(key, problem, false);
        return;
      }
      jobIds.set(key, created.job.job_id);
      events.jobCreated(key, created.job, created.upload.method === "multipart" ? created.upload : null);
      enqueue(key, file, { options, idempotencyKey, jobId: created.job.job_id, plan: created.upload }, null);
    } catch (error) {
      if (ended.has(key)) return;
      forget(key);
      events.failed(key, describeUploadError(file.name, error), false);
    }
  }

  uppy.use(AwsS3<UploadMeta, UploadBody>, {
    // Uppy's request limit: files (POST forms) and parts alike, so about 4 parts at a time.
    limit: PARALLEL_UPLOADS,
    shouldUseMultipart: (file: EngineFile) => file.meta.plan.method === "multipart",
    // Uppy hands the file's bytes (the Blob given to addFile), so the plan is found by them.
    getChunkSize: (data: { size: number }) => partSizes.get(data as Blob) ?? UPPY_MIN_PART_BYTES,
    uploadPartBytes: sendBytes,
    getUploadParameters(file: EngineFile) {
      const { plan } = file.meta;
      if (plan.method !== "post") throw new Error(`${file.name ?? "The file"} must be uploaded in parts`);
      return { method: "POST" as const, url: plan.url, fields: plan.fields };
    },
    // The job (and with it the storage upload) exists already: its id names the upload.
    createMultipartUpload: (file: EngineFile) => ({ uploadId: jobOf(file), key: jobOf(file) }),
    async signPart(file: EngineFile, { partNumber, body }) {
      const part = await api.signUploadPart(jobOf(file), partNumber, await sha256Base64(body));
      return { method: "PUT" as const, url: part.url, headers: part.headers };
    },
    async listParts(file: EngineFile) {
      const parts = await api.listUploadParts(jobOf(file));
      return parts.map((part) => ({ PartNumber: part.part_number, Size: part.size, ETag: part.etag }));
    },
    async completeMultipartUpload(file: EngineFile) {
      // The server lists the parts itself: Uppy's list is not sent.
      await api.completeUpload(jobOf(file));
      return {};
    },
    // Uppy calls this when a file is removed and after a part failed for good. Cancel deletes
    // the job itself (cancel below); after a failure the job is kept, so that choosing the
    // same file again resumes it (and an abandoned one expires with its upload).
    abortMultipartUpload: () => undefined,
  });

  const keyOf = (file: EngineFile | undefined) => (file && !ended.has(file.meta.key) ? file.meta.key : null);
  uppy.on("upload-progress", (file, progress) => {
    const key = keyOf(file);
    if (key) events.progress(key, progress.bytesUploaded);
  });
  uppy.on("upload-success", (file) => {
    const key = keyOf(file);
    if (!key) return;
    forget(key);
    events.uploaded(key);
  });
  uppy.on("upload-error", (file, error) => {
    const key = keyOf(file);
    if (!key || !file) return;
    forget(key);
    const message = describeUploadError(file.name ?? "the file", error);
    const resumable = file.meta.plan.method === "multipart" && !(error instanceof ApiError && (error.status === 404 || error.code === UPLOAD_CLOSED));
    events.failed(key, resumable ? `${message} (${RESUME_HINT})` : message, resumable);
  });

  return {
    add(key, file, options, executionClass) {
      ended.delete(key);
      void createAndEnqueue(key, file, options, executionClass);
    },
    resume(key, file, { jobId, plan, options }) {
      ended.delete(key);
      jobIds.set(key, jobId);
      enqueue(key, file, { options, idempotencyKey: crypto.randomUUID(), jobId, plan: { method: "multipart", ...plan } }, jobId);
    },
    cancel(key) {
      const jobId = jobIds.get(key);
      forget(key);
      if (jobId) deleteJob(jobId);
    },
    close() {
      for (const key of [...fileIds.keys()]) forget(key);
      uppy.destroy();
    },
  };
}
