import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

// In `npm run dev` the API and the local object store (presigned URLs under /objects) are
// proxied to a running `etl up` (default port 8000) so the
// app keeps using the same relative "/api" base URL as in production.
const apiTarget = process.env.ETL_API_URL ?? "http://127.0.0.1:8000";

export default defineConfig({
  plugins: [react()],
  server: {
    proxy: { "/api": apiTarget, "/objects": apiTarget },
  },
  build: {
    outDir: "dist",
    // Cloudscape is large; split vendor code so the app chunk stays small and cacheable.
    chunkSizeWarningLimit: 2000,
  },
});
