// HL7 v2.5 messages (the text inside SS-MIX2 storage). Pure: no I/O.
export { escapeHl7, formatHl7Message, type Hl7Component, type Hl7Field, type Hl7Segment } from './writer.js'
