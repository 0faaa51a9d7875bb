// The upload manager: one for the whole app, mounted above the routes, so opening a job page
// (or any route change) while files upload neither stops nor deletes anything. It keeps one
// row per file picked, feeds them from the upload engine (lib/uploader.ts, the one owner of
// Uppy) and warns before the page is left while a file is still on its way. A multipart upload
// is remembered (lib/resumable.ts) until it completes: after a reload its row asks for the same
// file again, and choosing it sends only the parts storage does not hold yet.
import { createContext, useCallback, useContext, useEffect, useMemo, useReducer, useRef, type ReactNode } from "react";
import { useQueryClient } from "@tanstack/react-query";
import { createUploadEngine, type UploadEngine } from "../lib/uploader";
import { findResumable, forgetResumable, identityOf, loadResumable, saveResumable, type ResumableUpload } from "../lib/resumable";
import type { ConvertOptions, ExecutionClass } from "../lib/types";
import { useApi } from "./ApiContext";
import { refreshJobs } from "./useJobs";

/**
 * Where a file is on its way to storage; once "uploaded", its row follows its job.
 * "interrupted": a multipart upload begun before a reload, waiting for its file to be chosen again.
 */
export type UploadPhase = "creating" | "uploading" | "uploaded" | "error" | "cancelled" | "interrupted";

export interface UploadItem {
  key: string;
  /** The picked file, kept while its row is listed: "Convert again" needs its bytes. Null after a reload. */
  file: File | null;
  fileName: string;
  size: number;
  options: ConvertOptions;
  phase: UploadPhase;
  loaded: number;
  jobId: string | null;
  error: string | null;
}

type Action =
  | { type: "add"; items: UploadItem[] }
  | { type: "update"; key: string; patch: Partial<UploadItem> }
  | { type: "dismiss"; key: string }
  | { type: "forgetJob"; jobId: string }
  | { type: "resume"; item: UploadItem }
  | { type: "clearFinished" };

export function isInFlight(item: Pick<UploadItem, "phase">): boolean {
  return item.phase === "creating" || item.phase === "uploading";
}

function reducer(items: UploadItem[], action: Action): UploadItem[] {
  switch (action.type) {
    case "add":
      return [...action.items, ...items];
    case "update":
      return items.map((item) => (item.key === action.key ? { ...item, ...action.patch } : item));
    case "dismiss":
      return items.filter((item) => item.key !== action.key);
    case "forgetJob":
      return items.filter((item) => item.jobId !== action.jobId);
    case "resume":
      return [action.item, ...items.filter((item) => item.jobId !== action.item.jobId)];
    case "clearFinished":
      return items.filter(isInFlight);
  }
}

export function isParquetFile(name: string): boolean {
  return name.toLowerCase().endsWith(".parquet");
}

export interface Uploads {
  items: UploadItem[];
  /** Each file becomes a job converted with `options` (on Glue's `executionClass` when given),
   * uploaded in parallel. */
  start(files: File[], options: ConvertOptions, executionClass?: ExecutionClass): void;
  cancel(key: string): void;
  dismiss(key: string): void;
  clearFinished(): void;
  /** The bytes of the file a job was created for, while this tab still holds them. */
  fileOf(jobId: string): File | null;
  /** A job was deleted: its row has nothing left to follow. */
  forgetJob(jobId: string): void;
}

const UploadsContext = createContext<Uploads | null>(null);

let counter = 0;

/** The row of an upload begun before the page was reloaded. */
function interruptedRow(entry: ResumableUpload): UploadItem {
  return {
    key: `resume-${entry.jobId}`,
    file: null,
    fileName: entry.file.name,
    size: entry.file.size,
    options: entry.options,
    phase: "interrupted",
    loaded: 0,
    jobId: entry.jobId,
    error: null,
  };
}

