// Starts the real local stack for the browser tests: `etl up` on a free port with a fresh
// data directory, plus the fixtures (a demo Parquet file and a corrupt one).
import { spawn, execFileSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, openSync, writeFileSync, existsSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { createPool, startMoto } from "./moto";

const here = path.dirname(fileURLToPath(import.meta.url));
const frontend = path.resolve(here, "..");
const repo = path.resolve(frontend, "..");
const venvBin = path.join(repo, ".venv", "bin");

/**
 * The e2e server's multipart threshold and part size: small, so that a 13 MiB file goes in three
 * parts. 5 MiB is the smallest part the app's uploader (Uppy) cuts, and S3's.
 */
export const E2E_PART_BYTES = 5 * 1024 * 1024;
/** The multipart fixture: 800,000 rows of an id and a random double, uncompressed, about 12.8 MB (three parts). */
const BIG_ROWS = 800_000;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitForHealth(url: string, child: ChildProcess, logFile: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`${child.spawnfile} exited with code ${child.exitCode}; see ${logFile}`);
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  throw new Error(`${url} did not answer within ${timeoutMs / 1000}s; see ${logFile}`);
}

export default async function globalSetup(): Promise<() => Promise<void>> {
  const etl = path.join(venvBin, "etl");
  if (!existsSync(path.join(frontend, "dist", "index.html"))) {
    throw new Error("frontend/dist is missing: run `make frontend-build` (or `npm run build`) first");
  }
  const work = mkdtempSync(path.join(tmpdir(), "etl-e2e-"));
  const dataDir = path.join(work, "data");
  const fixtures = path.join(work, "fixtures");
  execFileSync("mkdir", ["-p", dataDir, fixtures]);

  // A valid file covering the JSON contract, and random bytes with a .parquet name.
  execFileSync(path.join(venvBin, "python"), ["-m", "etl_lib.demo", path.join(fixtures, "demo.parquet")], { cwd: repo, stdio: "inherit" });
  writeFileSync(path.join(fixtures, "bad.parquet"), randomBytes(4096));
  // Above the multipart threshold: uploaded in parts (e2e/multipart.spec.ts).
  execFileSync(
    path.join(venvBin, "python"),
    [
      "-c",
      "import sys, pyarrow as pa, pyarrow.compute as pc, pyarrow.parquet as pq; " +
        "n = int(sys.argv[2]); " +
        "pq.write_table(pa.table({'id': pa.array(range(n), pa.int64()), 'v': pc.random(n, initializer=7)}), sys.argv[1], compression='none', use_dictionary=False)",
      path.join(fixtures, "big.parquet"),
      String(BIG_ROWS),
    ],
    { cwd: repo, stdio: "inherit" },
  );
  // The demo file's top-level columns, read by pyarrow: what the schema on the job page must list.
  const columns = execFileSync(
    path.join(venvBin, "python"),
    ["-c", "import json, sys, pyarrow.parquet as pq; print(json.dumps(pq.read_schema(sys.argv[1]).names))", path.join(fixtures, "demo.parquet")],
    { encoding: "utf8" },
  );

  const port = await freePort();
  const logFile = path.join(frontend, "test-results", "etl-up.log");
  execFileSync("mkdir", ["-p", path.dirname(logFile)]);
  const log = openSync(logFile, "w");
  const child = spawn(etl, ["up", "--host", "127.0.0.1", "--port", String(port), "--data-dir", dataDir], {
    cwd: repo,
    env: { ...process.env, MULTIPART_THRESHOLD_BYTES: String(E2E_PART_BYTES), MIN_PART_BYTES: String(E2E_PART_BYTES) },
    stdio: ["ignore", log, log],
    detached: true, // own process group, so teardown also stops the workers it starts
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  try {
    await waitForHealth(`${baseUrl}/api/health`, child, logFile, 120_000);
  } catch (error) {
    if (child.pid) process.kill(-child.pid, "SIGTERM");
    throw error;
  }

  // moto's server as the Cognito endpoint of the sign-in tests (e2e/auth.spec.ts).
  const motoPort = await freePort();
  const moto = startMoto(venvBin, motoPort, path.join(frontend, "test-results", "moto.log"));
  const motoUrl = `http://127.0.0.1:${motoPort}`;
  try {
    await waitForHealth(`${motoUrl}/moto-api/`, moto, "test-results/moto.log", 60_000);
    const pool = await createPool(motoUrl);
    process.env.E2E_COGNITO_ENDPOINT = pool.endpoint;
    process.env.E2E_USER_POOL_ID = pool.userPoolId;
    process.env.E2E_USER_POOL_CLIENT_ID = pool.clientId;
  } catch (error) {
    for (const started of [moto, child]) if (started.pid) process.kill(-started.pid, "SIGTERM");
    throw error;
  }

  process.env.E2E_BASE_URL = baseUrl;
  process.env.E2E_FIXTURES = fixtures;
  process.env.E2E_DEMO_COLUMNS = columns.trim();
  process.env.E2E_BIG_ROWS = String(BIG_ROWS);

  return async () => {
    for (const started of [child, moto]) {
      if (started.pid && started.exitCode === null) {
        process.kill(-started.pid, "SIGTERM");
        await new Promise((resolve) => setTimeout(resolve, 1000));
        if (started.exitCode === null) {
          try {
            process.kill(-started.pid, "SIGKILL");
          } catch {
            // already gone
          }
        }
      }
    }
  };
}
