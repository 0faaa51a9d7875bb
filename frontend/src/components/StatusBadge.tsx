import StatusIndicator, { type StatusIndicatorProps } from "@cloudscape-design/components/status-indicator";
import type { JobStatus } from "../lib/types";

// Icon + colour + the status word itself, so status never relies on colour alone.
const TYPES: Record<JobStatus, StatusIndicatorProps.Type> = {
  PENDING: "pending",
  QUEUED: "pending",
  RUNNING: "in-progress",
  SUCCEEDED: "success",
  FAILED: "error",
};

export function StatusBadge({ status }: { status: JobStatus }) {
  return <StatusIndicator type={TYPES[status] ?? "info"}>{status}</StatusIndicator>;
}
