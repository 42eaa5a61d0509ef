// HL7 v2.5 messages (the text inside SS-MIX2 storage). Pure: no I/O.

export {
  type Hl7Delimiters,
  type Hl7Message,
  type Hl7ParsedField,
  type Hl7ParsedSegment,
  Hl7ParseError,
  hl7Repetitions,
  hl7Value,
  parseHl7,
} from './parser.js'
export {
  escapeHl7,
  formatHl7Message,
  type Hl7Component,
  type Hl7Field,
  type Hl7Segment,
  segmentAt,
} from './writer.js'
