import base from "@unroll/eslint-config";

export default [
  // assembly/ is AssemblyScript (its types are not TypeScript's); *.generated.ts is build output.
  { ignores: ["assembly/**", "build/**", "**/*.generated.ts"] },
  ...base,
];
