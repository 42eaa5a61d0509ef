import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { scrubMany } from './parallel.js'
import { loadTokenizer, scrubTextWith } from './scrub.js'

const SURNAMES = ['佐藤', '鈴木', '髙橋', '渡邊', '山﨑']
const GIVEN = ['花子', '太郎', 'さくら', '翔']

/** A short note about one patient, with their name, phone and a date; the patient's own context. */
const note = fc
  .record({
    surname: fc.constantFrom(...SURNAMES),
    given: fc.constantFrom(...GIVEN),
    phone: fc.stringMatching(/^0\d{1,3}-\d{2,4}-\d{4}$/),
    year: fc.integer({ min: 1990, max: 2025 }),
    month: fc.integer({ min: 1, max: 12 }),
    offset: fc.integer({ min: -180, max: 180 }),
  })
  .map((p) => ({
    text: `${p.surname}${p.given}様（電話 ${p.phone}）は${p.year}年${p.month}月3日に東京病院を受診。高血圧にて加療中。`,
    options: {
      patient: { names: [`${p.surname}${p.given}`, p.surname], phones: [p.phone] },
      institutions: ['東京病院'],
      dateOffset: p.offset,
    },
    surname: p.surname,
    phone: p.phone,
  }))

describe('scrubMany', () => {
  it('gives, across worker threads and in order, what one thread gives each text', async () => {
    const items = fc.sample(note, { numRuns: 60, seed: 7 })
    const tokenizer = await loadTokenizer()
    const alone = items.map((i) => scrubTextWith(tokenizer, i.text, i.options))
    const progress: number[] = []
    const shared = await scrubMany(items, {
      threads: 3,
      parallelFrom: 1,
      onProgress: (done, total) => {
        expect(total).toBe(60)
        progress.push(done)
      },
    })
    expect(shared).toEqual(alone)
    expect(progress.at(-1)).toBe(60)
    for (const [i, item] of items.entries()) {
      expect(shared[i]?.text).not.toContain(item.surname)
      expect(shared[i]?.text).not.toContain(item.phone)
      expect(shared[i]?.text).toContain('高血圧')
    }
  }, 60_000)

  it('stays in this thread under its threshold, with the same results', async () => {
    const items = fc.sample(note, { numRuns: 5, seed: 8 })
    const tokenizer = await loadTokenizer()
    expect(await scrubMany(items, { threads: 4 })).toEqual(
      items.map((i) => scrubTextWith(tokenizer, i.text, i.options)),
    )
    expect(await scrubMany([], { threads: 2, parallelFrom: 0 })).toEqual([])
  })
})
