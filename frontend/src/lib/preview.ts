// Preview of a job's result without downloading it whole: ask for the first bytes with a
// Range header, decompress on the fly when gzipped, and keep only complete records.
import type { ConvertOptions } from "./types";

export const PREVIEW_BYTES = 64 * 1024;

export interface Preview {
  records: unknown[];
  /** True when the file goes on past what was read. */
  truncated: boolean;
  /** Set when records could not be parsed: the start of the file as text instead. */
  rawText: string | null;
}

/** Complete JSON Lines in `text`; the last line is dropped when the text was cut mid-line. */
export function parseJsonLines(text: string, complete: boolean, maxRecords: number): unknown[] {
  const lines = text.split("\n");
  if (!complete) lines.pop();
  const records: unknown[] = [];
  for (const line of lines) {
    if (records.length >= maxRecords) break;
    if (line.trim() === "") continue;
    records.push(JSON.parse(line));
  }
  return records;
}

/**
 * Complete elements at the start of a JSON array document, which may be cut anywhere.
 * Scans for top-level element boundaries (tracking strings and nesting) instead of parsing
 * the whole text, because the text is usually a prefix and JSON.parse would reject it.
 */
export function parseJsonArrayPrefix(text: string, maxRecords: number): unknown[] {
  const start = text.indexOf("[");
  if (start < 0) throw new SyntaxError("not a JSON array");
  const records: unknown[] = [];
  let depth = 0;
  let inString = false;
  let escaped = false;
  let elementStart = -1;
  for (let i = start + 1; i < text.length && records.length < maxRecords; i++) {
    const ch = text[i];
    if (inString) {
      if (escaped) escaped = false;
      else if (ch === "\\") escaped = true;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') {
      inString = true;
      if (depth === 0 && elementStart < 0) elementStart = i;
    } else if (ch === "{" || ch === "[") {
      if (depth === 0 && elementStart < 0) elementStart = i;
      depth++;
    } else if (ch === "}" || ch === "]") {
      if (depth === 0) {
        // closing bracket of the array itself
        if (elementStart >= 0) records.push(JSON.parse(text.slice(elementStart, i)));
        break;
      }
      depth--;
    } else if (ch === "," && depth === 0) {
      if (elementStart >= 0) records.push(JSON.parse(text.slice(elementStart, i)));
      elementStart = -1;
    } else if (depth === 0 && elementStart < 0 && !/\s/.test(ch ?? "")) {
      elementStart = i; // a scalar element
    }
  }
  return records;
}

/** Reads at most `maxBytes` decoded bytes from a stream, then cancels it. */
async function readPrefix(stream: ReadableStream<Uint8Array>, maxBytes: number): Promise<{ text: string; complete: boolean }> {
  const reader = stream.getReader();
  const decoder = new TextDecoder();
  let text = "";
  let size = 0;
  let complete = false;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) {
        complete = true;
        break;
      }
      size += value.byteLength;
      text += decoder.decode(value, { stream: true });
      if (size >= maxBytes) break;
    }
  } catch (error) {
    // A gzip stream cut by the Range request ends in a decompression error: whatever was
    // decoded before it is still a valid prefix.
    if (size === 0) throw error;
  } finally {
    reader.cancel().catch(() => undefined);
  }
  return { text, complete };
}

function rangeReachesEnd(contentRange: string | null): boolean {
  const match = contentRange ? /bytes \d+-(\d+)\/(\d+)/.exec(contentRange) : null;
  return match !== null && Number(match[1]) + 1 >= Number(match[2]);
}

export async function fetchPreview(
  url: string,
  options: Pick<ConvertOptions, "format" | "compression">,
  { maxRecords = 20, maxBytes = PREVIEW_BYTES, signal }: { maxRecords?: number; maxBytes?: number; signal?: AbortSignal } = {},
): Promise<Preview> {
  const response = await fetch(url, { headers: { Range: `bytes=0-${maxBytes - 1}` }, signal });
  if (!response.ok) throw new Error(`Could not read the result (HTTP ${response.status})`);
  if (!response.body) throw new Error("The result could not be read");
  // 206 means the server honoured the range: the file goes on unless Content-Range says the
  // range reached its end ("bytes 0-99/100").
  const partial = response.status === 206 && !rangeReachesEnd(response.headers.get("Content-Range"));
  let stream: ReadableStream<Uint8Array> = response.body;
  if (options.compression === "gzip") {
    if (typeof DecompressionStream === "undefined") throw new Error("This browser cannot preview gzip files; download the file instead.");
    stream = stream.pipeThrough(new DecompressionStream("gzip") as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
  }
  const { text, complete: streamComplete } = await readPrefix(stream, options.compression === "gzip" ? maxBytes * 4 : maxBytes);
  const complete = streamComplete && !partial;
  try {
    const records =
      options.format === "jsonl" ? parseJsonLines(text, complete, maxRecords) : parseJsonArrayPrefix(text, maxRecords);
    return { records, truncated: !complete || records.length >= maxRecords, rawText: null };
  } catch {
    return { records: [], truncated: !complete, rawText: text.slice(0, 4000) };
  }
}
