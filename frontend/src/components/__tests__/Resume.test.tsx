import { File as NodeFile } from "node:buffer";
import { createHash } from "node:crypto";
import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { afterEach, describe, expect, it } from "vitest";
import { App } from "../../App";
import { loadResumable, RESUME_HINT, saveResumable } from "../../lib/resumable";
import { DEFAULT_OPTIONS } from "../../lib/types";
import { FakeApi, makeJob } from "../../test/fakeApi";
import { renderWithApi } from "../../test/render";
import { server } from "../../test/server";

const MiB = 1024 * 1024;
const PART = 5 * MiB;
const SIZE = 11 * MiB; // parts of 5, 5 and 1 MiB
const SLOW = { timeout: 15_000 };
const LAST_MODIFIED = 1_700_000_000_000;

function bytes(): Uint8Array {
  const data = new Uint8Array(SIZE);
  for (let i = 0; i < SIZE; i += 4096) data[i] = (i / 4096) % 251;
  return data;
}

/** Node's File: msw reads its bytes from an XHR body (a jsdom Blob arrives empty). */
function bigFile(): File {
  return new NodeFile([bytes()], "big.parquet", { lastModified: LAST_MODIFIED }) as unknown as File;
}

async function pick(file: File) {
  const input = document.querySelector<HTMLInputElement>('input[type="file"]');
  if (!input) throw new Error("no file input");
  const user = userEvent.setup({ applyAccept: false });
  await user.upload(input, [file]);
  return user;
}

/** A job whose upload stopped after parts 1 and 2 (as a reload mid-upload leaves it), remembered by this browser. */
function interrupted(api: FakeApi) {
  const job = makeJob({ job_id: "job-7", filename: "big.parquet" });
  api.jobs.push(job);
  api.plans.set(job.job_id, { size: SIZE, partSize: PART, partCount: 3 });
  const data = bytes();
  const held = new Map([1, 2].map((n) => {
    const part = data.slice((n - 1) * PART, n * PART);
    const checksum = createHash("sha256").update(part).digest("base64");
    return [n, { size: part.length, etag: `"etag-${n}"`, checksum }];
  }));
  api.parts.set(job.job_id, held);
  saveResumable({
    jobId: job.job_id,
    plan: { part_size: PART, part_count: 3 },
    file: { name: "big.parquet", size: SIZE, lastModified: LAST_MODIFIED },
    options: DEFAULT_OPTIONS,
  });
  return job;
}

function setup() {
  const api = new FakeApi();
  api.multipartAbove = MiB;
  api.partSize = PART;
  server.use(...api.handlers());
  return api;
}

afterEach(() => localStorage.clear());

describe("resuming a multipart upload after a reload", () => {
  it("says what to do, and once the same file is chosen again sends only the missing part and completes", async () => {
    const api = setup();
    interrupted(api);
    renderWithApi(<App />);

    const uploads = await screen.findByRole("list", { name: "Uploads" });
    expect(within(uploads).getAllByText(`Upload interrupted by a reload: ${RESUME_HINT}.`).length).toBeGreaterThan(0);

    await pick(bigFile());
    await waitFor(() => expect(api.completed).toEqual(["job-7"]), SLOW);
    expect(api.partPuts).toEqual(["job-7 3"]);
    expect(api.createRequests).toEqual([]); // no second job
    await waitFor(() => expect(within(uploads).getAllByText("Uploaded, waiting for conversion").length).toBeGreaterThan(0));
    expect(within(uploads).getAllByRole("listitem")).toHaveLength(1);
    expect(loadResumable()).toEqual([]);
  });

  it("a new multipart upload is remembered (its job, plan and the file's name, size and date) while it runs", async () => {
    const api = setup();
    api.holdParts.add(3);
    renderWithApi(<App />);
    await pick(bigFile());
    await waitFor(() => expect(loadResumable().map((entry) => entry.jobId)).toEqual(["job-1"]), SLOW);
    expect(loadResumable()[0]).toMatchObject({ plan: { part_size: PART, part_count: 3 }, file: { name: "big.parquet", size: SIZE, lastModified: LAST_MODIFIED } });
  });

  it("cancelling an interrupted upload deletes its job and forgets it", async () => {
    const api = setup();
    interrupted(api);
    renderWithApi(<App />);
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Cancel upload of big.parquet" }));
    await waitFor(() => expect(api.deleted).toEqual(["job-7"]));
    expect(loadResumable()).toEqual([]);
    expect(api.partPuts).toEqual([]);
  });
});
