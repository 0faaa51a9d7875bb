// The application shell: Cloudscape's TopNavigation and AppLayout, flash messages in the
// layout's notifications slot, and the pages (jobs, one job) as its content.
import { useState } from "react";
import AppLayout from "@cloudscape-design/components/app-layout";
import BreadcrumbGroup, { type BreadcrumbGroupProps } from "@cloudscape-design/components/breadcrumb-group";
import Flashbar from "@cloudscape-design/components/flashbar";
import TopNavigation, { type TopNavigationProps } from "@cloudscape-design/components/top-navigation";
import { Navigate, Route, Routes, useHref, useLocation, useMatch, useNavigate, useParams } from "react-router";
import { DeleteJobModal } from "./components/DeleteJobModal";
import { JobDetail } from "./components/JobDetail";
import { jobPath } from "./components/JobLink";
import { JobsPage } from "./components/JobsPage";
import { useQueryClient } from "@tanstack/react-query";
import { forgetJob, useDownload, useJob } from "./hooks/useJobs";
import { NotificationsProvider, useNotifications } from "./hooks/notifications";
import { UploadsProvider, useUploads } from "./hooks/uploads";
import { startDownload } from "./lib/download";
import type { Job } from "./lib/types";

export const PRODUCT_NAME = "Parquet to JSON";

export interface AppProps {
  user?: string | null;
  onSignOut?: () => void;
}

export function App(props: AppProps) {
  return (
    <NotificationsProvider>
      {/* Above the routes: uploads go on while the user opens jobs. */}
      <UploadsProvider>
        <Shell {...props} />
      </UploadsProvider>
    </NotificationsProvider>
  );
}

function TopBar({ user, onSignOut }: AppProps) {
  const home = useHref("/");
  const navigate = useNavigate();
  const utilities: TopNavigationProps.Utility[] =
    user && onSignOut
      ? [
          {
            type: "menu-dropdown",
            text: user,
            iconName: "user-profile",
            ariaLabel: `Signed in as ${user}`,
            items: [{ id: "sign-out", text: "Sign out" }],
            onItemClick: ({ detail }) => {
              if (detail.id === "sign-out") onSignOut();
            },
          },
        ]
      : [];
  return (
    <TopNavigation
      identity={{
        href: home,
        title: PRODUCT_NAME,
        onFollow: (event) => {
          event.preventDefault();
          navigate("/");
        },
      }}
      utilities={utilities}
      i18nStrings={{ overflowMenuTriggerText: "More", overflowMenuTitleText: "All", overflowMenuBackIconAriaLabel: "Back", overflowMenuDismissIconAriaLabel: "Close menu" }}
    />
  );
}

/** "Jobs > <file name>": the job's name comes from the job itself (cached by its page). */
function Breadcrumbs() {
  const location = useLocation();
  const navigate = useNavigate();
  const jobId = useMatch("/jobs/:jobId")?.params.jobId;
  const job = useJob(jobId ?? null);
  const home = useHref("/");
  const here = useHref(location.pathname);
  const items: BreadcrumbGroupProps.Item[] = [{ text: "Jobs", href: home }];
  if (jobId) items.push({ text: job.data?.filename ?? "Job", href: here });
  return (
    <BreadcrumbGroup
      items={items}
      ariaLabel="Breadcrumbs"
      expandAriaLabel="Show path"
      onFollow={(event) => {
        event.preventDefault();
        navigate(event.detail.href === home ? "/" : location.pathname);
      }}
    />
  );
}

function Shell({ user = null, onSignOut }: AppProps) {
  const [jobToDelete, setJobToDelete] = useState<Job | null>(null);
  const { items, notify } = useNotifications();
  const download = useDownload();
  const navigate = useNavigate();
  const location = useLocation();
  const queryClient = useQueryClient();
  const uploads = useUploads();

  const onDownload = (job: Job) =>
    download.mutate(job.job_id, {
      // The API names the file (the input's stem plus the output's extension).
      onSuccess: (link) => startDownload(link.url, link.filename),
      onError: (error) => notify({ type: "error", header: `Could not download ${job.filename}`, content: error.message }),
    });

  const onDeleted = (jobId: string) => {
    const name = jobToDelete?.filename ?? "The job";
    setJobToDelete(null);
    if (location.pathname === jobPath(jobId)) navigate("/");
    forgetJob(queryClient, jobId);
    uploads.forgetJob(jobId);
    notify({ type: "success", content: `${name} was deleted.` });
  };

  return (
    <>
      <div id="top-navigation" style={{ position: "sticky", top: 0, zIndex: 1002 }}>
        <TopBar user={user} onSignOut={onSignOut} />
      </div>
      <AppLayout
        headerSelector="#top-navigation"
        navigationHide
        toolsHide
        stickyNotifications
        notifications={<Flashbar items={items} />}
        breadcrumbs={<Breadcrumbs />}
        ariaLabels={{ notifications: "Notifications" }}
        content={
          <Routes>
            <Route path="/" element={<JobsPage onDownload={onDownload} onDelete={setJobToDelete} />} />
            <Route path="/jobs/:jobId" element={<JobRoute onDownload={onDownload} onDelete={setJobToDelete} />} />
            <Route path="*" element={<Navigate to="/" replace />} />
          </Routes>
        }
      />
      <DeleteJobModal job={jobToDelete} onClose={() => setJobToDelete(null)} onDeleted={onDeleted} />
    </>
  );
}

function JobRoute(props: { onDownload: (job: Job) => void; onDelete: (job: Job) => void }) {
  const jobId = useParams().jobId ?? "";
  return <JobDetail key={jobId} jobId={jobId} {...props} />;
}
