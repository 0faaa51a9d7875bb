import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { App } from "../../App";
import { FakeApi, STORAGE, makeJob, makeReport } from "../../test/fakeApi";
import { renderWithApi } from "../../test/render";
import { server } from "../../test/server";
import { DEFAULT_OPTIONS } from "../../lib/types";

// What etl_lib/report.py writes for id int64, name string?, price decimal (as string),
// address struct<city string, lines list<string>>.
const schema = {
  $schema: "https://json-schema.org/draft/2020-12/schema",
  type: "object",
  properties: {
    id: { type: "integer", minimum: -2147483648, maximum: 2147483647 },
    name: { type: ["string", "null"] },
    price: { type: "string", pattern: "^-?[0-9]+(\\.[0-9]+)?$" },
    address: {
      type: ["object", "null"],
      properties: { city: { type: "string" }, lines: { type: "array", items: { type: ["string", "null"] } } },
      required: ["city", "lines"],
      additionalProperties: false,
    },
  },
  required: ["id", "name", "price", "address"],
  additionalProperties: false,
};

function setup(route = "/") {
  const api = new FakeApi();
  api.jobs = [
    makeJob({
      job_id: "ok",
      filename: "sales.parquet",
      status: "SUCCEEDED",
      options: { format: "jsonl", compression: "none", drop_nulls: true, bigint_as_string: false, decimal_as_string: true, nan_as_string: false, geometry: "wkt" },
      input_bytes: 2048,
      output_bytes: 4096,
      rows_in: 3,
      rows_out: 3,
      duration_ms: 1500,
      catalog_table: "job_ok_a1",
    }),
    makeJob({ job_id: "bad", filename: "bad.parquet", status: "FAILED", options: { ...DEFAULT_OPTIONS, format: "json" }, error: { code: "INVALID_PARQUET", message: "The file is not a Parquet file (no PAR1 magic)." } }),
  ];
  api.reports.set(
    "ok",
    makeReport(api.jobs[0]!, {
      json_schema: schema,
      parts: [
        { file: "input.parquet", row_group: 0, rows: 2, bytes: 1200 },
        { file: "input.parquet", row_group: 1, rows: 1, bytes: 800 },
      ],
    }),
  );
  api.outputs.set("ok", '{"id":1,"name":"ann","price":"1.10"}\n{"id":2,"name":null,"price":"2.20"}\n{"id":3,"name":"cy","price":"3.30"}\n');
  server.use(...api.handlers());
  renderWithApi(<App />, { route });
  return api;
}

