// The whole user journey in a real browser against the real local stack: upload, watch
// the jobs finish, preview, download and check the JSON, see the corrupt file fail.
import { expect, test, type Page } from "@playwright/test";
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import path from "node:path";
import { expectAccessible, shot, watchCsp } from "./support";

// Every page under the web app's Content-Security-Policy, with no violation.
let cspViolations: string[] = [];
test.beforeEach(({ page }) => {
  cspViolations = watchCsp(page);
});
test.afterEach(() => {
  expect(cspViolations, "Content-Security-Policy violations").toEqual([]);
});

const baseUrl = () => process.env.E2E_BASE_URL!;
const fixture = (name: string) => path.join(process.env.E2E_FIXTURES!, name);

/** The job's link in the jobs table (its upload row has one too). */
function tableLink(page: Page, fileName: string) {
  return page.getByRole("table", { name: "Jobs" }).getByRole("link", { name: `Details of ${fileName}` });
}

function jobRow(page: Page, fileName: string) {
  return page.getByRole("table", { name: "Jobs" }).getByRole("row").filter({ has: page.getByRole("link", { name: `Details of ${fileName}` }) });
}

test("upload, follow, preview, download; a corrupt file fails with its message", async ({ page }) => {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));

  const home = await page.goto(baseUrl());
  expect(home?.headers()["content-security-policy"]).toContain("default-src 'self'");
  await expect(page.getByRole("heading", { name: "Parquet to JSON", level: 1 })).toBeVisible();
  await expect(page.getByRole("table", { name: "Jobs" }).getByText("No jobs yet")).toBeVisible();
  await shot(page, "01-home");
  await expectAccessible(page, "home");

  // Upload in progress: the local stack's upload endpoint is held back until the check ran.
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/objects/**", async (route) => {
    if (route.request().method() === "POST") await held;
    await route.continue();
  });
  // Pick both files at once (the input behind the "Choose files" button).
  await page.locator('input[type="file"]').setInputFiles([fixture("demo.parquet"), fixture("bad.parquet")]);
  const uploads = page.getByRole("list", { name: "Uploads" });
  await expect(uploads.getByRole("listitem")).toHaveCount(2);
  await expect(uploads.getByRole("button", { name: /Cancel upload of/ })).toHaveCount(2);
  await shot(page, "02-uploading");
  await expectAccessible(page, "upload in progress");
  release();
  // Each upload row follows its job to its end: converted with a download, or failed with why.
  const uploadRow = (name: string) => uploads.getByRole("listitem").filter({ has: page.getByRole("link", { name: `Details of ${name}` }) });
  await expect(uploadRow("demo.parquet").getByText("Converted")).toBeVisible({ timeout: 240_000 });
  await expect(uploadRow("demo.parquet").getByRole("button", { name: "Download demo.parquet" })).toBeVisible();
  await expect(uploadRow("bad.parquet").getByText(/^Conversion failed: .*bad\.parquet/)).toBeVisible({ timeout: 240_000 });
  await expect(uploadRow("bad.parquet").getByRole("button", { name: "Convert bad.parquet again" })).toBeVisible();
  await shot(page, "02-uploaded");

  // The table follows the jobs by itself (no reload, no click on refresh).
  await expect(jobRow(page, "demo.parquet").getByText("SUCCEEDED")).toBeVisible({ timeout: 240_000 });
  await expect(jobRow(page, "bad.parquet").getByText("FAILED")).toBeVisible({ timeout: 240_000 });
  // The reason is in the table, word for word the API's.
  await expect(jobRow(page, "bad.parquet").getByText(/corrupt|not a Parquet/)).toBeVisible();
  await shot(page, "03-jobs");
  await expectAccessible(page, "jobs");

  // Detail of the converted file, on its own URL.
  await tableLink(page, "demo.parquet").click();
  await expect(page).toHaveURL(/#\/jobs\/[0-9a-f]+$/);
  const detail = page.getByRole("region", { name: "Job detail" });
  await expect(detail.getByRole("heading", { name: "demo.parquet", level: 1 })).toBeVisible();
  // The output schema comes from the API and lists exactly the file's columns, in order.
  const tree = detail.getByRole("tree", { name: "Output schema" });
  const columns = JSON.parse(process.env.E2E_DEMO_COLUMNS!) as string[];
  await expect(tree.locator(":scope > li[role=treeitem] code").first()).toBeVisible({ timeout: 30_000 });
  expect(await tree.locator(":scope > li[role=treeitem] > div code").allTextContents()).toEqual(columns);
  // A struct column expands to its fields.
  await tree.getByRole("button", { name: "Expand struct" }).click();
  await expect(tree.getByText("label", { exact: true })).toBeVisible();
  await expect(detail.getByLabel("Rows per row group").first()).toBeVisible();
  const preview = detail.getByRole("table", { name: "Preview of the output records" });
  await expect(preview).toBeVisible({ timeout: 30_000 });
  await expect(preview.getByText('"upper"')).toBeVisible();
  await expect(detail.getByText("First 3 records.")).toBeVisible();
  await shot(page, "04-detail-preview");
  await expectAccessible(page, "job detail");

  // The URL is shareable: a reload (or another tab) opens the same detail.
  const shared = page.url();
  await page.reload();
  await expect(page).toHaveURL(shared);
  await expect(detail.getByRole("heading", { name: "demo.parquet", level: 1 })).toBeVisible();
  await expect(detail.getByRole("tree", { name: "Output schema" })).toBeVisible({ timeout: 30_000 });

  // Download and check the JSON Lines.
  const downloadPromise = page.waitForEvent("download");
  await detail.getByRole("button", { name: "Download" }).click();
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toBe("demo.jsonl");
  const saved = path.join(import.meta.dirname, "..", "test-results", "demo.jsonl");
  await download.saveAs(saved);
  const records = readFileSync(saved, "utf8")
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => JSON.parse(line) as Record<string, unknown>);
  expect(records).toHaveLength(3);
  expect(records[0]).toMatchObject({ id: 1, ID: "upper" });
  expect(records.map((record) => record.ID)).toEqual(["upper", "case", "twin"]);

  // Back to the jobs by the breadcrumbs, then the corrupt file: FAILED with a message a user can read.
  await page.getByRole("navigation", { name: "Breadcrumbs" }).getByRole("link", { name: "Jobs" }).click();
  await tableLink(page, "bad.parquet").click();
  await expect(detail.getByRole("heading", { name: "bad.parquet", level: 1 })).toBeVisible();
  await expect(detail.getByText("Conversion failed")).toBeVisible();
  // The message shown is the one the API recorded for the job, word for word.
  const listed = (await (await page.request.get(`${baseUrl()}/api/jobs?limit=50`)).json()) as {
    jobs: { filename: string; error: { message: string } | null }[];
  };
  const message = listed.jobs.find((job) => job.filename === "bad.parquet")?.error?.message ?? "";
  expect(message.length).toBeGreaterThan(5);
  await expect(detail.getByText(message, { exact: false })).toBeVisible();
  await expect(detail.getByRole("button", { name: "Download" })).toBeDisabled();
  await expect(detail.getByText(/available once the job has succeeded/)).toHaveCount(0);
  await shot(page, "05-failed-detail");
  await expectAccessible(page, "failed job detail");

  // Delete the failed job with the confirmation dialog.
  await detail.getByRole("button", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog", { name: "Delete job" });
  await expect(dialog).toBeVisible();
  await shot(page, "06-delete-confirm");
  await expectAccessible(page, "delete dialog");
  await dialog.getByRole("button", { name: "Delete" }).click();
  // Back on the jobs, with the message in the shell's notifications.
  await expect(page.getByRole("table", { name: "Jobs" })).toBeVisible();
  await expect(page.getByRole("link", { name: "Details of bad.parquet" })).toHaveCount(0);
  await expect(page.getByText("bad.parquet was deleted.")).toBeVisible();

  // Small screen: the page stays usable.
  await page.setViewportSize({ width: 390, height: 844 });
  await shot(page, "07-mobile");
  await expectAccessible(page, "jobs at mobile width");
  // Jobs are cards at this width; the upload row links to the same job.
  await expect(page.getByRole("table", { name: "Jobs" })).toHaveCount(0);
  await page.getByRole("link", { name: "Details of demo.parquet" }).first().click();
  await expect(detail.getByRole("tree", { name: "Output schema" })).toBeVisible({ timeout: 30_000 });
  await shot(page, "07-mobile-detail");
  await expectAccessible(page, "job detail at mobile width");

  expect(problems).toEqual([]);
});

test("a refused file type is explained without a request", async ({ page }) => {
  await page.goto(baseUrl());
  await page.locator('input[type="file"]').setInputFiles({ name: "notes.csv", mimeType: "text/csv", buffer: Buffer.from("a,b\n1,2\n") });
  await expect(page.getByText('"notes.csv" is not a Parquet file. Only .parquet files can be converted.').first()).toBeVisible();
  await shot(page, "08-refused-type");
});

test("a gzipped JSON array: preview decompresses in the browser, download is .json.gz", async ({ page }) => {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  await page.goto(baseUrl());
  await page.getByRole("radio", { name: /JSON array/ }).check();
  await page.getByRole("checkbox", { name: /Compress the output with gzip/ }).check();
  await page.getByRole("checkbox", { name: /Big integers as strings/ }).check();
  await page.locator('input[type="file"]').setInputFiles({ name: "gz.parquet", mimeType: "application/octet-stream", buffer: readFileSync(fixture("demo.parquet")) });
  await expect(jobRow(page, "gz.parquet").getByText("SUCCEEDED")).toBeVisible({ timeout: 240_000 });

  await tableLink(page, "gz.parquet").click();
  const detail = page.getByRole("region", { name: "Job detail" });
  await expect(detail.getByRole("heading", { name: "gz.parquet", level: 1 })).toBeVisible();
  await expect(detail.getByText("JSON array")).toBeVisible();
  await expect(detail.getByText("gzip", { exact: true })).toBeVisible();
  const preview = detail.getByRole("table", { name: "Preview of the output records" });
  await expect(preview).toBeVisible({ timeout: 30_000 });
  await expect(preview.getByText('"twin"')).toBeVisible();
  await shot(page, "09-gzip-json-preview");

  const downloadPromise = page.waitForEvent("download");
  await detail.getByRole("button", { name: "Download" }).click();
  const download = await downloadPromise;
  expect(download.suggestedFilename()).toBe("gz.json.gz");
  const saved = path.join(import.meta.dirname, "..", "test-results", "gz.json.gz");
  await download.saveAs(saved);
  const records = JSON.parse(gunzipSync(readFileSync(saved)).toString("utf8")) as Record<string, unknown>[];
  expect(records.map((record) => record.ID)).toEqual(["upper", "case", "twin"]);
  // bigint_as_string: the 64-bit extremes come back as strings.
  expect(typeof records[2]!.int64).toBe("string");
  expect(problems).toEqual([]);
});

test("opening a job while its file uploads keeps the upload; leaving asks first; the row then follows the job", async ({ page }) => {
  const problems: string[] = [];
  page.on("console", (message) => {
    if (message.type() === "error") problems.push(`console: ${message.text()}`);
  });
  await page.goto(baseUrl());
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  let uploadsSent = 0;
  await page.route("**/objects/**", async (route) => {
    if (route.request().method() === "POST") {
      uploadsSent++;
      await held;
    }
    await route.continue();
  });
  await page.locator('input[type="file"]').setInputFiles({ name: "away.parquet", mimeType: "application/octet-stream", buffer: readFileSync(fixture("demo.parquet")) });
  const uploads = page.getByRole("list", { name: "Uploads" });
  await expect(uploads.getByRole("button", { name: "Cancel upload of away.parquet" })).toBeVisible();
  await expect.poll(() => uploadsSent).toBe(1);

  // Open the job while its file is still on the way.
  await uploads.getByRole("link", { name: "Details of away.parquet" }).click();
  const detail = page.getByRole("region", { name: "Job detail" });
  await expect(detail.getByRole("heading", { name: "away.parquet", level: 1 })).toBeVisible();
  await expect(detail.getByText("PENDING").first()).toBeVisible();
  await shot(page, "10-job-open-during-upload");

  // A reload now would stop the upload: the browser asks first, and staying keeps it.
  const asked = page.waitForEvent("dialog").then(async (dialog) => {
    const type = dialog.type();
    await dialog.dismiss();
    return type;
  });
  void page.reload().catch(() => undefined);
  expect(await asked).toBe("beforeunload");
  await expect(detail.getByRole("heading", { name: "away.parquet", level: 1 })).toBeVisible();

  // Back to the jobs, release the upload: the row goes on to the job's end.
  await page.getByRole("navigation", { name: "Breadcrumbs" }).getByRole("link", { name: "Jobs" }).click();
  await expect(uploads.getByRole("progressbar", { name: "Upload of away.parquet" })).toBeVisible();
  release();
  const row = uploads.getByRole("listitem").filter({ has: page.getByRole("link", { name: "Details of away.parquet" }) });
  await expect(row.getByText("Converted")).toBeVisible({ timeout: 240_000 });
  expect(uploadsSent).toBe(1);
  const listed = (await (await page.request.get(`${baseUrl()}/api/jobs?limit=100`)).json()) as { jobs: { filename: string; status: string }[] };
  expect(listed.jobs.filter((job) => job.filename === "away.parquet").map((job) => job.status)).toEqual(["SUCCEEDED"]);
  expect(problems).toEqual([]);
});

test("at 390 px: Choose files on the first screen, jobs as cards without sideways scrolling", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await page.goto(baseUrl());
  await expect(page.getByText("Choose files", { exact: true })).toBeInViewport();
  await expect(page.getByRole("button", { name: "Conversion options" })).toHaveAttribute("aria-expanded", "false");
  await page.locator('input[type="file"]').setInputFiles({ name: "phone.parquet", mimeType: "application/octet-stream", buffer: readFileSync(fixture("demo.parquet")) });
  await expect(page.getByRole("link", { name: "Details of phone.parquet" }).first()).toBeVisible({ timeout: 60_000 });
  await expect(page.getByRole("table", { name: "Jobs" })).toHaveCount(0);
  expect(await page.evaluate(() => document.documentElement.scrollWidth <= window.innerWidth)).toBe(true);
  await shot(page, "11-mobile-cards");
  await expectAccessible(page, "jobs as cards at 390 px");
});

test("a job that does not exist gets a page that says so and leads back", async ({ page }) => {
  await page.goto(`${baseUrl()}/#/jobs/0123456789abcdef0123456789abcdef`);
  await expect(page.getByRole("heading", { name: "This job does not exist" })).toBeVisible();
  await expect(page.getByText("Could not load the job")).toHaveCount(0);
  await shot(page, "12-job-not-found");
  await expectAccessible(page, "job not found");
  await page.getByRole("button", { name: "Go to your jobs" }).click();
  await expect(page.getByRole("heading", { name: "Parquet to JSON", level: 1 })).toBeVisible();
});
