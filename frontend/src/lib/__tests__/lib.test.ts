import { gzipSync } from "node:zlib";
import { http, HttpResponse } from "msw";
import { describe, expect, it, vi } from "vitest";
import type { UploadItem } from "../../hooks/uploads";
import { API, makeJob } from "../../test/fakeApi";
import { DEFAULT_OPTIONS } from "../types";
import { batchSummary, rowState } from "../uploadRows";
import { server } from "../../test/server";
import { ApiError, createApiClient } from "../api";
import { parseConfig } from "../config";
import { formatBytes, formatDuration } from "../format";
import { BackoffPoller, coalesced, POLL_MAX_MS, POLL_MIN_MS } from "../polling";
import { partBars } from "../runParts";
import { schemaTree } from "../schemaTree";
import { fetchPreview, parseJsonArrayPrefix, parseJsonLines } from "../preview";

describe("preview parsing", () => {
  it("keeps only complete JSON lines of a cut file", () => {
    expect(parseJsonLines('{"a":1}\n{"a":2}\n{"a":', false, 10)).toEqual([{ a: 1 }, { a: 2 }]);
    expect(parseJsonLines('{"a":1}\n{"a":2}\n', true, 1)).toEqual([{ a: 1 }]);
  });

  it("reads complete elements of a cut JSON array, strings with brackets included", () => {
    const text = '[\n{"s":"a,]}\\"x","n":[1,2]},\n{"s":null},\n{"s":"cut';
    expect(parseJsonArrayPrefix(text, 10)).toEqual([{ s: 'a,]}"x', n: [1, 2] }, { s: null }]);
    expect(parseJsonArrayPrefix("[1, 2, 3]", 10)).toEqual([1, 2, 3]);
    expect(parseJsonArrayPrefix("[]", 10)).toEqual([]);
  });

  it("previews a gzip output by decompressing the first bytes", async () => {
    const lines = Array.from({ length: 500 }, (_, i) => JSON.stringify({ i, text: `row ${i}` })).join("\n") + "\n";
    const gz = new Uint8Array(gzipSync(lines));
    server.use(
      http.get("http://storage.test/out.jsonl.gz", ({ request }) => {
        const [, end] = /bytes=0-(\d+)/.exec(request.headers.get("range") ?? "")!;
        const slice = gz.slice(0, Number(end) + 1);
        return new HttpResponse(slice, { status: 206, headers: { "Content-Range": `bytes 0-${slice.length - 1}/${gz.length}` } });
      }),
    );
    // Ask for fewer bytes than the file so the gzip stream is cut mid-way.
    const preview = await fetchPreview("http://storage.test/out.jsonl.gz", { format: "jsonl", compression: "gzip" }, { maxBytes: 200, maxRecords: 5 });
    expect(preview.records[0]).toEqual({ i: 0, text: "row 0" });
    expect(preview.records.length).toBeGreaterThan(0);
    expect(preview.truncated).toBe(true);
  });
});

