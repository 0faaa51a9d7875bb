import { defineConfig } from "vitest/config";
import react from "@vitejs/plugin-react";

export default defineConfig({
  plugins: [react()],
  test: {
    environment: "jsdom",
    setupFiles: ["./src/test/setup.ts"],
    include: ["src/**/*.test.{ts,tsx}"],
    // Cloudscape renders a lot of DOM; jsdom tests need more than the 5 s default on CI.
    testTimeout: 20000,
    css: false,
  },
});
