import { File as NodeFile } from "node:buffer";
import { createHash } from "node:crypto";
import { waitFor } from "@testing-library/react";
import { afterEach, describe, expect, it } from "vitest";

// Hashing and sending megabytes through jsdom and msw takes a while: wait longer than 1 s.
const SLOW = { timeout: 15_000 };
import { API, FakeApi } from "../../test/fakeApi";
import { server } from "../../test/server";
import { createApiClient } from "../api";
import { findResumable, forgetResumable, identityOf, loadResumable, RESUMABLE_STORAGE_KEY, saveResumable } from "../resumable";
import { DEFAULT_OPTIONS, type MultipartUpload } from "../types";
import { createUploadEngine, PARALLEL_UPLOADS, sha256Base64, type UploadEngine, UPPY_MIN_PART_BYTES } from "../uploader";

const MiB = 1024 * 1024;

/**
 * Bytes that differ from part to part, so a part sent at the wrong offset has the wrong checksum.
 * Node's File, not jsdom's: msw's XMLHttpRequest interception reads a Node Blob's bytes, but a
 * jsdom Blob sent by XHR arrives without them (its body reads as "undefined").
 */
function bigFile(size: number, name = "big.parquet"): File {
  const bytes = new Uint8Array(size);
  for (let i = 0; i < size; i += 4096) bytes[i] = (i / 4096) % 251;
  return new NodeFile([bytes], name, { lastModified: 1_700_000_000_000 }) as unknown as File;
}

function recorder() {
  const log = {
    created: [] as { key: string; jobId: string; plan: MultipartUpload | null }[],
    uploaded: [] as string[],
    failed: [] as { key: string; message: string; resumable: boolean }[],
  };
  const events = {
    jobCreated: (key: string, job: { job_id: string }, plan: MultipartUpload | null) => log.created.push({ key, jobId: job.job_id, plan }),
    progress: () => undefined,
    uploaded: (key: string) => log.uploaded.push(key),
    failed: (key: string, message: string, resumable: boolean) => log.failed.push({ key, message, resumable }),
  };
  return { log, events };
}

function setup(partSize = 5 * MiB) {
  const fake = new FakeApi();
  fake.multipartAbove = 1 * MiB;
  fake.partSize = partSize;
  server.use(...fake.handlers());
  const { log, events } = recorder();
  const engine = createUploadEngine(createApiClient(API), events);
  engines.push(engine);
  return { fake, log, engine, events };
}

const engines: UploadEngine[] = [];
afterEach(() => {
  for (const engine of engines.splice(0)) engine.close();
  localStorage.clear();
});

const putsOf = (fake: FakeApi, jobId: string) =>
  fake.partPuts
    .filter((put) => put.startsWith(`${jobId} `))
    .map((put) => Number(put.split(" ")[1]))
    .sort((a, b) => a - b);

