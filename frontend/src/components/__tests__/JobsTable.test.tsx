import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { http, HttpResponse } from "msw";
import { describe, expect, it } from "vitest";
import { App } from "../../App";
import { API, FakeApi, makeJob } from "../../test/fakeApi";
import { renderWithApi } from "../../test/render";
import { server } from "../../test/server";
import { JobsTable } from "../JobsTable";

const noop = () => undefined;

function rowOf(fileName: string): HTMLElement {
  const table = screen.getByRole("table", { name: "Jobs" });
  const row = within(table).getByText(fileName).closest("tr");
  if (!row) throw new Error(`no row for ${fileName}`);
  return row;
}

describe("jobs table", () => {
  it("follows a job from PENDING to SUCCEEDED while polling, then stops polling", async () => {
    const api = new FakeApi();
    const job = makeJob({ job_id: "j1", filename: "orders.parquet", input_bytes: 3 * 1024 * 1024 });
    api.jobs = [job];
    // Each poll moves the job one step: PENDING -> QUEUED -> RUNNING -> SUCCEEDED.
    const steps: Partial<typeof job>[] = [
      {},
      { status: "QUEUED" },
      { status: "RUNNING" },
      { status: "SUCCEEDED", rows_in: 1234567, rows_out: 1234567, duration_ms: 83_000, output_bytes: 9_000_000 },
    ];
    api.onList = (fake) => {
      const step = steps[Math.min(fake.listRequests.length - 1, steps.length - 1)]!;
      fake.jobs = [{ ...job, ...step }];
    };
    server.use(...api.handlers());
    renderWithApi(<JobsTable onDownload={noop} onDelete={noop} />);

    expect(await screen.findByText("PENDING")).toBeInTheDocument();
    expect(screen.getByText("Updating automatically while jobs are in progress.")).toBeInTheDocument();
    await screen.findByText("QUEUED", {}, { timeout: 8000 });
    await screen.findByText("RUNNING", {}, { timeout: 8000 });
    await screen.findByText("SUCCEEDED", {}, { timeout: 8000 });

    const row = rowOf("orders.parquet");
    expect(within(row).getByText("3 MiB")).toBeInTheDocument();
    expect(within(row).getByText((1234567).toLocaleString())).toBeInTheDocument();
    expect(within(row).getByText("1 min 23 s")).toBeInTheDocument();
    const created = within(row).getByText(new Date(job.created_at).toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" }));
    expect(created.closest("time")).toHaveAttribute("datetime", job.created_at);
    expect(within(row).getByRole("button", { name: "Download orders.parquet" })).toBeEnabled();
    expect(screen.getByText("Newest first.")).toBeInTheDocument();

    // Nothing active any more: no further requests.
    const seen = api.listRequests.length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(api.listRequests.length).toBe(seen);
  }, 30000);

  it("shows a failed job with its status and reason, and offers to convert it again", async () => {
    const api = new FakeApi();
    api.jobs = [
      makeJob({ job_id: "b", filename: "bad.parquet", status: "FAILED", error: { code: "INVALID_PARQUET", message: "Not a Parquet file" } }),
      makeJob({ job_id: "a", filename: "good.parquet", status: "SUCCEEDED", created_at: "2026-01-01T00:00:00Z" }),
    ];
    server.use(...api.handlers());
    renderWithApi(<JobsTable onDownload={noop} onDelete={noop} />);
    await screen.findByText("bad.parquet");
    const rows = within(screen.getByRole("table", { name: "Jobs" })).getAllByRole("row");
    // header row, then newest first as the API returns them
    expect(rows[1]).toHaveTextContent("bad.parquet");
    expect(rows[2]).toHaveTextContent("good.parquet");
    expect(within(rowOf("bad.parquet")).getByText("FAILED")).toBeInTheDocument();
    expect(within(rowOf("bad.parquet")).getByText("Not a Parquet file")).toBeInTheDocument();
    expect(within(rowOf("bad.parquet")).queryByRole("button", { name: "Download bad.parquet" })).not.toBeInTheDocument();
    expect(within(rowOf("bad.parquet")).getByRole("button", { name: "Convert bad.parquet again" })).toBeInTheDocument();
    expect(within(rowOf("good.parquet")).getByRole("button", { name: "Download good.parquet" })).toBeEnabled();
    // Nothing active: one request, no polling.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(api.listRequests).toHaveLength(1);
  });

  it("pages through the API's next_token and back", async () => {
    const api = new FakeApi();
    api.jobs = Array.from({ length: 7 }, (_, i) =>
      makeJob({ job_id: `j${i}`, filename: `file-${i}.parquet`, status: "SUCCEEDED" }),
    );
    server.use(...api.handlers());
    const user = userEvent.setup();
    renderWithApi(<JobsTable onDownload={noop} onDelete={noop} pageSize={3} />);
    await screen.findByText("file-0.parquet");
    expect(screen.queryByText("file-3.parquet")).not.toBeInTheDocument();
    expect(api.listRequests[0]!.get("limit")).toBe("3");
    expect(api.listRequests[0]!.has("next_token")).toBe(false);

    await user.click(screen.getByRole("button", { name: "Next page" }));
    await screen.findByText("file-3.parquet");
    expect(api.listRequests.at(-1)!.get("next_token")).toBe("3");
    await user.click(screen.getByRole("button", { name: "Next page" }));
    await screen.findByText("file-6.parquet");
    const next = screen.getByRole("button", { name: "Next page" });
    expect(next.hasAttribute("disabled") || next.getAttribute("aria-disabled") === "true").toBe(true);

    await user.click(screen.getByRole("button", { name: "Page 1" }));
    await screen.findByText("file-0.parquet");
    expect(screen.queryByText("file-6.parquet")).not.toBeInTheDocument();
  });

  it("shows the API error and recovers on retry", async () => {
    let fail = true;
    server.use(
      http.get(`${API}/jobs`, () =>
        fail
          ? HttpResponse.json({ error: { code: "INTERNAL_ERROR", message: "internal error; the request id is in the logs" } }, { status: 500 })
          : HttpResponse.json({ jobs: [makeJob({ filename: "back.parquet", status: "SUCCEEDED" })], next_token: null }),
      ),
    );
    const user = userEvent.setup();
    renderWithApi(<JobsTable onDownload={noop} onDelete={noop} />);
    expect(await screen.findByText("Could not load the jobs")).toBeInTheDocument();
    expect(screen.getByText("internal error; the request id is in the logs")).toBeInTheDocument();
    fail = false;
    await user.click(screen.getByRole("button", { name: "Retry" }));
    expect(await screen.findByText("back.parquet")).toBeInTheDocument();
    await waitFor(() => expect(screen.queryByText("Could not load the jobs")).not.toBeInTheDocument());
  });

  it("shows an empty state for a new user", async () => {
    const api = new FakeApi();
    server.use(...api.handlers());
    renderWithApi(<App />);
    expect(await screen.findByText("No jobs yet")).toBeInTheDocument();
  });
});
