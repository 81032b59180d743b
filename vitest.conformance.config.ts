import { defineConfig } from "vitest/config";

// The conformance suite against the real openclaw (Node 24): run by .ci/run, not by `npm test`.
export default defineConfig({
  test: {
    include: ["test/conformance/**/*.test.ts"],
    testTimeout: 180_000,
    hookTimeout: 180_000,
    pool: "forks",
    fileParallelism: false,
  },
});
