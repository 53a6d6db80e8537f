#!/usr/bin/env node
import { main } from "../dist/main.js";

// `unroll sample ... | head`: a reader that closes the pipe early means "enough", not an error.
process.stdout.on("error", (error) => {
  if (error.code === "EPIPE") process.exit(0);
  throw error;
});

process.exitCode = await main(process.argv.slice(2));
