import { StrictMode } from "react";
import { createRoot } from "react-dom/client";
import "@cloudscape-design/global-styles/index.css";
import { Root, createQueryClient } from "./Root";

createRoot(document.getElementById("root")!).render(
  <StrictMode>
    <main style={{ maxWidth: 1400, margin: "0 auto", padding: "16px clamp(8px, 3vw, 32px)" }}>
      <Root queryClient={createQueryClient()} />
    </main>
  </StrictMode>,
);
