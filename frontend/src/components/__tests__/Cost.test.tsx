import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it } from "vitest";
import { App } from "../../App";
import { FakeApi, makeJob, makeReport } from "../../test/fakeApi";
import { renderWithApi } from "../../test/render";
import { server } from "../../test/server";
import { COST_POLL_MS, COST_WAIT_MS, costPollMs } from "../../hooks/useJobs";
import type { RunCost } from "../../lib/types";

// What JobService.record_cost writes: a Glue run from GetJobRun, a converter run from its duration.
const GLUE: RunCost = {
  service: "glue",
  units: 4321.5,
  unit: "DPU-second",
  source: "DPUSeconds",
  price_per_unit_usd: 0.29 / 3600,
  estimated_usd: (4321.5 * 0.29) / 3600,
  execution_class: "FLEX",
  worker_type: "G.2X",
  workers: 10,
  memory_mb: null,
};
const LAMBDA: RunCost = {
  service: "lambda",
  units: 3.2,
  unit: "GB-second",
  source: "memory x duration",
  price_per_unit_usd: 0.0000166667,
  estimated_usd: 3.2 * 0.0000166667,
  execution_class: null,
  worker_type: null,
  workers: null,
  memory_mb: 3008,
};

function setup(route: string, cost: RunCost | null, overrides: Parameters<typeof makeJob>[0] = {}) {
  const api = new FakeApi();
  // Ended long ago: a report without a cost is not asked for again.
  const job = makeJob({ job_id: "ok", filename: "sales.parquet", status: "SUCCEEDED", rows_in: 3, rows_out: 3, duration_ms: 1000, ...overrides });
  api.jobs = [job];
  api.reports.set("ok", makeReport(job, { cost }));
  server.use(...api.handlers());
  renderWithApi(<App />, { route });
  return api;
}

describe("the job page's cost", () => {
  it("shows a Glue run's DPU-seconds, its estimated cost at the configured price, its workers and class", async () => {
    setup("/jobs/ok", GLUE, { execution_class: "flex" });
    const detail = await screen.findByRole("region", { name: "Job detail" });
    // 4321.5 DPU-seconds at $0.29 per DPU-hour.
    expect(await within(detail).findByText("$0.348", {}, { timeout: 8000 })).toBeInTheDocument();
    expect(within(detail).getByText("4,321.5 DPU-seconds")).toBeInTheDocument();
    expect(within(detail).getByText("$0.29 per DPU-hour")).toBeInTheDocument();
    expect(within(detail).getByText("Glue's own account of the run (Auto Scaling)")).toBeInTheDocument();
    expect(within(detail).getByText("10 × G.2X")).toBeInTheDocument();
    expect(within(detail).getByText("FLEX")).toBeInTheDocument();
    expect(within(detail).getByText("Not urgent (Glue Flex)")).toBeInTheDocument(); // the job's own choice
  });

  it("shows the converter Lambda's GB-seconds and memory", async () => {
    setup("/jobs/ok", LAMBDA);
    const detail = await screen.findByRole("region", { name: "Job detail" });
    expect(await within(detail).findByText("3.2 GB-seconds", {}, { timeout: 8000 })).toBeInTheDocument();
    expect(within(detail).getByText("$0.0000533")).toBeInTheDocument();
    expect(within(detail).getByText("3,008 MB")).toBeInTheDocument();
    expect(within(detail).getByText("The function's memory × its duration")).toBeInTheDocument();
    expect(within(detail).getByText("Standard")).toBeInTheDocument();
  });

  it("says when a run's cost is not accounted yet, and shows it once the report has it", async () => {
    // Just ended: the report is asked for again until the run's charge is in it.
    const api = setup("/jobs/ok", null, { updated_at: new Date().toISOString() });
    const detail = await screen.findByRole("region", { name: "Job detail" });
    expect(await within(detail).findByText(/Not accounted yet/)).toBeInTheDocument();
    api.reports.set("ok", makeReport(api.jobs[0]!, { cost: GLUE }));
    expect(await within(detail).findByText("4,321.5 DPU-seconds", {}, { timeout: 8000 })).toBeInTheDocument();
    expect(api.reportRequests.length).toBeGreaterThan(1);
  });

  it("asks again for a report without a cost only shortly after the job ended", () => {
    const ended = Date.parse("2026-01-02T03:04:05Z");
    const job = { updated_at: "2026-01-02T03:04:05Z" };
    const report = makeReport(makeJob(), { cost: null });
    expect(costPollMs(job, report, ended + 1000)).toBe(COST_POLL_MS);
    expect(costPollMs(job, undefined, ended + 1000)).toBe(COST_POLL_MS);
    expect(costPollMs(job, report, ended + COST_WAIT_MS)).toBe(false); // the local stack: never charged
    expect(costPollMs(job, makeReport(makeJob(), { cost: LAMBDA }), ended + 1000)).toBe(false);
  });
});

describe("asking for Glue Flex", () => {
  it("sends execution_class flex for the files added while 'Not urgent' is on, standard otherwise", async () => {
    const api = new FakeApi();
    server.use(...api.handlers());
    renderWithApi(<App />);
    const user = userEvent.setup();
    const input = () => document.querySelector<HTMLInputElement>('input[type="file"]')!;
    const file = (name: string) => new File([new Uint8Array(64).fill(7)], name);

    await user.upload(input(), file("urgent.parquet"));
    await waitFor(() => expect(api.createRequests).toHaveLength(1));
    await user.click(screen.getByRole("checkbox", { name: /Not urgent \(Glue Flex\)/ }));
    await user.upload(input(), file("later.parquet"));
    await waitFor(() => expect(api.createRequests).toHaveLength(2));

    expect(api.createRequests[0]).toMatchObject({ filename: "urgent.parquet", execution_class: "standard" });
    expect(api.createRequests[1]).toMatchObject({ filename: "later.parquet", execution_class: "flex" });
    expect(api.jobs.map((job) => [job.filename, job.execution_class])).toEqual([
      ["later.parquet", "flex"],
      ["urgent.parquet", "standard"],
    ]);
  });
});
