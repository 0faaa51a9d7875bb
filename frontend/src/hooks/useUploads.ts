// Upload orchestration: each picked file becomes a job (POST /jobs), then goes straight to
// storage with the presigned POST the API returned. State per file drives the progress list.
import { useCallback, useEffect, useReducer, useRef } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { ApiError } from "../lib/api";
import { UploadCancelled, uploadToPresignedPost } from "../lib/upload";
import type { ConvertOptions } from "../lib/types";
import { useApi } from "./ApiContext";
import { useCreateJob } from "./useJobs";

export type UploadPhase = "creating" | "uploading" | "done" | "error" | "cancelled";

export interface UploadItem {
  key: string;
  fileName: string;
  size: number;
  phase: UploadPhase;
  loaded: number;
  jobId: string | null;
  error: string | null;
}

type Action =
  | { type: "add"; item: UploadItem }
  | { type: "update"; key: string; patch: Partial<UploadItem> }
  | { type: "dismiss"; key: string }
  | { type: "clearFinished" };

function reducer(items: UploadItem[], action: Action): UploadItem[] {
  switch (action.type) {
    case "add":
      return [action.item, ...items];
    case "update":
      return items.map((item) => (item.key === action.key ? { ...item, ...action.patch } : item));
    case "dismiss":
      return items.filter((item) => item.key !== action.key);
    case "clearFinished":
      return items.filter((item) => item.phase === "creating" || item.phase === "uploading");
  }
}

export function isParquetFile(name: string): boolean {
  return name.toLowerCase().endsWith(".parquet");
}

/** A message a user can act on, from whatever went wrong. */
export function describeCreateError(fileName: string, error: unknown): string {
  if (error instanceof ApiError) {
    if (error.status === 413) return `"${fileName}" is too large: ${error.message}`;
    if (error.status === 429) return `"${fileName}" must wait: ${error.message}`;
    if (error.status === 400 || error.status === 422) return `"${fileName}" was refused: ${error.message}`;
    return `Could not create a job for "${fileName}": ${error.message}`;
  }
  return error instanceof Error ? error.message : `Could not upload "${fileName}".`;
}

let counter = 0;

export function useUploads() {
  const api = useApi();
  const { mutateAsync: createJob } = useCreateJob();
  const queryClient = useQueryClient();
  const [items, dispatch] = useReducer(reducer, []);
  const controllers = useRef(new Map<string, AbortController>());

  // Leaving the page must not leave uploads running in the background of a dead component.
  useEffect(() => {
    const map = controllers.current;
    return () => map.forEach((controller) => controller.abort());
  }, []);

  const uploadOne = useCallback(
    async (file: File, options: ConvertOptions) => {
      const key = `upload-${++counter}`;
      const base: UploadItem = { key, fileName: file.name, size: file.size, phase: "creating", loaded: 0, jobId: null, error: null };
      if (!isParquetFile(file.name)) {
        dispatch({
          type: "add",
          item: { ...base, phase: "error", error: `"${file.name}" is not a Parquet file. Only .parquet files can be converted.` },
        });
        return;
      }
      const controller = new AbortController();
      controllers.current.set(key, controller);
      dispatch({ type: "add", item: base });
      const update = (patch: Partial<UploadItem>) => dispatch({ type: "update", key, patch });
      let jobId: string | null = null;
      try {
        // One Idempotency-Key per file picked, random (not a per-page counter, which a reload
        // restarts and which would hand back an earlier job): a retry of this request gets
        // the same job back instead of a second one.
        const created = await createJob({
          request: { filename: file.name, size: file.size, options },
          idempotencyKey: crypto.randomUUID(),
        });
        jobId = created.job.job_id;
        if (controller.signal.aborted) throw new UploadCancelled();
        update({ phase: "uploading", jobId });
        // The new PENDING job shows up in the table (and starts the polling) right away.
        void queryClient.invalidateQueries({ queryKey: ["jobs", "list"] });
        if (created.upload.method !== "post") {
          // The multipart uploader (parts, resume) is not in this app yet: say so, in one line.
          throw new Error(`${file.name} is larger than one upload form carries; uploading in parts is not supported here yet`);
        }
        await uploadToPresignedPost(created.upload, file, {
          signal: controller.signal,
          onProgress: ({ loaded }) => update({ loaded }),
        });
        update({ phase: "done", loaded: file.size });
      } catch (error) {
        if (error instanceof UploadCancelled) {
          update({ phase: "cancelled" });
          // A cancelled upload would leave a PENDING job forever: remove it (best effort).
          if (jobId) await api.deleteJob(jobId).catch(() => undefined);
        } else {
          update({ phase: "error", error: describeCreateError(file.name, error) });
        }
      } finally {
        controllers.current.delete(key);
        void queryClient.invalidateQueries({ queryKey: ["jobs", "list"] });
      }
    },
    [api, createJob, queryClient],
  );

  const start = useCallback(
    (files: File[], options: ConvertOptions) => Promise.all(files.map((file) => uploadOne(file, options))),
    [uploadOne],
  );
  const cancel = useCallback((key: string) => controllers.current.get(key)?.abort(), []);
  const dismiss = useCallback((key: string) => dispatch({ type: "dismiss", key }), []);
  const clearFinished = useCallback(() => dispatch({ type: "clearFinished" }), []);

  return { items, start, cancel, dismiss, clearFinished };
}
