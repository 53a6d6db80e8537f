import base from "@unroll/eslint-config";

export default [
  // *.generated.ts is build output (scripts/embed-proto.mjs).
  { ignores: ["**/*.generated.ts"] },
  ...base,
];
