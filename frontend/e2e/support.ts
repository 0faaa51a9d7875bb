// Shared by the browser tests: screenshots, and the accessibility check run on every screen.
import AxeBuilder from "@axe-core/playwright";
import { expect, type Page } from "@playwright/test";
import path from "node:path";

const shots = path.join(import.meta.dirname, "..", "test-results", "screenshots");

export async function shot(page: Page, name: string) {
  await page.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
}

/** axe-core on the page as it is now (WCAG 2.x A and AA rules): no serious or critical violation. */
export async function expectAccessible(page: Page, screen: string) {
  const results = await new AxeBuilder({ page }).withTags(["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"]).analyze();
  const blocking = results.violations
    .filter((violation) => violation.impact === "serious" || violation.impact === "critical")
    .map((violation) => `${violation.id} (${violation.impact}): ${violation.help}\n  ${violation.nodes.map((node) => node.target.join(" ")).join("\n  ")}`);
  expect(blocking, `accessibility violations on the ${screen} screen`).toEqual([]);
  // The check must have looked at something: a page with no rules run would pass vacuously.
  expect(results.passes.length, `axe ran no passing rules on the ${screen} screen`).toBeGreaterThan(10);
}

/**
 * The page's Content-Security-Policy violations, as Chromium reports each on the console. The local
 * stack sends the policy CloudFront sends (frontend/csp.json), so a violation here is one in AWS.
 */
export function watchCsp(page: Page): string[] {
  const violations: string[] = [];
  page.on("console", (message) => {
    if (message.text().includes("Content Security Policy")) violations.push(message.text());
  });
  return violations;
}
