import { defineConfig } from "@playwright/test";
import base from "./playwright.config";

// Browser benchmarks (end2end/bench/): run by hand against a running
// server, `npx playwright test -c bench.config.ts`; the numbers go in
// docs/benchmarks.md.
export default defineConfig({ ...base, testDir: "./bench", timeout: 300_000 });
