// Probes of what a trained language model has learnt: number agreement across attractors
// (Linzen et al. 2016).
export {
  agreementItems,
  DEFAULT_AGREEMENT_LEXICON,
  type AgreementItem,
  type AgreementLexicon,
  type AgreementOptions,
  type AttractorKind,
  type GrammaticalNumber,
  type MismatchDesign,
  type NumberPair,
} from "./agreement.js";
export {
  scoreAgreement,
  type AgreementAccuracy,
  type AgreementModel,
  type AgreementReport,
  type AgreementScore,
  type AgreementTokenizer,
  type ScoreAgreementOptions,
} from "./score-agreement.js";
