// Sends one request body (a presigned POST form, later a multipart part) to storage for Uppy,
// as its `uploadPartBytes`. Written here rather than Uppy's own because Uppy's: (1) waits
// forever when the answer has no readable ETag header, which the local stack's form upload
// (204, no ETag) and any bucket whose CORS hides the header give; (2) turns every refusal into
// "Non 2xx", where S3 and the local stack say why (an expired policy, a file too large).
// XMLHttpRequest, not fetch: only XHR reports upload progress in browsers.

export class UploadError extends Error {
  readonly status: number;
  /** Read by Uppy when it decides whether to retry a multipart part (5xx and 429 are retried). */
  readonly source: { status: number };
  constructor(status: number, message: string) {
    super(message);
    this.name = "UploadError";
    this.status = status;
    this.source = { status };
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

/** What Uppy hands its `uploadPartBytes`. */
export interface SendBytesRequest {
  signature: { url: string; method?: "POST" | "PUT"; headers?: Record<string, string> };
  body: FormData | Blob;
  size?: number;
  onProgress: (event: { loaded: number; lengthComputable: boolean }) => void;
  onComplete: (etag: string) => void;
  signal?: AbortSignal;
}

function abortError(): DOMException {
  return new DOMException("Upload cancelled", "AbortError");
}

/** Sends `body`; progress is reported in bytes of the file (or part), not of the form around it. */
export function sendBytes({ signature, body, size, onProgress, onComplete, signal }: SendBytesRequest): Promise<{ ETag: string; location?: string }> {
  const method = signature.method ?? "PUT";
  const total = size ?? (body instanceof Blob ? body.size : 0);
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(abortError());
      return;
    }
    const xhr = new XMLHttpRequest();
    xhr.open(method, signature.url);
    for (const [name, value] of Object.entries(signature.headers ?? {})) xhr.setRequestHeader(name, value);
    // Progress events count bytes of the whole form (fields + boundaries + file): scale them
    // to the file's size so "x of y" matches the size the user knows.
    xhr.upload.addEventListener("progress", (event) => {
      const fraction = event.lengthComputable && event.total > 0 ? event.loaded / event.total : 0;
      onProgress({ loaded: Math.min(total, Math.round(fraction * total)), lengthComputable: true });
    });
    const onAbort = () => xhr.abort();
    signal?.addEventListener("abort", onAbort, { once: true });
    xhr.addEventListener("load", () => {
      signal?.removeEventListener("abort", onAbort);
      if (xhr.status < 200 || xhr.status >= 300) {
        reject(new UploadError(xhr.status, describeUploadFailure(xhr.status, xhr.responseText)));
        return;
      }
      onProgress({ loaded: total, lengthComputable: true });
      // A form upload needs no ETag; a multipart part does, and S3 sends it (CORS exposes it).
      const etag = xhr.getResponseHeader("ETag") ?? "";
      onComplete(etag);
      resolve({ ETag: etag, location: xhr.getResponseHeader("Location") ?? undefined });
    });
    xhr.addEventListener("error", () => reject(new UploadError(0, describeUploadFailure(0, ""))));
    xhr.addEventListener("abort", () => reject(abortError()));
    xhr.send(body);
  });
}
