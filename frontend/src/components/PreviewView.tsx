import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import Table from "@cloudscape-design/components/table";
import { usePreview } from "../hooks/useJobs";
import type { Job } from "../lib/types";

const MAX_COLUMNS = 30;

function columnsOf(records: unknown[]): string[] {
  const names = new Set<string>();
  for (const record of records) {
    if (typeof record === "object" && record !== null && !Array.isArray(record)) {
      Object.keys(record).forEach((key) => names.add(key));
    }
  }
  return [...names].slice(0, MAX_COLUMNS);
}

// Cells show JSON literals ("42" vs 42, null) because the exact JSON encoding is the point.
function cellText(record: unknown, column: string): string {
  if (typeof record !== "object" || record === null || !(column in record)) return "";
  return JSON.stringify((record as Record<string, unknown>)[column]);
}

export function PreviewView({ job }: { job: Job }) {
  const preview = usePreview(job);
  if (job.status !== "SUCCEEDED") return <Box color="text-status-inactive">A preview is available once the job has succeeded.</Box>;
  if (preview.isPending) {
    return (
      <Box>
        <Spinner /> Loading preview…
      </Box>
    );
  }
  if (preview.isError) {
    return (
      <Alert type="warning" header="Preview not available">
        {preview.error.message} You can still download the file.
      </Alert>
    );
  }
  const { records, truncated, rawText } = preview.data;
  if (rawText !== null) {
    return (
      <SpaceBetween size="xs">
        <Box>The start of the file could not be read as records; here it is as text.</Box>
        <pre style={{ whiteSpace: "pre-wrap", margin: 0 }}>{rawText}</pre>
      </SpaceBetween>
    );
  }
  const columns = columnsOf(records);
  const items = records.map((record, index) => ({ index, record }));
  return (
    <SpaceBetween size="s">
      <Box variant="small">
        {records.length === 0 ? "The output has no records." : `First ${records.length} record${records.length === 1 ? "" : "s"}${truncated ? " (the file goes on)" : ""}.`}
      </Box>
      {records.length > 0 && (
        <div style={{ overflowX: "auto" }}>
          <Table
            variant="embedded"
            ariaLabels={{ tableLabel: "Preview of the output records" }}
            items={items}
            trackBy="index"
            wrapLines={false}
            columnDefinitions={[
              { id: "#", header: "#", cell: (item) => item.index + 1 },
              ...columns.map((column) => ({
                id: `c-${column}`,
                header: column,
                cell: (item: { record: unknown }) => <code>{cellText(item.record, column)}</code>,
              })),
            ]}
          />
        </div>
      )}
      {records.length > 0 && (
        <ExpandableSection headerText="Records as JSON">
          <pre style={{ whiteSpace: "pre-wrap", margin: 0, maxHeight: 400, overflow: "auto" }} tabIndex={0} aria-label="Preview records as JSON">
            {records.map((record) => JSON.stringify(record)).join("\n")}
          </pre>
        </ExpandableSection>
      )}
    </SpaceBetween>
  );
}
