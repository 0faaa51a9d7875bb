// The app's one upload engine: the only module that owns the Uppy instance and the callbacks
// Uppy makes to the job API. Why Uppy (@uppy/core + @uppy/aws-s3) rather than hand-written
// XHR: it is maintained, runs uploads in parallel under one limit, cancels cleanly, retries a
// failed part with back-off, and its multipart mode (createMultipartUpload, signPart,
// listParts, completeMultipartUpload, abortMultipartUpload, with resume after a reload) is the
// large-file protocol the API is growing (`upload.method == "multipart"`). Those callbacks go
// next to getUploadParameters below, reading the same job plan; nothing else has to change.
//
// Each file's job is created inside Uppy's queue (getUploadParameters calls POST /jobs), so
// the parallel limit also spaces out job creation, and the plan the API returns is used at once.
import AwsS3 from "@uppy/aws-s3";
import Uppy, { type UppyFile } from "@uppy/core";
import { ApiError, type ApiClient } from "./api";
import type { ConvertOptions, Job } from "./types";
import { sendBytes } from "./upload";

/** Files uploading at once (job creation included). */
export const PARALLEL_UPLOADS = 4;

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
};
type UploadBody = Record<string, never>;
type EngineFile = UppyFile<UploadMeta, UploadBody>;

/** What the engine tells the upload list, keyed by the list's key. */
export interface UploadEvents {
  jobCreated(key: string, job: Job): void;
  progress(key: string, loaded: number): void;
  uploaded(key: string): void;
  failed(key: string, message: string): void;
}

export interface UploadEngine {
  /** Creates the file's job and uploads the file; progress and outcome come as events. */
  add(key: string, file: File, options: ConvertOptions): void;
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

export function createUploadEngine(api: ApiClient, events: UploadEvents): UploadEngine {
  const uppy = new Uppy<UploadMeta, UploadBody>({ id: "uploads", autoProceed: false, allowMultipleUploadBatches: true });
  const fileIds = new Map<string, string>(); // list key -> Uppy file id
  const jobIds = new Map<string, string>(); // list key -> job id
  // Keys whose end the engine itself caused (cancel, close): their later events are dropped.
  const ended = new Set<string>();

  const deleteJob = (jobId: string) => void api.deleteJob(jobId).catch(() => undefined);

  // Removing a finished file frees its bytes and lets the same file be added again.
  const forget = (key: string) => {
    const id = fileIds.get(key);
    fileIds.delete(key);
    jobIds.delete(key);
    ended.add(key);
    if (id && uppy.getFile(id)) uppy.removeFile(id);
  };

  /** POST /jobs for a file: the job and the upload plan the API chose for it. */
  async function createJobFor(file: EngineFile) {
    const { key, options, idempotencyKey } = file.meta;
    const created = await api.createJob({ filename: file.name ?? "", size: file.size ?? 0, options }, idempotencyKey);
    if (ended.has(key)) {
      // Cancelled while the job was being created: nobody will upload its file.
      deleteJob(created.job.job_id);
      throw new DOMException("Upload cancelled", "AbortError");
    }
    jobIds.set(key, created.job.job_id);
    events.jobCreated(key, created.job);
    return created;
  }

  uppy.use(AwsS3<UploadMeta, UploadBody>, {
    limit: PARALLEL_UPLOADS,
    // The multipart protocol slots in here: shouldUseMultipart becomes the API's size
    // threshold; createMultipartUpload calls createJobFor and returns the plan's upload id and
    // key; signPart asks POST /jobs/{id}/upload/parts/{n}, listParts GET /jobs/{id}/upload/parts
    // (resume), completeMultipartUpload POST /jobs/{id}/upload/complete, and
    // abortMultipartUpload deletes the job. sendBytes already sends a part (PUT) and hands
    // Uppy its ETag.
    shouldUseMultipart: false,
    uploadPartBytes: sendBytes,
    async getUploadParameters(file: EngineFile) {
      const { upload } = await createJobFor(file);
      if (upload.method !== "post") {
        // The multipart callbacks (parts, resume) are not wired yet: say so, in one line.
        throw new Error(`${file.name ?? "The file"} is larger than one upload form carries; uploading in parts is not supported here yet`);
      }
      return { method: "POST" as const, url: upload.url, fields: upload.fields };
    },
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
    if (!key) return;
    forget(key);
    events.failed(key, describeUploadError(file?.name ?? "the file", error));
  });

  return {
    add(key, file, options) {
      const id = uppy.addFile({
        name: file.name,
        type: file.type,
        data: file,
        meta: { name: file.name, type: file.type, key, options, idempotencyKey: crypto.randomUUID(), relativePath: key },
      });
      fileIds.set(key, id);
      // Starts this file (and any other waiting one); each batch settles on its own.
      uppy.upload().catch(() => undefined);
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
