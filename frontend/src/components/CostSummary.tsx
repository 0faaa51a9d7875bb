import Box from "@cloudscape-design/components/box";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import { formatCount } from "../lib/format";
import type { RunCost } from "../lib/types";

const UNITS: Record<RunCost["unit"], string> = { "DPU-second": "DPU-seconds", "GB-second": "GB-seconds" };

// Where the charged units come from (RunCostView.source in docs/openapi.json), in words.
const SOURCES: Record<string, string> = {
  DPUSeconds: "Glue's own account of the run (Auto Scaling)",
  "ExecutionTime x workers": "The run's time × its workers",
  "memory x duration": "The function's memory × its duration",
};

/** Dollars to three significant digits: a cost of a fraction of a cent stays readable. */
export function formatUsd(value: number): string {
  return value.toLocaleString(undefined, { style: "currency", currency: "USD", maximumSignificantDigits: 3 });
}

/** What the run was charged for (Glue DPU-seconds or Lambda GB-seconds) and its estimated cost. */
export function CostSummary({ cost }: { cost: RunCost | null | undefined }) {
  if (!cost)
    return (
      <Box color="text-status-inactive">
        Not accounted yet: a Glue run's charge is added moments after the job ends. Conversions on the local stack cost nothing.
      </Box>
    );
  const glue = cost.service === "glue";
  const price = glue ? `${formatUsd(cost.price_per_unit_usd * 3600)} per DPU-hour` : `${formatUsd(cost.price_per_unit_usd)} per GB-second`;
  const items = [
    { label: "Estimated cost", value: formatUsd(cost.estimated_usd) },
    { label: "Charged", value: `${formatCount(Math.round(cost.units * 100) / 100)} ${UNITS[cost.unit]}` },
    { label: "Price", value: price },
    { label: "Measured by", value: SOURCES[cost.source] ?? cost.source },
    ...(glue
      ? [
          { label: "Workers (most used)", value: cost.workers && cost.worker_type ? `${cost.workers} × ${cost.worker_type}` : "—" },
          { label: "Execution class", value: cost.execution_class ?? "—" },
        ]
      : [{ label: "Memory", value: cost.memory_mb ? `${formatCount(cost.memory_mb)} MB` : "—" }]),
  ];
  return <KeyValuePairs columns={3} items={items} />;
}
