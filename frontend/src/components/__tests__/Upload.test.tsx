import { act, screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { http, HttpResponse } from "msw";
import { describe, expect, it, vi } from "vitest";
import { App } from "../../App";
import { API, FakeApi, STORAGE } from "../../test/fakeApi";
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
  it("creates a job per file, posts fields before the file, and shows completed progress", async () => {
    const api = setup();
    await pick(parquet("sales.parquet", 2048), parquet("users.parquet", 1024));

    const uploads = await screen.findByRole("list", { name: "Uploads" });
    await waitFor(() => {
      const rows = within(uploads).getAllByRole("listitem");
      expect(rows).toHaveLength(2);
      for (const row of rows) expect(within(row).getAllByText("Uploaded — conversion queued").length).toBeGreaterThan(0);
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
      expect(screen.getByText("2 KB of 4 KB")).toBeInTheDocument();
      expect(screen.queryByText("Uploaded — conversion queued")).not.toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Cancel upload of slow.parquet" })).toBeInTheDocument();

      act(() => xhr.progress(5000, 5000));
      await waitFor(() => expect(bar).toHaveAttribute("value", "100"));
      act(() => xhr.respond(204));
      await expectText("Uploaded — conversion queued");
      // Finished: the bar gives way to the result and the cancel button to a dismiss button.
      expect(screen.queryByRole("progressbar", { name: "Upload of slow.parquet" })).not.toBeInTheDocument();
      expect(screen.getByRole("button", { name: "Dismiss slow.parquet" })).toBeInTheDocument();
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

  it("cancels an upload in flight and removes its pending job", async () => {
    const api = setup();
    api.uploadDelayMs = 60_000;
    const user = await pick(parquet("cancel-me.parquet"));
    const cancel = await screen.findByRole("button", { name: "Cancel upload of cancel-me.parquet" });
    await user.click(cancel);
    await expectText("Upload cancelled");
    await waitFor(() => expect(api.deleted).toEqual(["job-1"]));
    // Once finished, the row can be dismissed.
    await user.click(screen.getByRole("button", { name: "Dismiss cancel-me.parquet" }));
    expect(screen.queryByRole("list", { name: "Uploads" })).not.toBeInTheDocument();
  });
});
