import js from "@eslint/js";
import tseslint from "typescript-eslint";
import layers from "./eslint/layers.js";

export default tseslint.config(
  { ignores: ["dist/**", "node_modules/**", "coverage/**", ".clawbridge/**"] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_" }],
      "@typescript-eslint/consistent-type-imports": "error",
      "no-console": "off",
    },
  },
  {
    // The layer table of ARCHITECTURE.md "Modules (src/)"; tests, bench and config are free.
    files: ["src/**/*.{ts,mts,cts,js,mjs,cjs}"],
    plugins: { clawbridge: layers },
    rules: { "clawbridge/layers": "error" },
  },
);
