import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { http, HttpResponse } from "msw";
import { describe, expect, it, vi } from "vitest";
import { App } from "../../App";
import { NARROW_QUERY } from "../../hooks/useMediaQuery";
import { API, FakeApi, STORAGE, makeJob } from "../../test/fakeApi";
import { renderWithApi } from "../../test/render";
import { ControllableXhr } from "../../test/controllableXhr";
import { server } from "../../test/server";

function parquet(name = "sales.parquet", size = 2048): File {
  return new File([new Uint8Array(size).fill(7)], name, { type: "application/octet-stream" });
}

function fileInput(): HTMLInputElement {
  const input = document.querySelector<HTMLInputElement>('input[type="file"]');
  if (!input) throw new Error("no file input");
  return input;
}

async function pick(...files: File[]) {
  const user = userEvent.setup();
  // applyAccept: false — a user can always switch the picker to "All files".
  await userEvent.setup({ applyAccept: false }).upload(fileInput(), files);
  return user;
}

/** Cloudscape repeats status text in a live region for screen readers: accept one or more. */
async function expectText(text: string) {
  await waitFor(() => expect(screen.getAllByText(text).length).toBeGreaterThan(0));
}

function setup() {
  const api = new FakeApi();
  server.use(...api.handlers());
  renderWithApi(<App />);
  return api;
}