describe("polling back-off", () => {
  it("slows down one step per answer while nothing changes, speeds up on change, stops when idle", () => {
    const poller = new BackoffPoller();
    let answeredAt = 0;
    const answer = (signature: string, active = true) => poller.next(signature, active, ++answeredAt);
    const first = answer("a:RUNNING");
    expect(first).toBe(POLL_MIN_MS);
    const delays = [first, ...Array.from({ length: 10 }, () => answer("a:RUNNING"))] as number[];
    for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1]!);
    expect(delays[1]).toBeGreaterThan(POLL_MIN_MS);
    // Never slower than two seconds while a job is active: its end shows within that.
    expect(delays.at(-1)).toBe(POLL_MAX_MS);
    expect(POLL_MAX_MS).toBeLessThanOrEqual(2000);
    expect(answer("a:SUCCEEDED,b:PENDING")).toBe(POLL_MIN_MS);
    expect(answer("a:SUCCEEDED,b:SUCCEEDED", false)).toBe(false);
  });

  it("counts an answer once however often the interval is asked for", () => {
    const poller = new BackoffPoller();
    expect(poller.next("a:RUNNING", true, 1)).toBe(POLL_MIN_MS);
    const second = poller.next("a:RUNNING", true, 2);
    // Asked again for the same answer (fetch started, another observer): the same delay.
    for (let i = 0; i < 5; i++) expect(poller.next("a:RUNNING", true, 2)).toBe(second);
    poller.reset();
    expect(poller.next("a:RUNNING", true, 3)).toBe(POLL_MIN_MS);
  });

  it("folds calls made while a refresh runs into one follow-up", async () => {
    const calls: (() => void)[] = [];
    const refresh = coalesced(() => new Promise<void>((resolve) => calls.push(resolve)));
    for (let i = 0; i < 16; i++) refresh();
    expect(calls).toHaveLength(1);
    calls[0]!();
    await vi.waitFor(() => expect(calls).toHaveLength(2));
    calls[1]!();
    await new Promise((resolve) => setTimeout(resolve, 0));
    expect(calls).toHaveLength(2);
  });
});

describe("runtime config", () => {
  it("accepts local and AWS shapes and rejects broken ones", () => {
    expect(parseConfig({ apiBaseUrl: "/api/", auth: null })).toEqual({ apiBaseUrl: "/api", auth: null });
    const auth = { region: "eu-west-1", userPoolId: "eu-west-1_abc", userPoolClientId: "client" };
    // Self sign-up is off unless the stack says it is on.
    expect(parseConfig({ apiBaseUrl: "https://x.example/prod", auth })).toEqual({
      apiBaseUrl: "https://x.example/prod",
      auth: { ...auth, selfSignUp: false },
    });
    expect(parseConfig({ apiBaseUrl: "/api", auth: { ...auth, selfSignUp: true } }).auth?.selfSignUp).toBe(true);
    expect(() => parseConfig({ apiBaseUrl: "/api", auth: { ...auth, selfSignUp: "yes" } })).toThrow(/selfSignUp/);
    expect(() => parseConfig({ auth: null })).toThrow(/apiBaseUrl/);
    expect(() => parseConfig({ apiBaseUrl: "/api", auth: { region: "x" } })).toThrow(/userPoolId/);
  });
});

describe("api client", () => {
  it("sends the ID token and turns error bodies into ApiError", async () => {
    const seen: (string | null)[] = [];
    server.use(
      http.get(`${API}/jobs/:id`, ({ request }) => {
        seen.push(request.headers.get("authorization"));
        return HttpResponse.json({ error: { code: "JOB_NOT_FOUND", message: "no job x" } }, { status: 404 });
      }),
    );
    const client = createApiClient(API, async () => "id-token-123");
    const error = await client.getJob("x").catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ApiError);
    expect(error).toMatchObject({ status: 404, code: "JOB_NOT_FOUND", message: "no job x" });
    expect(seen).toEqual(["id-token-123"]);
  });
});

describe("formatting", () => {
  it("formats sizes and durations for people", () => {
    expect(formatBytes(null)).toBe("—");
    expect(formatBytes(512)).toBe("512 B");
    // One convention: binary units, labelled as such (1 KiB = 1024 bytes).
    expect(formatBytes(5 * 1024 ** 3)).toBe("5 GiB");
    expect(formatBytes(1536)).toBe("1.5 KiB");
    expect(formatBytes(3 * 1024 ** 2)).toBe("3 MiB");
    expect(formatDuration(950)).toBe("950 ms");
    expect(formatDuration(125_000)).toBe("2 min 5 s");
  });
});

