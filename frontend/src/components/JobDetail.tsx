import { useEffect, useRef, type ReactNode } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import CopyToClipboard from "@cloudscape-design/components/copy-to-clipboard";
import ContentLayout from "@cloudscape-design/components/content-layout";
import Header from "@cloudscape-design/components/header";
import KeyValuePairs from "@cloudscape-design/components/key-value-pairs";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Spinner from "@cloudscape-design/components/spinner";
import { useNavigate } from "react-router";
import { useJob, useReport } from "../hooks/useJobs";
import { ApiError } from "../lib/api";
import { convertAgainState } from "../lib/convertAgain";
import { formatBytes, formatCount, formatDateTime, formatDuration } from "../lib/format";
import type { ConvertOptions, GeometryFormat, Job } from "../lib/types";
import { CostSummary } from "./CostSummary";
import { PreviewView } from "./PreviewView";
import { RunChart } from "./RunChart";
import { SchemaTree } from "./SchemaTree";
import { StatusBadge } from "./StatusBadge";

export interface JobDetailProps {
  jobId: string;
  onDownload: (job: Job) => void;
  onDelete: (job: Job) => void;
}

const yesNo = (value: boolean) => (value ? "Yes" : "No");
const GEOMETRY_LABELS: Record<GeometryFormat, string> = { geojson: "GeoJSON", wkt: "WKT", wkb: "WKB (base64)" };

function optionPairs(options: ConvertOptions) {
  return [
    { label: "Format", value: options.format === "jsonl" ? "JSON Lines" : "JSON array" },
    { label: "Compression", value: options.compression === "gzip" ? "gzip" : "None" },
    { label: "Drop null fields", value: yesNo(options.drop_nulls) },
    { label: "Big integers as strings", value: yesNo(options.bigint_as_string) },
    { label: "Decimals as strings", value: yesNo(options.decimal_as_string) },
    { label: "NaN as strings", value: yesNo(options.nan_as_string) },
    { label: "Geometry", value: GEOMETRY_LABELS[options.geometry] },
  ];
}

/** Schema and run chart come from the run report, which exists once the job has SUCCEEDED. */
function ReportSections({ job }: { job: Job }) {
  const report = useReport(job);
  const waiting = (what: string) => <Box color="text-status-inactive">{what} is available once the job has succeeded.</Box>;
  const body = (render: (data: NonNullable<typeof report.data>) => ReactNode, what: string) => {
    if (job.status !== "SUCCEEDED") return waiting(what);
    if (report.isPending)
      return (
        <Box>
          <Spinner /> Loading the run report…
        </Box>
      );
    if (report.isError)
      return (
        <Alert type="warning" header="The run report could not be loaded">
          {report.error.message}
        </Alert>
      );
    return render(report.data);
  };
  return (
    <>
      <Container header={<Header variant="h2" description="The JSON Schema of one output record. Nested fields expand.">Output schema</Header>}>
        {body((data) => <SchemaTree schema={data.json_schema} />, "The schema")}
      </Container>
      <Container header={<Header variant="h2" description="Rows and uncompressed bytes per row group of the input.">Run</Header>}>
        {body((data) => <RunChart report={data} />, "The run summary")}
      </Container>
      <Container
        header={
          <Header variant="h2" description="What the run was charged for, at this deployment's configured prices: an estimate, not an invoice.">
            Cost
          </Header>
        }
      >
        {body((data) => <CostSummary cost={data.cost} />, "The cost")}
      </Container>
    </>
  );
}

/** A job that does not exist (deleted, expired, or a wrong link): say so, and lead back. */
function JobNotFound({ jobId }: { jobId: string }) {
  const navigate = useNavigate();
  return (
    <Container header={<Header variant="h2">This job does not exist</Header>}>
      <SpaceBetween size="m">
        <Box variant="p">
          There is no job <Box variant="code">{jobId}</Box>. It may have been deleted, or the link you followed is wrong or out of date.
        </Box>
        <Button variant="primary" onClick={() => navigate("/")}>
          Go to your jobs
        </Button>
      </SpaceBetween>
    </Container>
  );
}

export function JobDetail({ jobId, onDownload, onDelete }: JobDetailProps) {
  const query = useJob(jobId);
  const navigate = useNavigate();
  const notFound = query.error instanceof ApiError && query.error.status === 404;
  const sectionRef = useRef<HTMLElement>(null);

  // Opening a job moves keyboard and screen-reader focus to its page.
  useEffect(() => {
    sectionRef.current?.focus();
  }, [jobId]);

  const job = query.data;
  return (
    <section aria-label="Job detail" ref={sectionRef} tabIndex={-1} style={{ outline: "none" }}>
      <ContentLayout
        header={
          <Header
            variant="h1"
            description={job ? `Job ${job.job_id}` : undefined}
            actions={
              notFound ? undefined : <SpaceBetween direction="horizontal" size="xs">
                <Button iconName="download" disabled={job?.status !== "SUCCEEDED"} onClick={() => job && onDownload(job)}>
                  Download
                </Button>
                <Button disabled={!job} onClick={() => job && onDelete(job)}>
                  Delete
                </Button>
              </SpaceBetween>
            }
          >
            {job ? job.filename : notFound ? "Job not found" : "Job"}
          </Header>
        }
      >
        {query.isPending && (
          <Box>
            <Spinner /> Loading job…
          </Box>
        )}
        {notFound && <JobNotFound jobId={jobId} />}
        {query.isError && !notFound && (
          <Alert type="error" header="Could not load the job" action={<Button onClick={() => void query.refetch()}>Retry</Button>}>
            {query.error.message}
          </Alert>
        )}
        {job && (
          <SpaceBetween size="l">
            {job.status === "FAILED" && (
              <Alert
                type="error"
                header="Conversion failed"
                action={<Button onClick={() => navigate("/", { state: convertAgainState(job) })}>Convert again…</Button>}
              >
                {job.error?.message ?? "The job failed without a message."}
                {job.error?.code ? (
                  <Box variant="small" display="block">
                    Error code: {job.error.code}
                  </Box>
                ) : null}
              </Alert>
            )}
            <Container header={<Header variant="h2">Summary</Header>}>
              <SpaceBetween size="l">
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
                    { label: "Urgency", value: job.execution_class === "flex" ? "Not urgent (Glue Flex)" : "Standard" },
                    // A SUCCEEDED JSON Lines output is a table of the outputs' catalog database.
                    ...(job.catalog_table
                      ? [
                          {
                            label: "Catalog table",
                            info: <Box variant="small">Query the output with Athena</Box>,
                            value: (
                              <CopyToClipboard
                                variant="inline"
                                textToCopy={job.catalog_table}
                                copyButtonAriaLabel="Copy the catalog table name"
                                copySuccessText="Table name copied"
                                copyErrorText="The table name could not be copied"
                              />
                            ),
                          },
                        ]
                      : []),
                  ]}
                />
                <SpaceBetween size="xs">
                  <Box variant="h3">Options</Box>
                  <KeyValuePairs columns={3} items={optionPairs(job.options)} />
                </SpaceBetween>
              </SpaceBetween>
            </Container>
            {/* A failed job has no output: no schema, run chart or preview will ever come. */}
            {job.status !== "FAILED" && (
              <>
                <ReportSections job={job} />
                <Container header={<Header variant="h2">Preview</Header>}>
                  <PreviewView job={job} />
                </Container>
              </>
            )}
          </SpaceBetween>
        )}
      </ContentLayout>
    </section>
  );
}
