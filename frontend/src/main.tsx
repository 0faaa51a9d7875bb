import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import { HashRouter } from "react-router";
import "@cloudscape-design/global-styles/index.css";
import { Root, createQueryClient } from "./Root";

// A hash router: a job's URL (#/jobs/<id>) is shareable and survives a reload on any static
// host (the local stack, S3/CloudFront) without a server-side fallback to index.html.
createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <HashRouter>
      <Root queryClient={createQueryClient()} />
    </HashRouter>
  </StrictMode>,
);
