// Checks of run settings that the page makes before asking the worker to build a model.
import type { RunSettings } from "./protocol.js";

/** Shortest text the page accepts: enough for a validation split and one probe window. */
export const MIN_TEXT_LENGTH = 400;

/** A message for the page when the settings cannot make a run, else null. */
export function checkSettings(settings: RunSettings, text: string): string | null {
  if ((settings.init === "irnn" || settings.init === "np-rnn") && settings.cell !== "rnn_relu") {
    return `The ${settings.init === "irnn" ? "IRNN" : "np-RNN"} initialiser is meant for a ReLU RNN: choose "RNN (ReLU)" or another initialiser.`;
  }
  if ([...text].length < MIN_TEXT_LENGTH) return `The text is too short: give at least ${MIN_TEXT_LENGTH} characters.`;
  const limits = [
    ["hidden size", settings.hiddenSize, 1024],
    ["number of layers", settings.numLayers, 4],
    ["BPTT window", settings.window, 512],
    ["batch size", settings.batchSize, 256],
    ["embedding size", settings.embeddingSize, 512],
  ] as const;
  for (const [name, value, max] of limits) {
    if (!Number.isInteger(value) || value < 1 || value > max) return `The ${name} must be a whole number from 1 to ${max}.`;
  }
  if (!Number.isInteger(settings.seed) || settings.seed < 0) return "The seed must be a whole number, 0 or more.";
  if (!(settings.lr > 0) || !Number.isFinite(settings.lr)) return "The learning rate must be a positive number.";
  if (settings.clip !== null && !(settings.clip > 0 && Number.isFinite(settings.clip))) return "The clipping threshold must be a positive number (or clipping off).";
  return null;
}
