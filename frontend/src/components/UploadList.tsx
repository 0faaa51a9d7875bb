import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import SpaceBetween from "@cloudscape-design/components/space-between";
import StatusIndicator from "@cloudscape-design/components/status-indicator";
import type { UploadItem } from "../hooks/uploads";
import { formatBytes } from "../lib/format";
import type { Job } from "../lib/types";
import { batchSummary, FINISHED_KINDS, rowState, type RowState } from "../lib/uploadRows";
import { RESUME_HINT } from "../lib/resumable";
import { PARALLEL_UPLOADS } from "../lib/uploader";
import { JobLink } from "./JobLink";

/** From this many files on, the list folds into one summary line that expands. */
export const BATCH_FOLD_AT = 5;

export interface UploadListProps {
  items: UploadItem[];
  /** Jobs as the jobs list last showed them, by id: an uploaded row follows its job. */
  jobs: ReadonlyMap<string, Job>;
  onCancel: (key: string) => void;
  onDismiss: (key: string) => void;
  /** Convert the row's file again (a new job), with the options chosen now. */
  onRetry: (item: UploadItem) => void;
  onDownload: (job: Job) => void;
}

type RowProps = { item: UploadItem; state: RowState; job: Job | undefined } & Omit<UploadListProps, "items" | "jobs">;

function Name({ item }: { item: UploadItem }) {
  return item.jobId ? <JobLink job={{ job_id: item.jobId, filename: item.fileName }}>{item.fileName}</JobLink> : <span>{item.fileName}</span>;
}

function Outcome({ item, state, job, onRetry, onDownload }: RowProps) {
  switch (state.kind) {
    case "queued":
      return <StatusIndicator type="pending">Uploaded, waiting for conversion</StatusIndicator>;
    case "converting":
      return <StatusIndicator type="in-progress">Converting</StatusIndicator>;
    case "succeeded":
      return (
        <SpaceBetween direction="horizontal" size="xs" alignItems="center">
          <StatusIndicator type="success">Converted</StatusIndicator>
          <Button variant="inline-link" iconName="download" ariaLabel={`Download ${item.fileName}`} onClick={() => job && onDownload(job)}>
            Download
          </Button>
        </SpaceBetween>
      );
    case "failed":
    case "upload-failed":
      return (
        <SpaceBetween size="xxs">
          <StatusIndicator type="error">{state.kind === "failed" ? `Conversion failed: ${state.reason}` : state.reason}</StatusIndicator>
          {item.file?.name.toLowerCase().endsWith(".parquet") && (
            <Button variant="inline-link" ariaLabel={`Convert ${item.fileName} again`} onClick={() => onRetry(item)}>
              Convert again with the options above
            </Button>
          )}
        </SpaceBetween>
      );
    case "cancelled":
      return <StatusIndicator type="stopped">Upload cancelled</StatusIndicator>;
    case "interrupted":
      return <StatusIndicator type="warning">{`Upload interrupted by a reload: ${RESUME_HINT}.`}</StatusIndicator>;
    default:
      return null;
  }
}

function UploadRow(props: RowProps) {
  const { item, state, onCancel, onDismiss } = props;
  const inFlight = state.kind === "creating" || state.kind === "uploading";
  return (
    <li style={{ display: "grid", gridTemplateColumns: "minmax(0, 1fr) auto", gap: 8, alignItems: "start" }}>
      {inFlight ? (
        <ProgressBar
          label={<Name item={item} />}
          value={state.percent}
          description={state.kind === "creating" ? `Starting (${PARALLEL_UPLOADS} files at a time)…` : `${formatBytes(item.loaded)} of ${formatBytes(item.size)}`}
          ariaLabel={`Upload of ${item.fileName}`}
        />
      ) : (
        <SpaceBetween size="xxs">
          <Box fontWeight="bold">
            <Name item={item} />
          </Box>
          <Outcome {...props} />
        </SpaceBetween>
      )}
      {inFlight || state.kind === "interrupted" ? (
        <Button variant="normal" ariaLabel={`Cancel upload of ${item.fileName}`} onClick={() => onCancel(item.key)}>
          Cancel
        </Button>
      ) : (
        <Button
          variant="icon"
          iconName="close"
          ariaLabel={FINISHED_KINDS.has(state.kind) ? `Dismiss ${item.fileName}` : `Stop following ${item.fileName}`}
          onClick={() => onDismiss(item.key)}
        />
      )}
    </li>
  );
}

export function UploadList({ items, jobs, ...actions }: UploadListProps) {
  if (items.length === 0) return null;
  const rows = items.map((item) => {
    const job = item.jobId ? jobs.get(item.jobId) : undefined;
    return { item, job, state: rowState(item, job) };
  });
  const list = (
    <ul aria-label="Uploads" style={{ listStyle: "none", margin: 0, padding: 0, display: "grid", gap: 12 }}>
      {rows.map((row) => (
        <UploadRow key={row.item.key} {...row} {...actions} />
      ))}
    </ul>
  );
  if (items.length < BATCH_FOLD_AT) return <Box>{list}</Box>;
  // Many files: one line says how the batch goes; the rows are one click away.
  return (
    <ExpandableSection headerText={`Uploads: ${batchSummary(rows.map((row) => row.state.kind))}`} variant="footer">
      {list}
    </ExpandableSection>
  );
}
