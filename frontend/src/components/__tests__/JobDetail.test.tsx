import { screen, waitFor, within } from "@testing-library/react";
import userEvent from "@testing-library/user-event";
import { describe, expect, it, vi } from "vitest";
import { App } from "../../App";
import { FakeApi, STORAGE, makeJob, makeReport } from "../../test/fakeApi";
import { renderWithApi } from "../../test/render";
import { server } from "../../test/server";

const schema = {
  type: "object",
  properties: { id: { type: "integer" }, name: { type: ["string", "null"] }, price: { type: "string", format: "decimal" } },
};

function setup() {
  const api = new FakeApi();
  api.jobs = [
    makeJob({
      job_id: "ok",
      filename: "sales.parquet",
      status: "SUCCEEDED",
      options: { format: "jsonl", compression: "none", drop_nulls: true, bigint_as_string: false, decimal_as_string: true, nan_as_string: false },
      input_bytes: 2048,
      output_bytes: 4096,
      rows_in: 3,
      rows_out: 3,
      duration_ms: 1500,
    }),
    makeJob({ job_id: "bad", filename: "bad.parquet", status: "FAILED", error: { code: "INVALID_PARQUET", message: "The file is not a Parquet file (no PAR1 magic)." } }),
  ];
  api.reports.set("ok", makeReport(api.jobs[0]!, { json_schema: schema }));
  api.outputs.set("ok", '{"id":1,"name":"ann","price":"1.10"}\n{"id":2,"name":null,"price":"2.20"}\n{"id":3,"name":"cy","price":"3.30"}\n');
  server.use(...api.handlers());
  renderWithApi(<App />);
  return api;
}

describe("job detail", () => {
  it("shows stats, options, schema and a preview of the first records", async () => {
    const api = setup();
    const user = userEvent.setup();
    await user.click(await screen.findByRole("link", { name: "Details of sales.parquet" }));
    const detail = await screen.findByRole("region", { name: "Job detail" });
    expect(detail).toHaveFocus();
    expect(await within(detail).findByRole("heading", { name: "sales.parquet" })).toBeInTheDocument();

    expect(within(detail).getByText("2 KB")).toBeInTheDocument(); // input
    expect(within(detail).getByText("4 KB")).toBeInTheDocument(); // output
    expect(within(detail).getByText("1.5 s")).toBeInTheDocument();
    expect(within(detail).getByText("JSON Lines")).toBeInTheDocument();

    const schemaTable = within(detail).getByRole("table", { name: "Output schema" });
    expect(within(schemaTable).getByText("name")).toBeInTheDocument();
    expect(within(schemaTable).getByText("string | null")).toBeInTheDocument();
    expect(within(schemaTable).getByText("string (decimal)")).toBeInTheDocument();

    const preview = await within(detail).findByRole("table", { name: "Preview of the output records" });
    expect(within(preview).getByText('"ann"')).toBeInTheDocument();
    expect(within(preview).getByText('"3.30"')).toBeInTheDocument();
    expect(within(preview).getAllByText("null").length).toBeGreaterThan(0);
    expect(within(detail).getByText("First 3 records.")).toBeInTheDocument();
    // Only the first bytes are asked for.
    expect(api.rangeHeaders).toEqual(["bytes=0-65535"]);
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
    expect(within(detail).getByText("A preview is available once the job has succeeded.")).toBeInTheDocument();
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
