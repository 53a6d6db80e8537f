export { parseNumericCsv, column, columnIndex, seriesOf } from "./table.js";
export type { NumericTable } from "./table.js";
export { Standardizer } from "./scaler.js";
export type { StandardizerJSON } from "./scaler.js";
export { SequenceForecaster, forecasterGradientFlow } from "./forecaster.js";
export type { SequenceForecasterConfig, ResolvedForecasterConfig, SequenceForecasterParams, ForecastBatch } from "./forecaster.js";
export { chronologicalSplit, forecastWindows, forecastBatch, lastValueForecast, seasonalForecast } from "./windows.js";
export type { Series, ForecastWindow, WindowShape } from "./windows.js";
export { trainForecaster, forecasterDevBatch, prepareForecastData, evaluateForecasts, forecastNext, loadForecaster, forecasterConfigOf } from "./train.js";
export type {
  TrainForecastConfig, ForecasterCheckpointConfig, ForecastScores, ForecastEvaluation, TrainForecastOptions, TrainForecastInfo, TrainForecastResult,
  ForecasterParts, LoadedForecaster, PreparedForecastData,
} from "./train.js";
export { trainWindowClassifier, evaluateWindowClassifier, classifyWindows, loadWindowClassifier, windowConfigOf } from "./window-classifier.js";
export type { TrainWindowClassifierConfig, WindowClassifierResult, WindowEvaluation, WindowClassifierCheckpointConfig, LoadedWindowClassifier } from "./window-classifier.js";
