import { useMemo, useState } from "react";
import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import FileDropzone from "@cloudscape-design/components/file-dropzone";
import FileInput from "@cloudscape-design/components/file-input";
import FormField from "@cloudscape-design/components/form-field";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import Toggle from "@cloudscape-design/components/toggle";
import { useLocation, useNavigate } from "react-router";
import { useJobs } from "../hooks/useJobs";
import { useNarrow } from "../hooks/useMediaQuery";
import { isInFlight, useUploads } from "../hooks/uploads";
import { readConvertAgain } from "../lib/convertAgain";
import { DEFAULT_OPTIONS, type ConvertOptions, type ExecutionClass, type Job } from "../lib/types";
import { PAGE_SIZE } from "./JobsTable";
import { OptionsForm } from "./OptionsForm";
import { UploadList } from "./UploadList";

export interface UploadPanelProps {
  onDownload: (job: Job) => void;
}

export function UploadPanel({ onDownload }: UploadPanelProps) {
  const location = useLocation();
  const navigate = useNavigate();
  const again = readConvertAgain(location.state);
  const [options, setOptions] = useState<ConvertOptions>(again?.options ?? DEFAULT_OPTIONS);
  const [executionClass, setExecutionClass] = useState<ExecutionClass>("standard");
  const narrow = useNarrow();
  // On a phone the options fold away so "Choose files" is on the first screen; they open by
  // themselves when a failed job is to be converted again with other options.
  const [optionsOpen, setOptionsOpen] = useState<boolean | null>(again ? true : null);
  // Asked to convert another job again while this panel is shown: take that job's options.
  const [againShown, setAgainShown] = useState(again?.jobId ?? null);
  if ((again?.jobId ?? null) !== againShown) {
    setAgainShown(again?.jobId ?? null);
    if (again) {
      setOptions(again.options);
      setOptionsOpen(true);
    }
  }
  const uploads = useUploads();
  // The same query (and so the same requests) as the first page of the jobs table.
  const jobsPage = useJobs(null, PAGE_SIZE);
  const jobs = useMemo(() => new Map((jobsPage.data?.jobs ?? []).map((job) => [job.job_id, job])), [jobsPage.data]);

  const doneWithAgain = () => navigate(".", { replace: true, state: null });
  const addFiles = (files: File[]) => {
    if (files.length === 0) return;
    uploads.start(files, options, executionClass);
    if (again) doneWithAgain();
  };
  const heldFile = again ? uploads.fileOf(again.jobId) : null;
  const hasFinished = uploads.items.some((item) => !isInFlight(item));

  return (
    <Container
      header={
        <Header
          variant="h2"
          description="Each file becomes a conversion job. Options apply to the files you add next."
          actions={hasFinished ? <Button onClick={uploads.clearFinished}>Clear finished</Button> : undefined}
        >
          Convert Parquet files
        </Header>
      }
    >
      <SpaceBetween size="l">
        {again && (
          <Alert
            type="info"
            header={`Convert ${again.filename} again`}
            dismissible
            onDismiss={doneWithAgain}
            action={
              heldFile ? (
                <Button onClick={() => addFiles([heldFile])}>Convert again</Button>
              ) : undefined
            }
          >
            {heldFile
              ? "The options of the failed job are selected below: change them if you like, then convert again. The failed job stays in the list until you delete it."
              : `This page no longer holds ${again.filename} (it was reloaded, or the file was added in another tab), so choose the file again below. The options of the failed job are selected: change them if you like first.`}
          </Alert>
        )}
        <ExpandableSection
          headerText="Conversion options"
          variant="footer"
          expanded={optionsOpen ?? !narrow}
          onChange={({ detail }) => setOptionsOpen(detail.expanded)}
        >
          <SpaceBetween size="l">
            <OptionsForm value={options} onChange={setOptions} />
            <FormField
              label="Urgency"
              description="Large files are converted on Spark (AWS Glue); small ones at once, whatever is chosen here."
            >
              <Toggle
                checked={executionClass === "flex"}
                onChange={({ detail }) => setExecutionClass(detail.checked ? "flex" : "standard")}
                description="Glue runs it on spare capacity at a lower price; it may start later and take longer."
              >
                Not urgent (Glue Flex)
              </Toggle>
            </FormField>
          </SpaceBetween>
        </ExpandableSection>
        <FileDropzone onChange={({ detail }) => addFiles(detail.value)}>
          <SpaceBetween size="xs" alignItems="center">
            <Box color="inherit">Drop .parquet files here, or</Box>
            {/* value stays empty: picked files are handed to the upload list at once. */}
            <FileInput multiple accept=".parquet" value={[]} ariaLabel="Choose Parquet files" onChange={({ detail }) => addFiles(detail.value)}>
              Choose files
            </FileInput>
          </SpaceBetween>
        </FileDropzone>
        <UploadList
          items={uploads.items}
          jobs={jobs}
          onCancel={uploads.cancel}
          onDismiss={uploads.dismiss}
          onRetry={(item) => {
            if (!item.file) return;
            uploads.dismiss(item.key);
            uploads.start([item.file], options, executionClass);
          }}
          onDownload={onDownload}
        />
      </SpaceBetween>
    </Container>
  );
}
