// Realistic synthetic Japanese multi-hospital data in every intake format, with ground truth.
// Deterministic for a seed; streams person by person. Never reads real patient data.
export {
  generateSyntheticData,
  SYNTH_FORMATS,
  type SynthFormat,
  type SynthOptions,
  type SynthReport,
} from './generate.js'
export { defaultSharedDataDir, loadNameTables, type NameTables } from './names.js'
export { checkDigit, WINDOW_END, WINDOW_START } from './population.js'