describe("job detail", () => {
  it("reads a report too large for the API's answer from its link", async () => {
    const api = setup();
    api.linkedReports.add("ok");
    const user = userEvent.setup();
    await user.click(await screen.findByRole("link", { name: "Details of sales.parquet" }));
    const detail = await screen.findByRole("region", { name: "Job detail" });
    const tree = await within(detail).findByRole("tree", { name: "Output schema" });
    expect(within(tree).getByText("name")).toBeInTheDocument();
    expect(within(detail).getAllByLabelText("Rows per row group").length).toBeGreaterThan(0);
    expect(api.reportRequests).toEqual(["ok"]);
  });

  it("shows stats, options, schema and a preview of the first records", async () => {
    const api = setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole("link", { name: "Details of sales.parquet" }));
    const detail = await screen.findByRole("region", { name: "Job detail" });
    expect(detail).toHaveFocus();
    expect(await within(detail).findByRole("heading", { name: "sales.parquet" })).toBeInTheDocument();

    expect(within(detail).getByText("2 KiB")).toBeInTheDocument(); // input
    expect(within(detail).getByText("4 KiB")).toBeInTheDocument(); // output
    expect(within(detail).getByText("1.5 s")).toBeInTheDocument();
    expect(within(detail).getByText("JSON Lines")).toBeInTheDocument();
    expect(within(detail).getByText("WKT")).toBeInTheDocument(); // the geometry option

    // The schema is the API's (GET /jobs/{id}/report), shown as a tree whose nested fields expand.
    const tree = await within(detail).findByRole("tree", { name: "Output schema" });
    expect(within(tree).getByText("name")).toBeInTheDocument();
    expect(within(tree).getByText("string | null")).toBeInTheDocument();
    expect(within(tree).getByText("object | null")).toBeInTheDocument();
    expect(within(tree).queryByText("city")).not.toBeInTheDocument();
    await user.click(within(tree).getByRole("button", { name: "Expand address" }));
    expect(await within(tree).findByText("city")).toBeInTheDocument();
    await user.click(within(tree).getByRole("button", { name: "Expand lines" }));
    expect(await within(tree).findByText("[ ] item")).toBeInTheDocument();
    expect(api.reportRequests).toEqual(["ok"]);

    // The run: throughput and a bar per row group.
    expect(within(detail).getByText("2 rows/s")).toBeInTheDocument();
    expect(within(detail).getAllByLabelText("Rows per row group").length).toBeGreaterThan(0);
    expect(within(detail).getAllByText("#2").length).toBeGreaterThan(0); // a bar per row group

    const preview = await within(detail).findByRole("table", { name: "Preview of the output records" });
    expect(within(preview).getByText('"ann"')).toBeInTheDocument();
    expect(within(preview).getByText('"3.30"')).toBeInTheDocument();
    expect(within(preview).getAllByText("null").length).toBeGreaterThan(0);
    expect(within(detail).getByText("First 3 records.")).toBeInTheDocument();
    // Only the first bytes are asked for.
    expect(api.rangeHeaders).toEqual(["bytes=0-65535"]);
  });

  it("names a JSON Lines job's catalog table, ready to copy", async () => {
    setup("/jobs/ok");
    const detail = await screen.findByRole("region", { name: "Job detail" });
    expect(await within(detail).findByText("Catalog table")).toBeInTheDocument();
    expect(within(detail).getByText("job_ok_a1")).toBeInTheDocument();
    expect(within(detail).getByRole("button", { name: "Copy the catalog table name" })).toBeInTheDocument();
  });

  it("names no catalog table for a job that has none", async () => {
    setup("/jobs/bad");
    const detail = await screen.findByRole("region", { name: "Job detail" });
    expect(await within(detail).findByText("Conversion failed")).toBeInTheDocument();
    expect(within(detail).queryByText("Catalog table")).not.toBeInTheDocument();
  });

  it("shows the error message of a failed job and no download", async () => {
    setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole("link", { name: "Details of bad.parquet" }));
    const detail = await screen.findByRole("region", { name: "Job detail" });
    expect(await within(detail).findByText("Conversion failed")).toBeInTheDocument();
    expect(within(detail).getByText("The file is not a Parquet file (no PAR1 magic).")).toBeInTheDocument();
    expect(within(detail).getByText(/INVALID_PARQUET/)).toBeInTheDocument();
    expect(within(detail).getByRole("button", { name: "Download" })).toBeDisabled();
    // It never will succeed: nothing promises a schema, a run chart or a preview.
    expect(within(detail).queryByText(/available once the job has succeeded/)).not.toBeInTheDocument();
    expect(within(detail).queryByRole("heading", { name: "Preview" })).not.toBeInTheDocument();
  });

  it("converts a failed job again: the file is asked for again, with the job's options selected", async () => {
    const api = setup("/jobs/bad");
    const user = userEvent.setup();
    const detail = await screen.findByRole("region", { name: "Job detail" });
    await user.click(await within(detail).findByRole("button", { name: "Convert again…" }));
    // This tab never held the file (the page was opened from its URL): say so, keep the options.
    const notice = await screen.findByText(/This page no longer holds bad.parquet/);
    expect(notice).toBeInTheDocument();
    expect(screen.getByRole("radio", { name: /JSON array/ })).toBeChecked();
    expect(api.createRequests).toHaveLength(0);
  });

  it("opens a job from its shared URL, with breadcrumbs back to the jobs", async () => {
    const api = setup("/jobs/ok");
    const user = userEvent.setup();
    const detail = await screen.findByRole("region", { name: "Job detail" });
    expect(await within(detail).findByRole("heading", { name: "sales.parquet", level: 1 })).toBeInTheDocument();
    const crumbs = screen.getByRole("navigation", { name: "Breadcrumbs" });
    await waitFor(() => expect(within(crumbs).getAllByText("sales.parquet").length).toBeGreaterThan(0));
    await user.click(within(crumbs).getByRole("link", { name: "Jobs" }));
    expect(await screen.findByRole("table", { name: "Jobs" }, { timeout: 8000 })).toBeInTheDocument();
    expect(screen.queryByRole("region", { name: "Job detail" })).not.toBeInTheDocument();
    expect(api.listRequests.length).toBeGreaterThan(0);
  });

  it("says so kindly when the job of a URL does not exist, and leads back to the jobs", async () => {
    setup("/jobs/gone");
    const user = userEvent.setup();
    expect(await screen.findByRole("heading", { name: "This job does not exist" })).toBeInTheDocument();
    expect(screen.getByText(/It may have been deleted/)).toBeInTheDocument();
    expect(screen.queryByText("Could not load the job")).not.toBeInTheDocument();
    expect(screen.queryByRole("button", { name: "Download" })).not.toBeInTheDocument();
    await user.click(screen.getByRole("button", { name: "Go to your jobs" }));
    expect(await screen.findByRole("table", { name: "Jobs" }, { timeout: 8000 })).toBeInTheDocument();
  });

  it("deleting the job shown goes back to the jobs with a message", async () => {
    const api = setup("/jobs/bad");
    const user = userEvent.setup();
    const detail = await screen.findByRole("region", { name: "Job detail" });
    await user.click(await within(detail).findByRole("button", { name: "Delete" }));
    const dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(api.deleted).toEqual(["bad"]));
    expect(await screen.findByRole("table", { name: "Jobs" }, { timeout: 8000 })).toBeInTheDocument();
    expect(await screen.findByText("bad.parquet was deleted.")).toBeInTheDocument();
    // The deleted job is not asked for again (it would answer 404).
    expect(api.jobRequests.slice(api.jobRequests.indexOf("DELETE bad"))).toEqual(["DELETE bad"]);
  });

  it("downloads through a fresh presigned link", async () => {
    setup();
    const clicks: HTMLAnchorElement[] = [];
    vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(function (this: HTMLAnchorElement) {
      clicks.push(this);
    });
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Download sales.parquet" }));
    await waitFor(() => expect(clicks).toHaveLength(1));
    expect(clicks[0]!.href).toBe(`${STORAGE}/outputs/ok`);
    expect(clicks[0]!.download).toBe("sales.jsonl");
  });

  it("deletes a job after confirmation, and cancelling keeps it", async () => {
    const api = setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole("button", { name: "Delete bad.parquet" }));
    let dialog = await screen.findByRole("dialog");
    expect(within(dialog).getByText(/Delete the job for/)).toHaveTextContent("bad.parquet");
    await user.click(within(dialog).getByRole("button", { name: "Cancel" }));
    await waitFor(() => expect(screen.queryByRole("dialog")).not.toBeInTheDocument());
    expect(api.deleted).toEqual([]);

    await user.click(screen.getByRole("button", { name: "Delete bad.parquet" }));
    dialog = await screen.findByRole("dialog");
    await user.click(within(dialog).getByRole("button", { name: "Delete" }));
    await waitFor(() => expect(api.deleted).toEqual(["bad"]));
    await waitFor(() => expect(screen.queryByRole("link", { name: "Details of bad.parquet" })).not.toBeInTheDocument());
    expect(await screen.findByText("bad.parquet was deleted.")).toBeInTheDocument();
  });
});
