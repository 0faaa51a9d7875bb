// Sends a file with a presigned POST. XMLHttpRequest, not fetch: only XHR reports upload
// progress events in browsers, and the progress bar must show real bytes sent.
import type { PresignedPost } from "./types";

export interface UploadProgress {
  loaded: number;
  total: number;
}

export class UploadError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "UploadError";
    this.status = status;
  }
}

export class UploadCancelled extends Error {
  constructor() {
    super("Upload cancelled");
    this.name = "UploadCancelled";
  }
}

/** S3 answers errors in XML (<Code>, <Message>); the local stack may answer JSON. */
export function describeUploadFailure(status: number, body: string): string {
  const xmlMessage = /<Message>([^<]*)<\/Message>/.exec(body)?.[1];
  const xmlCode = /<Code>([^<]*)<\/Code>/.exec(body)?.[1];
  if (xmlCode === "EntityTooLarge") return "Upload failed: the file is larger than allowed.";
  if (xmlMessage) return `Upload failed: ${xmlMessage}`;
  try {
    const json = JSON.parse(body) as { error?: { message?: string } };
    if (json.error?.message) return `Upload failed: ${json.error.message}`;
  } catch {
    // not JSON
  }
  return status === 0 ? "Upload failed: the storage service could not be reached." : `Upload failed (HTTP ${status}).`;
}

export function uploadToPresignedPost(
  post: PresignedPost,
  file: File,
  options: { onProgress?: (progress: UploadProgress) => void; signal?: AbortSignal } = {},
): Promise<void> {
  const { onProgress, signal } = options;
  return new Promise<void>((resolve, reject) => {
    if (signal?.aborted) {
      reject(new UploadCancelled());
      return;
    }
    // S3 requires the policy fields before the file, and the file last.
    const form = new FormData();
    for (const [name, value] of Object.entries(post.fields)) form.append(name, value);
    form.append("file", file, file.name);

    const xhr = new XMLHttpRequest();
    xhr.open("POST", post.url);
    // Progress events count bytes of the whole multipart body (fields + boundaries + file):
    // scale them to the file's size so "x of y" matches the size the user knows.
    xhr.upload.addEventListener("progress", (event) => {
      const fraction = event.lengthComputable && event.total > 0 ? event.loaded / event.total : 0;
      onProgress?.({ loaded: Math.min(file.size, Math.round(fraction * file.size)), total: file.size });
    });
    xhr.addEventListener("load", () => {
      if (xhr.status >= 200 && xhr.status < 300) {
        onProgress?.({ loaded: file.size, total: file.size });
        resolve();
      } else {
        reject(new UploadError(xhr.status, describeUploadFailure(xhr.status, xhr.responseText)));
      }
    });
    xhr.addEventListener("error", () => reject(new UploadError(0, describeUploadFailure(0, ""))));
    xhr.addEventListener("abort", () => reject(new UploadCancelled()));
    // Settle right away on cancel rather than waiting for the XHR's own abort event.
    signal?.addEventListener(
      "abort",
      () => {
        xhr.abort();
        reject(new UploadCancelled());
      },
      { once: true },
    );
    xhr.send(form);
  });
}
