// Large files in a real browser against the real local stack, whose multipart threshold and part
// size are 5 MiB here (e2e/global-setup.ts): big.parquet (about 12 MiB) goes in three parts,
// each PUT with its SHA-256 that the server checks. Parts are counted at the network.
import { expect, test, type Page, type Request } from "@playwright/test";
import { readFileSync } from "node:fs";
import path from "node:path";
import { watchCsp } from "./support";
import { RESUMABLE_STORAGE_KEY, RESUME_HINT } from "../src/lib/resumable";

// Every page under the web app's Content-Security-Policy, with no violation.
let cspViolations: string[] = [];
test.beforeEach(({ page }) => {
  cspViolations = watchCsp(page);
});
test.afterEach(() => {
  expect(cspViolations, "Content-Security-Policy violations").toEqual([]);
});

const baseUrl = () => process.env.E2E_BASE_URL!;
const big = () => path.join(process.env.E2E_FIXTURES!, "big.parquet");

/** The part number of a part PUT to the local stack's storage, or null for any other request. */
function partNumber(request: Request): number | null {
  if (request.method() !== "PUT" || !request.url().includes("/objects/")) return null;
  const n = new URL(request.url()).searchParams.get("partNumber");
  return n === null ? null : Number(n);
}

/** Part numbers of the part PUTs that storage answered with success, in order of answer. */
function countParts(page: Page): number[] {
  const sent: number[] = [];
  page.on("response", (response) => {
    const n = partNumber(response.request());
    if (n !== null && response.ok()) sent.push(n);
  });
  return sent;
}

function uploadRow(page: Page) {
  return page.getByRole("list", { name: "Uploads" }).getByRole("listitem").filter({ hasText: "big.parquet" });
}

async function jobIdOf(page: Page): Promise<string> {
  const href = await uploadRow(page).getByRole("link", { name: "Details of big.parquet" }).getAttribute("href");
  const id = /jobs\/([^/?#]+)/.exec(href ?? "")?.[1];
  if (!id) throw new Error(`no job link in the upload row (${href})`);
  return id;
}

async function jobStatus(page: Page, jobId: string): Promise<string> {
  const response = await page.request.get(`${baseUrl()}/api/jobs/${jobId}`);
  return ((await response.json()) as { job: { status: string } }).job.status;
}

async function expectConvertedWithDownload(page: Page, jobId: string) {
  await expect(uploadRow(page).getByText("Converted")).toBeVisible({ timeout: 240_000 });
  expect(await jobStatus(page, jobId)).toBe("SUCCEEDED");
  const downloadPromise = page.waitForEvent("download");
  await uploadRow(page).getByRole("button", { name: "Download big.parquet" }).click();
  const download = await downloadPromise;
  const saved = path.join(import.meta.dirname, "..", "test-results", `${jobId}.jsonl`);
  await download.saveAs(saved);
  const lines = readFileSync(saved, "utf8").split("\n").filter((line) => line !== "");
  expect(lines).toHaveLength(Number(process.env.E2E_BIG_ROWS));
  expect(JSON.parse(lines[0]!)).toMatchObject({ id: 0 });
  expect(JSON.parse(lines[lines.length - 1]!)).toMatchObject({ id: lines.length - 1 });
}

test("a file above the threshold uploads in parts and its job succeeds with a download", async ({ page }) => {
  const parts = countParts(page);
  await page.goto(baseUrl());
  await page.locator('input[type="file"]').setInputFiles(big());
  await expect(uploadRow(page).getByRole("link", { name: "Details of big.parquet" })).toBeVisible();
  const jobId = await jobIdOf(page);
  await expectConvertedWithDownload(page, jobId);
  expect([...parts].sort()).toEqual([1, 2, 3]);
  // Completed: nothing is left to resume.
  expect(await page.evaluate((key) => localStorage.getItem(key), RESUMABLE_STORAGE_KEY)).toBeNull();
});

test("a reload mid-upload: choosing the same file again sends only the missing part, and the job succeeds", async ({ page }) => {
  const parts = countParts(page);
  // Part 3 is held at the network until the page is reloaded: the upload stops after parts 1 and 2.
  let holding = true;
  await page.route("**/objects/**", async (route) => {
    if (holding && partNumber(route.request()) === 3) return; // never answered: the reload cuts it
    await route.continue();
  });
  // The app asks before a reload that would stop an upload; the user says leave.
  page.on("dialog", (dialog) => void dialog.accept());

  await page.goto(baseUrl());
  await page.locator('input[type="file"]').setInputFiles(big());
  await expect.poll(() => [...parts].sort(), { timeout: 60_000 }).toEqual([1, 2]);
  await expect(uploadRow(page).getByRole("link", { name: "Details of big.parquet" })).toBeVisible();
  const jobId = await jobIdOf(page);

  await page.reload();
  holding = false;
  await expect(uploadRow(page).getByText(`Upload interrupted by a reload: ${RESUME_HINT}.`)).toBeVisible();
  expect(await jobStatus(page, jobId)).toBe("PENDING");

  parts.length = 0;
  await page.locator('input[type="file"]').setInputFiles(big());
  await expectConvertedWithDownload(page, jobId);
  expect(parts).toEqual([3]);
  // One row, one job: the resumed upload is the same job, not a new one.
  await expect(page.getByRole("list", { name: "Uploads" }).getByRole("listitem")).toHaveCount(1);
});

test("opening the job page during a multipart upload does not lose it", async ({ page }) => {
  const parts = countParts(page);
  let release: () => void = () => undefined;
  const held = new Promise<void>((resolve) => (release = resolve));
  await page.route("**/objects/**", async (route) => {
    if (partNumber(route.request()) !== null) await held;
    await route.continue();
  });

  await page.goto(baseUrl());
  await page.locator('input[type="file"]').setInputFiles(big());
  await expect(uploadRow(page).getByRole("link", { name: "Details of big.parquet" })).toBeVisible();
  const jobId = await jobIdOf(page);
  // Away from the upload list while the parts are on their way.
  await uploadRow(page).getByRole("link", { name: "Details of big.parquet" }).click();
  const detail = page.getByRole("region", { name: "Job detail" });
  await expect(detail.getByRole("heading", { name: "big.parquet", level: 1 })).toBeVisible();
  release();
  // The job page itself sees the job through: the upload went on behind it.
  await expect(detail.getByText("SUCCEEDED", { exact: true }).first()).toBeVisible({ timeout: 240_000 });
  expect([...parts].sort()).toEqual([1, 2, 3]);
  await page.getByRole("navigation", { name: "Breadcrumbs" }).getByRole("link", { name: "Jobs" }).click();
  await expectConvertedWithDownload(page, jobId);
});