describe("multipart uploads", () => {
  it("computes the base64 SHA-256 that storage checks", async () => {
    const bytes = new TextEncoder().encode("hello parts");
    expect(await sha256Base64(new Blob([bytes]))).toBe(createHash("sha256").update(bytes).digest("base64"));
    expect(await sha256Base64(new Blob([]))).toBe("47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
  });

  it("sends a file above the threshold in the plan's parts, each bound to its checksum, a few at a time, then completes it", async () => {
    // 6 MiB parts: not Uppy's own minimum, so the parts can only match if Uppy cuts by the plan.
    const { fake, log, engine } = setup(6 * MiB);
    const file = bigFile(26 * MiB + 123);
    engine.add("k1", file, DEFAULT_OPTIONS);

    await waitFor(() => expect(log.uploaded).toEqual(["k1"]), SLOW);
    const jobId = log.created[0]!.jobId;
    expect(log.created[0]!.plan).toEqual({ method: "multipart", part_size: 6 * MiB, part_count: 5 });
    expect(putsOf(fake, jobId)).toEqual([1, 2, 3, 4, 5]);
    expect(fake.completed).toEqual([jobId]);
    // Every part storage holds has the planned size and the checksum the client asked to sign.
    const held = fake.parts.get(jobId)!;
    expect([1, 2, 3, 4, 5].map((n) => held.get(n)?.size)).toEqual([6 * MiB, 6 * MiB, 6 * MiB, 6 * MiB, 2 * MiB + 123]);
    for (const [n, part] of held) expect(fake.signedChecksums.get(`${jobId} ${n}`)).toBe(part.checksum);
    expect(fake.partsInFlightMax).toBeLessThanOrEqual(PARALLEL_UPLOADS);
    expect(log.failed).toEqual([]);
  });

  it("sends a part again when storage fails it, and still completes", async () => {
    const { fake, log, engine } = setup();
    fake.failPartOnce.add(2);
    engine.add("k1", bigFile(11 * MiB), DEFAULT_OPTIONS);

    await waitFor(() => expect(log.uploaded).toEqual(["k1"]), SLOW);
    const jobId = log.created[0]!.jobId;
    expect(putsOf(fake, jobId)).toEqual([1, 2, 2, 3]);
    expect(fake.completed).toEqual([jobId]);
  });

  it("resumes an interrupted upload: lists the parts held, sends only the others, completes", async () => {
    const { fake, log, engine } = setup();
    fake.holdParts.add(3);
    const file = bigFile(11 * MiB);
    engine.add("k1", file, DEFAULT_OPTIONS);
    await waitFor(() => expect(log.created).toHaveLength(1), SLOW);
    const { jobId, plan } = log.created[0]!;
    await waitFor(() => expect([...fake.parts.get(jobId)!.keys()].sort()).toEqual([1, 2]), SLOW);
    // The tab goes away mid-part: a new engine (as after a reload) picks the upload up.
    engine.close();
    fake.holdParts.clear();
    const before = fake.partPuts.length;

    const again = recorder();
    const resumed = createUploadEngine(createApiClient(API), again.events);
    engines.push(resumed);
    resumed.resume("k2", bigFile(11 * MiB), { jobId, plan: plan!, options: DEFAULT_OPTIONS });

    await waitFor(() => expect(again.log.uploaded).toEqual(["k2"]), SLOW);
    expect(fake.partPuts.slice(before)).toEqual([`${jobId} 3`]);
    expect(fake.completed).toEqual([jobId]);
    expect(again.log.created).toEqual([]);
  });

  it("cancelling a multipart upload deletes its job", async () => {
    const { fake, log, engine } = setup();
    fake.holdParts = new Set([1, 2, 3]);
    engine.add("k1", bigFile(11 * MiB), DEFAULT_OPTIONS);
    await waitFor(() => expect(fake.partPuts.length).toBeGreaterThan(0), SLOW);
    engine.cancel("k1");
    const jobId = log.created[0]!.jobId;
    await waitFor(() => expect(fake.deleted).toEqual([jobId]), SLOW);
    expect(fake.completed).toEqual([]);
    expect(log.failed).toEqual([]);
  });

  it("refuses, in one line, a plan whose parts are smaller than the parts this app cuts, and deletes its job", async () => {
    const { fake, log, engine } = setup(1 * MiB);
    engine.add("k1", bigFile(11 * MiB), DEFAULT_OPTIONS);
    await waitFor(() => expect(log.failed).toHaveLength(1), SLOW);
    expect(log.failed[0]!.message).toBe(
      `"big.parquet" cannot be uploaded here: the server plans parts of ${MiB} bytes, below the ${UPPY_MIN_PART_BYTES} this app sends`,
    );
    expect(log.failed[0]!.resumable).toBe(false);
    await waitFor(() => expect(fake.deleted).toHaveLength(1), SLOW);
    expect(fake.partPuts).toEqual([]);
  });
});

describe("resumable upload store", () => {
  const entry = { jobId: "job-1", plan: { part_size: 5 * MiB, part_count: 3 }, file: { name: "a.parquet", size: 11 * MiB, lastModified: 5 }, options: DEFAULT_OPTIONS };

  it("recognises the same file by name, size and date, and only that file", () => {
    saveResumable(entry);
    expect(findResumable(identityOf(new File([], "a.parquet", { lastModified: 5 })))).toBeNull(); // another size
    expect(findResumable({ name: "a.parquet", size: 11 * MiB, lastModified: 6 })).toBeNull();
    expect(findResumable({ name: "a.parquet", size: 11 * MiB, lastModified: 5 })).toEqual(entry);
  });

  it("replaces an entry of the same job and forgets it when asked", () => {
    saveResumable(entry);
    saveResumable({ ...entry, options: { ...DEFAULT_OPTIONS, format: "json" } });
    expect(loadResumable()).toHaveLength(1);
    forgetResumable("job-1");
    expect(loadResumable()).toEqual([]);
    expect(localStorage.getItem(RESUMABLE_STORAGE_KEY)).toBeNull();
  });

  it("reads a damaged store as empty rather than failing the page", () => {
    localStorage.setItem(RESUMABLE_STORAGE_KEY, "{not json");
    expect(loadResumable()).toEqual([]);
    localStorage.setItem(RESUMABLE_STORAGE_KEY, JSON.stringify([{ jobId: 3 }, entry]));
    expect(loadResumable()).toEqual([entry]);
  });
});
