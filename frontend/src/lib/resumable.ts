// What survives a page reload of a multipart upload: its job, its plan and the identity of its
// file, in localStorage. Browsers do not keep a File across a reload without the user. Uppy's
// Golden Retriever plugin was considered and not chosen: it keeps files in IndexedDB only when
// small (its documentation: usually under 5 MiB, below this app's multipart threshold), and keeps
// references to large files only through an optional Service Worker the app would have to serve,
// which its documentation calls temporary; it also needs a version matching @uppy/core 5.2.0,
// which was not checked. So the app keeps only what it needs to recognise the file when the user
// chooses it again: name, size and lastModified, the same triple a browser gives a re-selected file.
import type { ConvertOptions, MultipartUpload } from "./types";

/** The localStorage key holding every interrupted multipart upload of this browser. */
export const RESUMABLE_STORAGE_KEY = "etl.resumableUploads.v1";

/** What a row says while its multipart upload can be picked up again. */
export const RESUME_HINT = "choose the same file again to resume";

export interface FileIdentity {
  name: string;
  size: number;
  lastModified: number;
}

export interface ResumableUpload {
  jobId: string;
  plan: Pick<MultipartUpload, "part_size" | "part_count">;
  file: FileIdentity;
  options: ConvertOptions;
}

export function identityOf(file: Pick<File, "name" | "size" | "lastModified">): FileIdentity {
  return { name: file.name, size: file.size, lastModified: file.lastModified };
}

export function sameFile(a: FileIdentity, b: FileIdentity): boolean {
  return a.name === b.name && a.size === b.size && a.lastModified === b.lastModified;
}

function isResumable(value: unknown): value is ResumableUpload {
  const entry = value as Partial<ResumableUpload> | null;
  return (
    typeof entry?.jobId === "string" &&
    typeof entry.plan?.part_size === "number" &&
    typeof entry.plan.part_count === "number" &&
    typeof entry.file?.name === "string" &&
    typeof entry.file.size === "number" &&
    typeof entry.file.lastModified === "number" &&
    typeof entry.options === "object"
  );
}

/** The stored uploads; an unreadable store (private mode, bad JSON) reads as none. */
export function loadResumable(storage: Storage = localStorage): ResumableUpload[] {
  try {
    const parsed = JSON.parse(storage.getItem(RESUMABLE_STORAGE_KEY) ?? "[]") as unknown;
    return Array.isArray(parsed) ? parsed.filter(isResumable) : [];
  } catch {
    return [];
  }
}

function store(entries: ResumableUpload[], storage: Storage): void {
  try {
    if (entries.length === 0) storage.removeItem(RESUMABLE_STORAGE_KEY);
    else storage.setItem(RESUMABLE_STORAGE_KEY, JSON.stringify(entries));
  } catch {
    // Storage full or disabled: the upload goes on, it just cannot be resumed after a reload.
  }
}

/** Remembers (or replaces) the upload of `entry.jobId`. */
export function saveResumable(entry: ResumableUpload, storage: Storage = localStorage): void {
  store([...loadResumable(storage).filter((other) => other.jobId !== entry.jobId), entry], storage);
}

/** Forgets a job's upload: it completed, was cancelled, or can no longer be resumed. */
export function forgetResumable(jobId: string, storage: Storage = localStorage): void {
  store(
    loadResumable(storage).filter((entry) => entry.jobId !== jobId),
    storage,
  );
}

/** The stored upload a file chosen again belongs to, if any. */
export function findResumable(file: FileIdentity, storage: Storage = localStorage): ResumableUpload | null {
  return loadResumable(storage).find((entry) => sameFile(entry.file, file)) ?? null;
}
