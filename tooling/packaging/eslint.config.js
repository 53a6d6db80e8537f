import base from "@unroll/eslint-config";

export default [
  ...base,
  // The fixtures are what a user writes in a fresh project: plain JavaScript run by Node, and a
  // TypeScript file type-checked there (against the installed packages, not this workspace).
  { ignores: ["fixtures/check.ts"] },
  { files: ["fixtures/**/*.mjs"], languageOptions: { globals: { console: "readonly" } } },
];
