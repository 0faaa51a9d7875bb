import "@testing-library/jest-dom/vitest";
import { cleanup } from "@testing-library/react";
import { afterAll, afterEach, beforeAll, vi } from "vitest";
import { API } from "./fakeApi";
import { mockedResponseProblem } from "./openapi";
import { server } from "./server";

// Every mocked API response is checked against docs/openapi.json when the test ends.
const checks: Promise<string | null>[] = [];
server.events.on("response:mocked", ({ request, response }) => {
  checks.push(mockedResponseProblem(API, request, response));
});

// Any request without a handler fails the test: the app must only call the API we model.
beforeAll(() => server.listen({ onUnhandledRequest: "error" }));
afterEach(async () => {
  cleanup();
  server.resetHandlers();
  vi.restoreAllMocks();
  const problems = (await Promise.all(checks.splice(0))).filter((problem) => problem !== null);
  if (problems.length > 0) throw new Error(`mocked API responses that docs/openapi.json does not allow:\n${problems.join("\n")}`);
});
afterAll(() => server.close());
