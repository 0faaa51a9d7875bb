import { useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Cards from "@cloudscape-design/components/cards";
import Header from "@cloudscape-design/components/header";
import Pagination from "@cloudscape-design/components/pagination";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Table, { type TableProps } from "@cloudscape-design/components/table";
import { useNavigate } from "react-router";
import { useJobs } from "../hooks/useJobs";
import { useNarrow } from "../hooks/useMediaQuery";
import { convertAgainState } from "../lib/convertAgain";
import { formatBytes, formatCount, formatDateTime, formatDuration } from "../lib/format";
import { isActive, type Job } from "../lib/types";
import { JobLink } from "./JobLink";
import { StatusBadge } from "./StatusBadge";

export const PAGE_SIZE = 20;

export interface JobsTableProps {
  onDownload: (job: Job) => void;
  onDelete: (job: Job) => void;
  pageSize?: number;
}

function rows(job: Job): number | null {
  return job.rows_out ?? job.rows_in;
}

/** Why a job is where it is, when that needs saying: a failure's reason, a file not arrived. */
export function jobNote(job: Job): string {
  if (job.status === "FAILED") return job.error?.message ?? "The conversion failed without a message.";
  if (job.status === "PENDING") return "Waiting for its file to be uploaded.";
  return "";
}

function JobActions({ job, onDownload, onDelete }: { job: Job } & Pick<JobsTableProps, "onDownload" | "onDelete">) {
  const navigate = useNavigate();
  return (
    <SpaceBetween direction="horizontal" size="xxs">
      {job.status === "FAILED" ? (
        <Button variant="inline-icon" iconName="refresh" ariaLabel={`Convert ${job.filename} again`} onClick={() => navigate("/", { state: convertAgainState(job) })} />
      ) : (
        <Button variant="inline-icon" iconName="download" ariaLabel={`Download ${job.filename}`} disabled={job.status !== "SUCCEEDED"} onClick={() => onDownload(job)} />
      )}
      <Button variant="inline-icon" iconName="remove" ariaLabel={`Delete ${job.filename}`} onClick={() => onDelete(job)} />
    </SpaceBetween>
  );
}

export function JobsTable({ onDownload, onDelete, pageSize = PAGE_SIZE }: JobsTableProps) {
  // The API pages with opaque tokens: remember the token that opens each page seen so far,
  // so "previous" works without the API supporting backwards paging.
  const [tokens, setTokens] = useState<(string | null)[]>([null]);
  const [pageIndex, setPageIndex] = useState(0);
  const query = useJobs(tokens[pageIndex] ?? null, pageSize);
  const jobs = query.data?.jobs ?? [];
  const nextToken = query.data?.next_token ?? null;
  const anyActive = jobs.some(isActive);
  const narrow = useNarrow();

  const goToPage = (index: number) => {
    if (index === tokens.length) {
      if (!nextToken) return;
      setTokens([...tokens, nextToken]);
    }
    setPageIndex(index);
  };

  const columns: TableProps.ColumnDefinition<Job>[] = [
    { id: "status", header: "Status", cell: (job) => <StatusBadge status={job.status} />, minWidth: 130 },
    {
      id: "filename",
      header: "File",
      cell: (job) => <JobLink job={job}>{job.filename}</JobLink>,
      isRowHeader: true,
    },
    { id: "size", header: "Size", cell: (job) => formatBytes(job.input_bytes) },
    { id: "rows", header: "Rows", cell: (job) => formatCount(rows(job)) },
    { id: "duration", header: "Duration", cell: (job) => formatDuration(job.duration_ms) },
    { id: "created", header: "Created", cell: (job) => <time dateTime={job.created_at}>{formatDateTime(job.created_at)}</time> },
    { id: "note", header: "Details", cell: (job) => jobNote(job), maxWidth: 420 },
    { id: "actions", header: "Actions", cell: (job) => <JobActions job={job} onDownload={onDownload} onDelete={onDelete} /> },
  ];

  const empty = (
    <Box textAlign="center" color="inherit" padding="m">
      <b>No jobs yet</b>
      <Box variant="p" color="inherit">
        Add a Parquet file above to start a conversion.
      </Box>
    </Box>
  );
  const header = (
    <Header
      variant="h2"
      description={anyActive ? "Updating automatically while jobs are in progress." : "Newest first."}
      actions={<Button iconName="refresh" ariaLabel="Refresh jobs" loading={query.isFetching && !query.isPending} onClick={() => void query.refetch()} />}
    >
      Jobs
    </Header>
  );
  const pagination = (
    <Pagination
      currentPageIndex={pageIndex + 1}
      pagesCount={tokens.length}
      openEnd={nextToken !== null && pageIndex === tokens.length - 1}
      onChange={({ detail }) => goToPage(detail.currentPageIndex - 1)}
      ariaLabels={{ nextPageLabel: "Next page", previousPageLabel: "Previous page", pageLabel: (n) => `Page ${n}` }}
    />
  );

  return (
    <SpaceBetween size="s">
      {query.isError && (
        <Alert
          type="error"
          header="Could not load the jobs"
          action={<Button onClick={() => void query.refetch()}>Retry</Button>}
        >
          {query.error.message}
        </Alert>
      )}
      {narrow ? (
        // A phone: one card per job, read top to bottom, instead of a table scrolling sideways.
        <Cards<Job>
          variant="container"
          items={jobs}
          trackBy="job_id"
          loading={query.isPending}
          loadingText="Loading jobs"
          ariaLabels={{ cardsLabel: "Jobs", itemSelectionLabel: (_, job) => job.filename, selectionGroupLabel: "Jobs" }}
          cardDefinition={{
            header: (job) => <JobLink job={job}>{job.filename}</JobLink>,
            sections: [
              {
                id: "status",
                content: (job) => (
                  <SpaceBetween size="xxs">
                    <StatusBadge status={job.status} />
                    {jobNote(job) && <Box variant="small">{jobNote(job)}</Box>}
                  </SpaceBetween>
                ),
              },
              {
                id: "facts",
                content: (job) =>
                  `${formatBytes(job.input_bytes)} · ${formatCount(rows(job))} rows · ${formatDuration(job.duration_ms)} · ${formatDateTime(job.created_at)}`,
              },
              { id: "actions", content: (job) => <JobActions job={job} onDownload={onDownload} onDelete={onDelete} /> },
            ],
          }}
          empty={empty}
          header={header}
          pagination={pagination}
        />
      ) : (
        <Table<Job>
          variant="container"
          items={jobs}
          trackBy="job_id"
          columnDefinitions={columns}
          loading={query.isPending}
          loadingText="Loading jobs"
          wrapLines={false}
          ariaLabels={{ tableLabel: "Jobs" }}
          empty={empty}
          header={header}
          pagination={pagination}
        />
      )}
    </SpaceBetween>
  );
}
