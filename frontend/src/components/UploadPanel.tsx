import { useState } from "react";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Container from "@cloudscape-design/components/container";
import ExpandableSection from "@cloudscape-design/components/expandable-section";
import FileDropzone from "@cloudscape-design/components/file-dropzone";
import FileInput from "@cloudscape-design/components/file-input";
import Header from "@cloudscape-design/components/header";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { useUploads } from "../hooks/useUploads";
import { DEFAULT_OPTIONS, type ConvertOptions } from "../lib/types";
import { OptionsForm } from "./OptionsForm";
import { UploadList } from "./UploadList";

export function UploadPanel() {
  const [options, setOptions] = useState<ConvertOptions>(DEFAULT_OPTIONS);
  const uploads = useUploads();
  const addFiles = (files: File[]) => {
    if (files.length > 0) void uploads.start(files, options);
  };
  const hasFinished = uploads.items.some((item) => item.phase !== "creating" && item.phase !== "uploading");

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
        <ExpandableSection headerText="Conversion options" defaultExpanded variant="footer">
          <OptionsForm value={options} onChange={setOptions} />
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
        <UploadList items={uploads.items} onCancel={uploads.cancel} onDismiss={uploads.dismiss} />
      </SpaceBetween>
    </Container>
  );
}
