import { useState } from "react";
import Button from "@cloudscape-design/components/button";
import ContentLayout from "@cloudscape-design/components/content-layout";
import Flashbar, { type FlashbarProps } from "@cloudscape-design/components/flashbar";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { DeleteJobModal } from "./components/DeleteJobModal";
import { JobDetail } from "./components/JobDetail";
import { JobsTable } from "./components/JobsTable";
import { UploadPanel } from "./components/UploadPanel";
import { useDownload } from "./hooks/useJobs";
import { startDownload } from "./lib/download";
import type { Job } from "./lib/types";

export interface AppProps {
  user?: string | null;
  onSignOut?: () => void;
}

export function App({ user = null, onSignOut }: AppProps) {
  const [selectedJobId, setSelectedJobId] = useState<string | null>(null);
  const [jobToDelete, setJobToDelete] = useState<Job | null>(null);
  const [notices, setNotices] = useState<FlashbarProps.MessageDefinition[]>([]);
  const download = useDownload();

  const notify = (notice: Omit<FlashbarProps.MessageDefinition, "id" | "dismissible" | "onDismiss">) => {
    const id = `${Date.now()}-${Math.random()}`;
    const dismiss = () => setNotices((current) => current.filter((item) => item.id !== id));
    setNotices((current) => [...current, { ...notice, id, dismissible: true, dismissLabel: "Dismiss message", onDismiss: dismiss }]);
  };

  const onDownload = (job: Job) =>
    download.mutate(job.job_id, {
      onSuccess: (link) => startDownload(link.url, link.filename),
      onError: (error) => notify({ type: "error", header: `Could not download ${job.filename}`, content: error.message }),
    });

  const onDeleted = (jobId: string) => {
    const name = jobToDelete?.filename ?? "The job";
    setJobToDelete(null);
    if (selectedJobId === jobId) setSelectedJobId(null);
    notify({ type: "success", content: `${name} was deleted.` });
  };

  return (
    <ContentLayout
      header={
        <Header
          variant="h1"
          description="Upload Parquet files, follow their conversion and download the JSON."
          actions={
            user && onSignOut ? (
              <SpaceBetween direction="horizontal" size="xs" alignItems="center">
                <span>{user}</span>
                <Button onClick={onSignOut}>Sign out</Button>
              </SpaceBetween>
            ) : undefined
          }
        >
          Parquet to JSON
        </Header>
      }
    >
      <SpaceBetween size="l">
        <div aria-live="polite">
          <Flashbar items={notices} />
        </div>
        <UploadPanel />
        <JobsTable selectedJobId={selectedJobId} onOpen={(job) => setSelectedJobId(job.job_id)} onDownload={onDownload} onDelete={setJobToDelete} />
        {selectedJobId && (
          <JobDetail jobId={selectedJobId} onClose={() => setSelectedJobId(null)} onDownload={onDownload} onDelete={setJobToDelete} />
        )}
      </SpaceBetween>
      <DeleteJobModal job={jobToDelete} onClose={() => setJobToDelete(null)} onDeleted={onDeleted} />
    </ContentLayout>
  );
}
