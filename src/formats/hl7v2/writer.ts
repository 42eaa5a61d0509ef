/**
 * HL7 v2.5 messages as SS-MIX2 writes them: segments end in CR, fields `|`, components `^`,
 * repetitions `~`, subcomponents `&`, escape `\`. A field value is given as nested arrays:
 * repetitions of components of subcomponents; plain strings are escaped here.
 */
export type Hl7Component = string | readonly string[]
export type Hl7Field =
  | string
  | readonly Hl7Component[]
  | { readonly repeat: ReadonlyArray<readonly Hl7Component[] | string> }
export type Hl7Segment = readonly [string, ...Hl7Field[]]

/** HL7 v2 escape sequences for the delimiter characters (HL7 v2.5 §2.7). */
export function escapeHl7(text: string): string {
  return text.replace(/[\\|^~&\r\n]/g, (c) => {
    switch (c) {
      case '\\':
        return '\\E\\'
      case '|':
        return '\\F\\'
      case '^':
        return '\\S\\'
      case '~':
        return '\\R\\'
      case '&':
        return '\\T\\'
      default:
        return '\\.br\\'
    }
  })
}

function component(value: Hl7Component): string {
  return typeof value === 'string' ? escapeHl7(value) : value.map(escapeHl7).join('&')
}

function components(value: readonly Hl7Component[] | string): string {
  return typeof value === 'string' ? escapeHl7(value) : value.map(component).join('^')
}

function field(value: Hl7Field): string {
  if (typeof value === 'string') return escapeHl7(value)
  if ('repeat' in value) return value.repeat.map(components).join('~')
  return components(value as readonly Hl7Component[])
}

/**
 * One message as text, each segment ended by CR. For MSH the fields start at MSH-3: MSH-1 (`|`) and
 * MSH-2 (`^~\&`) are always written by this function.
 */
export function formatHl7Message(segments: readonly Hl7Segment[]): string {
  return segments
    .map(([name, ...fields]) => {
      if (name === 'MSH') return `MSH|^~\\&|${fields.map(field).join('|')}`
      return [name, ...fields.map(field)].join('|')
    })
    .map((line) => `${line}\r`)
    .join('')
}

/** A segment from the fields it has, by position (1-based); the positions between stay empty. */
export function segmentAt(name: string, fields: Readonly<Record<number, Hl7Field>>): Hl7Segment {
  const last = Math.max(0, ...Object.keys(fields).map(Number))
  return [name, ...Array.from({ length: last }, (_, i) => fields[i + 1] ?? '')]
}
