export { gradientFlow, jacobianNorms } from "./gradient-flow.js";
export type { GradientFlowReport, JacobianNormOptions, ProbeOptions } from "./gradient-flow.js";
export { saturation, recurrentSpectralRadii } from "./saturation.js";
export type { SaturationReport } from "./saturation.js";
export { toCSV, seriesRows } from "./report.js";
export type { Row } from "./report.js";
