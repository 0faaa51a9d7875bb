import Link from "@cloudscape-design/components/link";
import type { ReactNode } from "react";
import { useHref, useNavigate } from "react-router";
import type { Job } from "../lib/types";

export const jobPath = (jobId: string) => `/jobs/${encodeURIComponent(jobId)}`;

/** A real link to a job's page (shareable, opens in a new tab), followed in-app on a plain click. */
export function JobLink({ job, children }: { job: Pick<Job, "job_id" | "filename">; children: ReactNode }) {
  const href = useHref(jobPath(job.job_id));
  const navigate = useNavigate();
  return (
    <Link
      href={href}
      ariaLabel={`Details of ${job.filename}`}
      onFollow={(event) => {
        event.preventDefault();
        navigate(jobPath(job.job_id));
      }}
    >
      {children}
    </Link>
  );
}
