import Alert from "@cloudscape-design/components/alert";
import Box from "@cloudscape-design/components/box";
import Button from "@cloudscape-design/components/button";
import Modal from "@cloudscape-design/components/modal";
import SpaceBetween from "@cloudscape-design/components/space-between";
import { useDeleteJob } from "../hooks/useJobs";
import type { Job } from "../lib/types";

export interface DeleteJobModalProps {
  job: Job | null;
  onClose: () => void;
  onDeleted: (jobId: string) => void;
}

// Mounted only while a job is chosen, so each opening starts with a fresh mutation state and
// assistive technologies never find a hidden dialog in the page.
export function DeleteJobModal(props: DeleteJobModalProps) {
  return props.job ? <DeleteJobDialog {...props} job={props.job} /> : null;
}

function DeleteJobDialog({ job, onClose, onDeleted }: DeleteJobModalProps & { job: Job }) {
  const deletion = useDeleteJob();
  const close = () => {
    deletion.reset();
    onClose();
  };
  const confirm = () => {
    deletion.mutate(job.job_id, {
      onSuccess: () => {
        deletion.reset();
        onDeleted(job.job_id);
      },
    });
  };
  return (
    <Modal
      visible
      onDismiss={close}
      header="Delete job"
      closeAriaLabel="Close dialog"
      footer={
        <Box float="right">
          <SpaceBetween direction="horizontal" size="xs">
            <Button variant="link" onClick={close}>
              Cancel
            </Button>
            <Button variant="primary" loading={deletion.isPending} onClick={confirm}>
              Delete
            </Button>
          </SpaceBetween>
        </Box>
      }
    >
      <SpaceBetween size="m">
        <Box>
          Delete the job for <b>{job.filename}</b>? Its uploaded file and its result are removed for good.
        </Box>
        {deletion.isError && <Alert type="error" header="Could not delete the job">{deletion.error.message}</Alert>}
      </SpaceBetween>
    </Modal>
  );
}
