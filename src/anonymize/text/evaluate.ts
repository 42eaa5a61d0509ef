import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { TokumeiError } from '../../model/index.js'
import { findSpans, type ScrubOptions, type Span } from './scrub.js'

/**
 * The scrubber measured against a synthetic data set's truth: `truth/note-identifiers.jsonl` says
 * where every identifier of every discharge summary stands and what it is. Recall counts the
 * identifiers whose every character was replaced; precision the replaced spans that touch an
 * identifier (a span over words that identify nobody is a false positive: text lost for nothing).
 */
export interface KindFigures {
  readonly identifiers: number
  readonly found: number
  readonly recall: number
}

export interface ScrubEvaluation {
  readonly notes: number
  readonly identifiers: number
  /** Identifiers replaced whole. */
  readonly found: number
  readonly recall: number
  /** Characters of identifiers replaced, of all identifier characters. */
  readonly characterRecall: number
  readonly spans: number
  /** Spans that overlap an identifier. */
  readonly truePositives: number
  readonly precision: number
  readonly byKind: Readonly<Record<string, KindFigures>>
  /** The first few missed identifiers and false spans, by kind and length only (no text). */
  readonly misses: readonly { file: string; kind: string; length: number }[]
  readonly falsePositives: readonly { file: string; kind: string; length: number }[]
}

interface TruthLine {
  readonly file: string
  readonly identifiers: readonly (readonly [number, number, string])[]
}

function readTruth(dir: string): TruthLine[] {
  const path = join(dir, 'truth', 'note-identifiers.jsonl')
  if (!existsSync(path))
    throw new TokumeiError(
      `${path} does not exist: generate the data with \`tokumei synth --formats notes\` (a version that writes it).`,
      { code: 'text.no_truth', kind: 'invalid' },
    )
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter((line) => line.trim() !== '')
    .map((line, n) => {
      try {
        return JSON.parse(line) as TruthLine
      } catch {
        throw new TokumeiError(`${path}, line ${n + 1}: not JSON.`, {
          code: 'text.bad_truth',
          kind: 'invalid',
        })
      }
    })
}

const overlaps = (a: { start: number; end: number }, start: number, end: number) =>
  a.start < end && start < a.end

/** Scrubs every note the truth names and compares. `onNote` reports progress. */
export async function evaluateScrub(
  dir: string,
  options: ScrubOptions & { onNote?: (done: number, total: number) => void } = {},
): Promise<ScrubEvaluation> {
  const truth = readTruth(dir)
  let identifiers = 0
  let found = 0
  let characters = 0
  let covered = 0
  let spans = 0
  let truePositives = 0
  const byKind: Record<string, { identifiers: number; found: number }> = {}
  const misses: { file: string; kind: string; length: number }[] = []
  const falsePositives: { file: string; kind: string; length: number }[] = []
  for (const [n, line] of truth.entries()) {
    const text = readFileSync(join(dir, line.file), 'utf8')
    const spansFound: Span[] = await findSpans(text, options)
    const replaced = new Uint8Array(text.length)
    for (const span of spansFound) replaced.fill(1, span.start, span.end)
    for (const [start, end, kind] of line.identifiers) {
      identifiers++
      const figures = byKind[kind] ?? { identifiers: 0, found: 0 }
      byKind[kind] = figures
      figures.identifiers++
      let hit = 0
      for (let i = start; i < end; i++) hit += replaced[i] as number
      characters += end - start
      covered += hit
      if (hit === end - start) {
        found++
        figures.found++
      } else if (misses.length < 20) misses.push({ file: line.file, kind, length: end - start })
    }
    for (const span of spansFound) {
      spans++
      if (line.identifiers.some(([start, end]) => overlaps(span, start, end))) truePositives++
      else if (falsePositives.length < 20)
        falsePositives.push({ file: line.file, kind: span.kind, length: span.end - span.start })
    }
    options.onNote?.(n + 1, truth.length)
  }
  const ratio = (a: number, b: number) => (b === 0 ? 1 : a / b)
  return {
    notes: truth.length,
    identifiers,
    found,
    recall: ratio(found, identifiers),
    characterRecall: ratio(covered, characters),
    spans,
    truePositives,
    precision: ratio(truePositives, spans),
    byKind: Object.fromEntries(
      Object.entries(byKind).map(([kind, f]) => [kind, { ...f, recall: ratio(f.found, f.identifiers) }]),
    ),
    misses,
    falsePositives,
  }
}