export function UploadsProvider({ children }: { children: ReactNode }) {
  const api = useApi();
  const queryClient = useQueryClient();
  const [items, dispatch] = useReducer(reducer, undefined, () => loadResumable().map(interruptedRow));
  const engine = useRef<UploadEngine | null>(null);
  // What the engine's events need of a row, without waiting for a render: its file and job.
  const started = useRef(new Map<string, { file: File; options: ConvertOptions; jobId: string | null }>());

  useEffect(() => {
    const update = (key: string, patch: Partial<UploadItem>) => dispatch({ type: "update", key, patch });
    engine.current = createUploadEngine(api, {
      jobCreated: (key, job, plan) => {
        const row = started.current.get(key);
        if (row) row.jobId = job.job_id;
        if (row && plan) saveResumable({ jobId: job.job_id, plan: { part_size: plan.part_size, part_count: plan.part_count }, file: identityOf(row.file), options: row.options });
        update(key, { phase: "uploading", jobId: job.job_id });
        // The new PENDING job shows up in the table (and starts the polling) right away.
        refreshJobs(queryClient);
      },
      progress: (key, loaded) => update(key, { loaded }),
      uploaded: (key) => {
        const jobId = started.current.get(key)?.jobId;
        if (jobId) forgetResumable(jobId);
        update(key, { phase: "uploaded" });
        refreshJobs(queryClient);
      },
      failed: (key, message, resumable) => {
        const jobId = started.current.get(key)?.jobId;
        if (jobId && !resumable) forgetResumable(jobId);
        update(key, { phase: "error", error: message });
        refreshJobs(queryClient);
      },
    });
    return () => {
      engine.current?.close();
      engine.current = null;
    };
  }, [api, queryClient]);

  const inFlight = items.some(isInFlight);
  useEffect(() => {
    if (!inFlight) return;
    // Leaving or reloading now would stop the upload and leave its job waiting for its file.
    const warn = (event: BeforeUnloadEvent) => {
      event.preventDefault();
      event.returnValue = "";
    };
    window.addEventListener("beforeunload", warn);
    return () => window.removeEventListener("beforeunload", warn);
  }, [inFlight]);

  const start = useCallback(
    (files: File[], options: ConvertOptions, executionClass?: ExecutionClass) => {
      const added: UploadItem[] = [];
      for (const file of files) {
        // The file of an interrupted (or failed) multipart upload, chosen again: resume it, in
        // place of its old row. One already on its way in this tab is a new conversion instead.
        const saved = findResumable(identityOf(file));
        if (saved && !items.some((item) => item.jobId === saved.jobId && isInFlight(item))) {
          const key = `upload-${++counter}`;
          started.current.set(key, { file, options: saved.options, jobId: saved.jobId });
          dispatch({ type: "resume", item: { ...interruptedRow(saved), key, file, phase: "uploading" } });
          engine.current?.resume(key, file, saved);
          continue;
        }
        const base = { key: `upload-${++counter}`, file, fileName: file.name, size: file.size, options, loaded: 0, jobId: null };
        if (!isParquetFile(file.name)) {
          added.push({ ...base, phase: "error", error: `"${file.name}" is not a Parquet file. Only .parquet files can be converted.` });
          continue;
        }
        added.push({ ...base, phase: "creating", error: null });
        started.current.set(base.key, { file, options, jobId: null });
        engine.current?.add(base.key, file, options, executionClass);
      }
      dispatch({ type: "add", items: added });
    },
    [items],
  );

  const cancel = useCallback(
    (key: string) => {
      const item = items.find((candidate) => candidate.key === key);
      const jobId = item?.jobId ?? started.current.get(key)?.jobId ?? null;
      if (item?.phase === "interrupted" && jobId) {
        // Nothing uploads it in this tab: delete its job (and storage's upload) here.
        void api.deleteJob(jobId).catch(() => undefined);
      } else {
        engine.current?.cancel(key);
      }
      if (jobId) forgetResumable(jobId);
      dispatch({ type: "update", key, patch: { phase: "cancelled" } });
      refreshJobs(queryClient);
    },
    [api, items, queryClient],
  );

  const fileOf = useCallback((jobId: string) => items.find((item) => item.jobId === jobId)?.file ?? null, [items]);

  const value = useMemo<Uploads>(
    () => ({
      items,
      start,
      cancel,
      dismiss: (key) => dispatch({ type: "dismiss", key }),
      clearFinished: () => dispatch({ type: "clearFinished" }),
      fileOf,
      forgetJob: (jobId) => {
        // Deleted while its file was still on the way: stop sending it.
        for (const item of items) if (item.jobId === jobId && isInFlight(item)) engine.current?.cancel(item.key);
        forgetResumable(jobId);
        dispatch({ type: "forgetJob", jobId });
      },
    }),
    [items, start, cancel, fileOf],
  );
  return <UploadsContext.Provider value={value}>{children}</UploadsContext.Provider>;
}

export function useUploads(): Uploads {
  const value = useContext(UploadsContext);
  if (!value) throw new Error("useUploads must be used inside <UploadsProvider>");
  return value;
}