describe("schema tree", () => {
  it("turns the report's JSON Schema into fields whose nested parts are children", () => {
    const tree = schemaTree({
      type: "object",
      properties: {
        big: { anyOf: [{ type: "integer" }, { type: "string", pattern: "^-?[0-9]+$" }] },
        tags: { type: ["object", "null"], additionalProperties: { type: ["integer", "null"] } },
        at: { type: "string", format: "date-time" },
        ratio: { anyOf: [{ type: "number" }, { enum: ["NaN", "Infinity", "-Infinity"] }] },
        maybe: { type: ["string", "null"] },
      },
      required: ["big", "tags", "at", "ratio"],
    });
    expect(tree.map((node) => [node.name, node.type, node.optional])).toEqual([
      ["big", "integer | string", false],
      ["tags", "object | null", false],
      ["at", "string (date-time)", false],
      ["ratio", 'number | "NaN" | "Infinity" | "-Infinity"', false],
      ["maybe", "string | null", true],
    ]);
    expect(tree[1]!.children.map((node) => [node.id, node.type])).toEqual([["$.tags{}", "integer | null"]]);
  });

  it("describes a JSON-array output by its elements", () => {
    const tree = schemaTree({ type: "array", items: { type: "object", properties: { a: { type: "array", items: { type: "boolean" } } } } });
    expect(tree.map((node) => node.name)).toEqual(["a"]);
    expect(tree[0]!.children[0]).toMatchObject({ name: "[ ] item", type: "boolean" });
  });
});

describe("run chart bars", () => {
  it("draws one bar per row group, or sums neighbours past the limit", () => {
    const parts = Array.from({ length: 5 }, (_, i) => ({ file: "input.parquet", row_group: i, rows: 10 + i, bytes: 100 }));
    expect(partBars(parts).map((bar) => bar.label)).toEqual(["#1", "#2", "#3", "#4", "#5"]);
    const bars = partBars(parts, 2);
    expect(bars).toEqual([
      { label: "#1–#3", rows: 33, bytes: 300 },
      { label: "#4–#5", rows: 27, bytes: 200 },
    ]);
    const twoFiles = [
      { file: "a.parquet", row_group: 0, rows: 1, bytes: 1 },
      { file: "b.parquet", row_group: 0, rows: 1, bytes: 1 },
    ];
    expect(partBars(twoFiles).map((bar) => bar.label)).toEqual(["a.parquet #1", "b.parquet #1"]);
  });
});

describe("upload rows", () => {
  const file = new File([new Uint8Array(400)], "a.parquet");
  const item = (patch: Partial<UploadItem>): UploadItem => ({
    key: "k",
    file,
    fileName: "a.parquet",
    size: 400,
    options: DEFAULT_OPTIONS,
    phase: "uploaded",
    loaded: 400,
    jobId: "j",
    error: null,
    ...patch,
  });

  it("follows the file, then its job", () => {
    expect(rowState(item({ phase: "creating", loaded: 0, jobId: null }), undefined).kind).toBe("creating");
    expect(rowState(item({ phase: "uploading", loaded: 100 }), undefined)).toEqual({ kind: "uploading", percent: 25, reason: null });
    expect(rowState(item({}), undefined).kind).toBe("queued");
    expect(rowState(item({}), makeJob({ job_id: "j", status: "QUEUED" })).kind).toBe("queued");
    expect(rowState(item({}), makeJob({ job_id: "j", status: "RUNNING" })).kind).toBe("converting");
    expect(rowState(item({}), makeJob({ job_id: "j", status: "SUCCEEDED" })).kind).toBe("succeeded");
    const failed = makeJob({ job_id: "j", status: "FAILED", error: { code: "INVALID_PARQUET", message: "bad footer" } });
    expect(rowState(item({}), failed)).toEqual({ kind: "failed", percent: 100, reason: "bad footer" });
    expect(rowState(item({ phase: "error", error: "Upload failed (HTTP 500)." }), undefined).reason).toBe("Upload failed (HTTP 500).");
  });

  it("sums a batch up as done of all, with failures and cancellations", () => {
    expect(batchSummary(["succeeded", "succeeded", "uploading"])).toBe("2 of 3 done");
    expect(batchSummary(["succeeded", "failed", "upload-failed", "cancelled", "queued"])).toBe("1 of 5 done, 2 failed, 1 cancelled");
  });
});
