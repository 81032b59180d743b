import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: [
      "test/unit/**/*.test.ts",
      "test/integration/**/*.test.ts",
      "test/reliability/**/*.test.ts",
      "test/browser/**/*.test.ts",
    ],
    // Integration tests spawn processes and touch real folders; a 2-core machine needs room.
    testTimeout: 60_000,
    hookTimeout: 30_000,
    pool: "forks",
    reporters: process.env.CI ? ["default"] : ["default"],
  },
});
