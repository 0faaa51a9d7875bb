import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import ProgressBar from "@cloudscape-design/components/progress-bar";
import type { UploadItem } from "../hooks/useUploads";
import { formatBytes } from "../lib/format";

export interface UploadListProps {
  items: UploadItem[];
  onCancel: (key: string) => void;
  onDismiss: (key: string) => void;
}

function percent(item: UploadItem): number {
  if (item.phase === "done") return 100;
  return item.size > 0 ? Math.min(100, Math.round((item.loaded / item.size) * 100)) : 0;
}

function UploadRow({ item, onCancel, onDismiss }: { item: UploadItem } & Omit<UploadListProps, "items">) {
  const active = item.phase === "creating" || item.phase === "uploading";
  const status = item.phase === "error" || item.phase === "cancelled" ? "error" : item.phase === "done" ? "success" : "in-progress";
  const resultText =
    item.phase === "error" ? (item.error ?? "Upload failed") : item.phase === "cancelled" ? "Upload cancelled" : "Uploaded — conversion queued";
  const description =
    item.phase === "creating"
      ? "Creating the job…"
      : `${formatBytes(item.phase === "done" ? item.size : item.loaded)} of ${formatBytes(item.size)}`;
  return (
    <li style={{ display: "grid", gridTemplateColumns: "minmax(0, 1fr) auto", gap: 8, alignItems: "start" }}>
        <div>
          <ProgressBar
            label={item.fileName}
            value={percent(item)}
            description={description}
            status={status}
            resultText={resultText}
            ariaLabel={`Upload of ${item.fileName}`}
          />
        </div>
        {active ? (
          <Button variant="normal" ariaLabel={`Cancel upload of ${item.fileName}`} onClick={() => onCancel(item.key)}>
            Cancel
          </Button>
        ) : (
          <Button variant="icon" iconName="close" ariaLabel={`Dismiss ${item.fileName}`} onClick={() => onDismiss(item.key)} />
        )}
    </li>
  );
}

export function UploadList({ items, onCancel, onDismiss }: UploadListProps) {
  if (items.length === 0) return null;
  return (
    <Box>
      <ul aria-label="Uploads" style={{ listStyle: "none", margin: 0, padding: 0, display: "grid", gap: 12 }}>
        {items.map((item) => (
          <UploadRow key={item.key} item={item} onCancel={onCancel} onDismiss={onDismiss} />
        ))}
      </ul>
    </Box>
  );
}
