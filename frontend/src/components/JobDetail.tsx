import { useEffect, useRef } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import { useJob, useReport } from "../hooks/useJobs";
import { formatBytes, formatCount, formatDateTime, formatDuration } from "../lib/format";
import type { ConvertOptions, Job } from "../lib/types";
import { PreviewView } from "./PreviewView";
import { SchemaView } from "./SchemaView";
import { StatusBadge } from "./StatusBadge";

export interface JobDetailProps {
  jobId: string;
  onClose: () => void;
  onDownload: (job: Job) => void;
  onDelete: (job: Job) => void;
}

const yesNo = (value: boolean) => (value ? "Yes" : "No");

function optionPairs(options: ConvertOptions) {
  return [
    { label: "Format", value: options.format === "jsonl" ? "JSON Lines" : "JSON array" },
    { label: "Compression", value: options.compression === "gzip" ? "gzip" : "None" },
    { label: "Drop null fields", value: yesNo(options.drop_nulls) },
    { label: "Big integers as strings", value: yesNo(options.bigint_as_string) },
    { label: "Decimals as strings", value: yesNo(options.decimal_as_string) },
    { label: "NaN as strings", value: yesNo(options.nan_as_string) },
  ];
}

export function JobDetail({ jobId, onClose, onDownload, onDelete }: JobDetailProps) {
  const query = useJob(jobId);
  const sectionRef = useRef<HTMLElement>(null);

  // Opening a job moves keyboard and screen-reader focus to its panel.
  useEffect(() => {
    sectionRef.current?.focus();
  }, [jobId]);

  const job = query.data;
  const report = useReport(job);
  return (
    <section aria-label="Job detail" ref={sectionRef} tabIndex={-1} style={{ outline: "none" }}>
      <Container
        header={
          <Header
              variant="h2"
              description={job ? `Job ${job.job_id}` : undefined}
              actions={
                <SpaceBetween direction="horizontal" size="xs">
                  <Button iconName="download" disabled={job?.status !== "SUCCEEDED"} onClick={() => job && onDownload(job)}>
                    Download
                  </Button>
                  <Button disabled={!job} onClick={() => job && onDelete(job)}>
                    Delete
                  </Button>
                  <Button variant="icon" iconName="close" ariaLabel="Close job detail" onClick={onClose} />
                </SpaceBetween>
              }
            >
              {job ? job.filename : "Job"}
            </Header>
        }
      >
        {query.isPending && (
          <Box>
            <Spinner /> Loading job…
          </Box>
        )}
        {query.isError && (
          <Alert type="error" header="Could not load the job">
            {query.error.message}
          </Alert>
        )}
        {job && (
          <SpaceBetween size="l">
            {job.status === "FAILED" && (
              <Alert type="error" header="Conversion failed">
                {job.error?.message ?? "The job failed without a message."}
                {job.error?.code ? (
                  <Box variant="small" display="block">
                    Error code: {job.error.code}
                  </Box>
                ) : null}
              </Alert>
            )}
            <KeyValuePairs
              columns={4}
              items={[
                { label: "Status", value: <StatusBadge status={job.status} /> },
                { label: "Created", value: formatDateTime(job.created_at) },
                { label: "Updated", value: formatDateTime(job.updated_at) },
                { label: "Duration", value: formatDuration(job.duration_ms) },
                { label: "Input size", value: formatBytes(job.input_bytes) },
                { label: "Output size", value: formatBytes(job.output_bytes) },
                { label: "Rows in", value: formatCount(job.rows_in) },
                { label: "Rows out", value: formatCount(job.rows_out) },
              ]}
            />
            <SpaceBetween size="xs">
              <Box variant="h3">Options</Box>
              <KeyValuePairs columns={3} items={optionPairs(job.options)} />
            </SpaceBetween>
            <SpaceBetween size="xs">
              <Box variant="h3">Output schema</Box>
              <SchemaView schema={report.data?.json_schema} />
            </SpaceBetween>
            <SpaceBetween size="xs">
              <Box variant="h3">Preview</Box>
              <PreviewView job={job} />
            </SpaceBetween>
          </SpaceBetween>
        )}
      </Container>
    </section>
  );
}
