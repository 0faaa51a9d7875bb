import ContentLayout from "@cloudscape-design/components/content-layout";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import type { Job } from "../lib/types";
import { JobsTable } from "./JobsTable";
import { UploadPanel } from "./UploadPanel";

export interface JobsPageProps {
  onDownload: (job: Job) => void;
  onDelete: (job: Job) => void;
}

export function JobsPage({ onDownload, onDelete }: JobsPageProps) {
  return (
    <ContentLayout
      header={
        <Header variant="h1" description="Upload Parquet files, follow their conversion and download the JSON.">
          Parquet to JSON
        </Header>
      }
    >
      <SpaceBetween size="l">
        <UploadPanel onDownload={onDownload} />
        <JobsTable onDownload={onDownload} onDelete={onDelete} />
      </SpaceBetween>
    </ContentLayout>
  );
}
