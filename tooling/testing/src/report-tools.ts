// Prints which optional tools this machine has and what each decides; exits 1 when a tool the
// environment requires (UNROLL_REQUIRE_...=1) is missing, so CI stops before the long run.
import { probeTool, TOOLS, type ToolId, toolReport, toolRequired } from "./optional-tools.js";

console.log(toolReport().join("\n"));
const missing = (Object.keys(TOOLS) as ToolId[]).filter((id) => toolRequired(id) && !probeTool(id).found);
if (missing.length) {
  console.error(`error: required but missing: ${missing.map((id) => TOOLS[id].name).join(", ")}`);
  process.exitCode = 1;
}