describe("upload", () => {
  it("creates a job per file, posts the fields before the file, and each row follows its job to SUCCEEDED or FAILED", async () => {
    const api = setup();
    await pick(parquet("sales.parquet", 2048), parquet("users.parquet", 1024));

    const uploads = await screen.findByRole("list", { name: "Uploads" });
    await waitFor(() => {
      const rows = within(uploads).getAllByRole("listitem");
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(within(row).getByText("Uploaded, waiting for conversion")).toBeInTheDocument();
    });

    expect(api.createRequests.map((request) => [request.filename, request.size])).toEqual(
      expect.arrayContaining([
        ["sales.parquet", 2048],
        ["users.parquet", 1024],
      ]),
    );
    // One random Idempotency-Key per file: a retried request gets its own job back, and two
    // files never share one.
    expect(api.idempotencyKeys).toHaveLength(2);
    for (const key of api.idempotencyKeys) expect(key).toMatch(/^[0-9a-f-]{36}$/);
    expect(new Set(api.idempotencyKeys).size).toBe(2);
    expect(api.uploads).toHaveLength(2);
    for (const upload of api.uploads) {
      // S3 presigned POST: every policy field first, the file last.
      expect(upload.fieldNames).toEqual(["key", "policy", "x-amz-signature", "file"]);
    }
    // (The file's bytes are checked end to end in the browser: jsdom's File does not survive
    // msw's XHR interception intact, so only the multipart layout is asserted here.)

    // The new jobs appear in the table without a manual refresh.
    const table = screen.getByRole("table", { name: "Jobs" });
    expect(await within(table).findByText("sales.parquet")).toBeInTheDocument();
    expect(within(table).getByText("users.parquet")).toBeInTheDocument();
    expect(within(table).getAllByText("PENDING")).toHaveLength(2);

    // The jobs end: each row says how, links to its job, and offers what comes next.
    api.jobs = api.jobs.map((job) =>
      job.filename === "sales.parquet"
        ? { ...job, status: "SUCCEEDED" }
        : { ...job, status: "FAILED", error: { code: "INVALID_PARQUET", message: "users.parquet is corrupt or truncated" } },
    );
    const row = (name: string) => within(uploads).getAllByRole("listitem").find((item) => item.textContent?.includes(name))!;
    await waitFor(() => expect(within(row("sales.parquet")).getByText("Converted")).toBeInTheDocument(), { timeout: 5000 });
    expect(within(row("sales.parquet")).getByRole("button", { name: "Download sales.parquet" })).toBeInTheDocument();
    expect(within(row("sales.parquet")).getByRole("link", { name: "Details of sales.parquet" })).toHaveAttribute("href", "/jobs/job-1");
    await waitFor(() => expect(within(row("users.parquet")).getByText("Conversion failed: users.parquet is corrupt or truncated")).toBeInTheDocument());
    expect(within(row("users.parquet")).getByRole("button", { name: "Convert users.parquet again" })).toBeInTheDocument();
  });

  it("moves the progress bar with the bytes sent, then shows the result", async () => {
    const api = setup();
    ControllableXhr.instances = [];
    vi.stubGlobal("XMLHttpRequest", ControllableXhr);
    try {
      await pick(parquet("slow.parquet", 4096));
      await waitFor(() => expect(ControllableXhr.instances).toHaveLength(1));
      const xhr = ControllableXhr.instances[0]!;
      expect(xhr.method).toBe("POST");
      expect(xhr.url).toBe(`${STORAGE}/upload`);
      expect([...xhr.body!.keys()]).toEqual(["key", "policy", "x-amz-signature", "file"]);
      expect((xhr.body!.get("file") as File).size).toBe(4096);

      const bar = await screen.findByRole("progressbar", { name: "Upload of slow.parquet" });
      // The multipart body is larger than the file: progress is scaled to the file's size.
      act(() => xhr.progress(2500, 5000));
      await waitFor(() => expect(bar).toHaveAttribute("value", "50"));
      expect(screen.getByText("2 KiB of 4 KiB")).toBeInTheDocument();
      expect(screen.queryByText("Uploaded, waiting for conversion")).not.toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Cancel upload of slow.parquet" })).toBeInTheDocument();

      act(() => xhr.progress(5000, 5000));
      await waitFor(() => expect(bar).toHaveAttribute("value", "100"));
      act(() => xhr.respond(204));
      await expectText("Uploaded, waiting for conversion");
      // Uploaded: the bar gives way to the job's progress, the cancel button to a close button.
      expect(screen.queryByRole("progressbar", { name: "Upload of slow.parquet" })).not.toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Stop following slow.parquet" })).toBeInTheDocument();
      expect(api.createRequests).toHaveLength(1);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("refuses a file that is not .parquet without calling the API", async () => {
    const api = setup();
    await pick(new File(["a,b\n1,2\n"], "notes.csv", { type: "text/csv" }));
    await expectText('"notes.csv" is not a Parquet file. Only .parquet files can be converted.');
    expect(api.createRequests).toHaveLength(0);
    expect(api.uploads).toHaveLength(0);
  });

  it("shows the API's message when the file is too large (413)", async () => {
    setup();
    server.use(
      http.post(`${API}/jobs`, () =>
        HttpResponse.json({ error: { code: "FILE_TOO_LARGE", message: "Files are limited to 5 GiB." } }, { status: 413 }),
      ),
    );
    await pick(parquet("huge.parquet"));
    await expectText('"huge.parquet" is too large: Files are limited to 5 GiB.');
  });

  it("shows the API's per-user limit message (429)", async () => {
    setup();
    server.use(
      http.post(`${API}/jobs`, () =>
        HttpResponse.json(
          { error: { code: "TOO_MANY_ACTIVE_JOBS", message: "you already have 20 unfinished jobs, the most one user may have; wait for one to finish (or delete one that waits for its upload) and try again" } },
          { status: 429 },
        ),
      ),
    );
    await pick(parquet("more.parquet"));
    await expectText('"more.parquet" must wait: you already have 20 unfinished jobs, the most one user may have; wait for one to finish (or delete one that waits for its upload) and try again');
  });

  it("shows the API's validation message (422)", async () => {
    setup();
    server.use(
      http.post(`${API}/jobs`, () =>
        HttpResponse.json({ error: { code: "INVALID_REQUEST", message: "size must be greater than 0" } }, { status: 422 }),
      ),
    );
    await pick(parquet("empty.parquet", 0));
    await expectText('"empty.parquet" was refused: size must be greater than 0');
  });

  it("reports a failed upload with the storage service's reason", async () => {
    setup();
    server.use(
      http.post(
        `${STORAGE}/upload`,
        () =>
          new HttpResponse("<Error><Code>AccessDenied</Code><Message>Invalid according to Policy: Policy expired.</Message></Error>", {
            status: 403,
            headers: { "Content-Type": "application/xml" },
          }),
      ),
    );
    await pick(parquet("late.parquet"));
    await expectText("Upload failed: Invalid according to Policy: Policy expired.");
  });

  it("converts a file again from its failed row while the page still holds it", async () => {
    const api = setup();
    let refusals = 1;
    server.use(
      http.post(`${STORAGE}/upload`, () =>
        refusals-- > 0 ? new HttpResponse("<Error><Code>InternalError</Code><Message>We encountered an internal error.</Message></Error>", { status: 500 }) : undefined,
      ),
    );
    const user = await pick(parquet("flaky.parquet", 512));
    await expectText("Upload failed: We encountered an internal error.");
    await user.click(screen.getByRole("button", { name: "Convert flaky.parquet again" }));
    await expectText("Uploaded, waiting for conversion");
    // A second job for the same bytes; the failed one's row gave way to it.
    expect(api.createRequests.map((request) => [request.filename, request.size])).toEqual([
      ["flaky.parquet", 512],
      ["flaky.parquet", 512],
    ]);
    expect(within(screen.getByRole("list", { name: "Uploads" })).getAllByRole("listitem")).toHaveLength(1);
  });

  it("cancels an upload in flight and removes its pending job", async () => {
    const api = setup();
    api.uploadDelayMs = 60_000;
    const user = await pick(parquet("cancel-me.parquet"));
    const cancel = await screen.findByRole("button", { name: "Cancel upload of cancel-me.parquet" });
    await user.click(cancel);
    await expectText("Upload cancelled");
    await waitFor(() => expect(api.deleted).toEqual(["job-1"]));
    expect(api.uploads).toHaveLength(1); // the request was sent, then stopped
    // Once finished, the row can be dismissed.
    await user.click(screen.getByRole("button", { name: "Dismiss cancel-me.parquet" }));
    expect(screen.queryByRole("list", { name: "Uploads" })).not.toBeInTheDocument();
  });

  it("cancelling while the job is being created deletes that job once it exists, and sends nothing", async () => {
    const api = setup();
    let answer: () => void = () => undefined;
    const answered = new Promise<void>((resolve) => (answer = resolve));
    server.use(
      http.post(`${API}/jobs`, async () => {
        await answered;
        return undefined; // on to the fake API, which creates the job
      }),
    );
    const user = await pick(parquet("early.parquet"));
    await user.click(await screen.findByRole("button", { name: "Cancel upload of early.parquet" }));
    await expectText("Upload cancelled");
    answer();
    await waitFor(() => expect(api.deleted).toEqual(["job-1"]));
    expect(api.uploads).toHaveLength(0);
  });

  it("opening a job while its file uploads neither stops nor deletes the upload, and leaving the page asks first", async () => {
    const api = setup();
    ControllableXhr.instances = [];
    vi.stubGlobal("XMLHttpRequest", ControllableXhr);
    try {
      const user = await pick(parquet("big.parquet", 4096));
      await waitFor(() => expect(ControllableXhr.instances).toHaveLength(1));
      const xhr = ControllableXhr.instances[0]!;
      act(() => xhr.progress(1000, 4000));
      const unload = () => {
        const event = new Event("beforeunload", { cancelable: true });
        window.dispatchEvent(event);
        return event.defaultPrevented;
      };
      expect(unload()).toBe(true);

      // Open the job from its upload row: the upload goes on behind the job's page.
      const uploads = screen.getByRole("list", { name: "Uploads" });
      await user.click(await within(uploads).findByRole("link", { name: "Details of big.parquet" }));
      const detail = await screen.findByRole("region", { name: "Job detail" });
      expect(await within(detail).findByRole("heading", { name: "big.parquet", level: 1 })).toBeInTheDocument();
      expect(xhr.aborted).toBe(false);
      expect(api.deleted).toEqual([]);
      expect(unload()).toBe(true);

      // Back to the jobs: the row is where it was, and ends when the upload ends.
      await user.click(within(screen.getByRole("navigation", { name: "Breadcrumbs" })).getByRole("link", { name: "Jobs" }));
      const bar = await screen.findByRole("progressbar", { name: "Upload of big.parquet" }, { timeout: 8000 });
      expect(bar).toHaveAttribute("value", "25");
      act(() => xhr.respond(204));
      await expectText("Uploaded, waiting for conversion");
      expect(unload()).toBe(false);
      expect(api.deleted).toEqual([]);
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("folds a batch of files into one summary line that expands", async () => {
    const api = setup();
    const names = Array.from({ length: 6 }, (_, i) => `part-${i}.parquet`);
    const user = await pick(...names.map((name) => parquet(name, 256)));
    const summary = await screen.findByRole("button", { name: /^Uploads: \d of 6 done/ });
    expect(summary).toHaveAttribute("aria-expanded", "false");
    await waitFor(() => expect(api.uploads).toHaveLength(6));
    api.jobs = api.jobs.map((job, i) =>
      i === 0 ? { ...job, status: "FAILED", error: { code: "INVALID_PARQUET", message: "corrupt" } } : { ...job, status: "SUCCEEDED" },
    );
    await screen.findByRole("button", { name: "Uploads: 5 of 6 done, 1 failed" }, { timeout: 5000 });
    await user.click(screen.getByRole("button", { name: "Uploads: 5 of 6 done, 1 failed" }));
    expect(within(screen.getByRole("list", { name: "Uploads" })).getAllByRole("listitem")).toHaveLength(6);
  });

  it("sixteen uploads never have two job-list requests in flight, nor one per file", async () => {
    const api = setup();
    api.listDelayMs = 40;
    await pick(...Array.from({ length: 16 }, (_, i) => parquet(`many-${i}.parquet`, 128)));
    await waitFor(() => expect(api.uploads).toHaveLength(16), { timeout: 10000 });
    await screen.findByRole("button", { name: /^Uploads: 0 of 16 done/ });
    expect(api.listsInFlightMax).toBe(1);
    expect(api.listRequests.length).toBeLessThan(16);
  });

  it("on a phone, the options fold away and jobs are cards, not a wide table", async () => {
    vi.stubGlobal("matchMedia", (query: string) => ({
      matches: query === NARROW_QUERY,
      media: query,
      addEventListener: () => undefined,
      removeEventListener: () => undefined,
    }));
    try {
      const api = new FakeApi();
      api.jobs = [makeJob({ job_id: "b", filename: "bad.parquet", status: "FAILED", error: { code: "INVALID_PARQUET", message: "not Parquet" } })];
      server.use(...api.handlers());
      renderWithApi(<App />);
      expect(await screen.findByText("not Parquet")).toBeInTheDocument();
      expect(screen.queryByRole("table", { name: "Jobs" })).not.toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Conversion options" })).toHaveAttribute("aria-expanded", "false");
      expect(screen.getByRole("button", { name: "Convert bad.parquet again" })).toBeInTheDocument();
      expect(fileInput()).toBeInTheDocument();
    } finally {
      vi.unstubAllGlobals();
    }
  });

  it("converts a failed job again from its page with the file this tab still holds, and a deleted job's row goes", async () => {
    const api = setup();
    const user = await pick(parquet("twice.parquet", 300));
    await expectText("Uploaded, waiting for conversion");
    api.jobs = api.jobs.map((job) => ({ ...job, status: "FAILED", error: { code: "INVALID_PARQUET", message: "truncated" } }));
    const uploads = screen.getByRole("list", { name: "Uploads" });
    await within(uploads).findByText("Conversion failed: truncated", {}, { timeout: 5000 });

    await user.click(within(uploads).getByRole("link", { name: "Details of twice.parquet" }));
    await user.click(await screen.findByRole("button", { name: "Convert again…" }));
    // Held in this tab: one click, with the failed job's options (changed here to gzip first).
    await screen.findByText(/The options of the failed job are selected below/);
    await user.click(screen.getByRole("checkbox", { name: /Compress the output with gzip/ }));
    await user.click(screen.getByRole("button", { name: "Convert again" }));
    await waitFor(() => expect(api.createRequests).toHaveLength(2));
    expect(api.createRequests[1]).toMatchObject({ filename: "twice.parquet", size: 300, options: { compression: "gzip" } });
    expect(screen.queryByText(/The options of the failed job are selected below/)).not.toBeInTheDocument();

    // Deleting the failed job removes the row that followed it (it has nothing left to follow).
    await waitFor(() => expect(within(screen.getByRole("list", { name: "Uploads" })).getAllByRole("listitem")).toHaveLength(2));
    // Newest first: the second row of the table is the failed job.
    await waitFor(() => expect(screen.getAllByRole("button", { name: "Delete twice.parquet" })).toHaveLength(2));
    await user.click(screen.getAllByRole("button", { name: "Delete twice.parquet" })[1]!);
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(api.deleted).toEqual(["job-1"]));
    await waitFor(() => expect(within(screen.getByRole("list", { name: "Uploads" })).getAllByRole("listitem")).toHaveLength(1));
  });
});
