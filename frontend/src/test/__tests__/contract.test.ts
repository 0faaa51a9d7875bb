// The app's view of the API is docs/openapi.json: its types are generated from it and every
// mocked response is checked against it. These tests make both checks able to fail.
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import spec from "../../../../docs/openapi.json";
import { DEFAULT_OPTIONS } from "../../lib/types";
import { makeJob, makeReport } from "../fakeApi";
import { responseProblem } from "../openapi";

const frontend = path.resolve(import.meta.dirname, "..", "..", "..");

describe("the API contract", () => {
  it("the committed API types are the ones generated from docs/openapi.json", () => {
    const generated = execFileSync(
      process.execPath,
      [path.join(frontend, "node_modules", "openapi-typescript", "bin", "cli.js"), path.join(frontend, "..", "docs", "openapi.json")],
      { cwd: frontend, encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] },
    );
    const committed = readFileSync(path.join(frontend, "src", "lib", "api-types.ts"), "utf8");
    expect(committed, "src/lib/api-types.ts is stale: run `npm run gen:types`").toBe(generated);
  });

  it("a mocked job with a field the API never sends is refused", () => {
    const job = makeJob({ status: "SUCCEEDED" });
    expect(responseProblem("GET", "/jobs/abc", 200, { job })).toBeNull();
    const invented = responseProblem("GET", "/jobs/abc", 200, { job: { ...job, report: { json_schema: {} } } });
    expect(invented).toMatch(/must NOT have additional properties/);
    expect(responseProblem("GET", "/jobs/abc", 200, job)).toMatch(/must have required property 'job'/);
  });

  it("a mocked report must have the documented shape, and undocumented statuses are refused", () => {
    const job = makeJob({ job_id: "abc", status: "SUCCEEDED" });
    expect(responseProblem("GET", "/jobs/abc/report", 200, { job_id: "abc", report: makeReport(job) })).toBeNull();
    expect(responseProblem("GET", "/jobs/abc/report", 200, { job_id: "abc", report: { json_schema: {} } })).toMatch(/required property/);
    expect(responseProblem("GET", "/jobs", 503, { error: { code: "X", message: "y" } })).toMatch(/status 503 is not documented/);
    expect(responseProblem("GET", "/nowhere", 200, {})).toMatch(/no such route/);
  });

  it("the app's default options are the API's documented defaults", () => {
    const properties = spec.components.schemas.ConvertOptions.properties as Record<string, { default?: unknown }>;
    const defaults = Object.fromEntries(Object.entries(properties).map(([name, schema]) => [name, schema.default]));
    expect(DEFAULT_OPTIONS).toEqual(defaults);
  });
});
