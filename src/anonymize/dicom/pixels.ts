/**
 * Burned-in text blanked where the operator has said it is (PS3.15 E.3.1, the Clean Pixel Data
 * Option): a rule names the images it applies to (modality, manufacturer, model, SOP class, size)
 * and the rectangles that carry text on them — an ultrasound machine's header band, a secondary
 * capture's patient banner. The rectangles are set to zero in every frame and every sample of
 * native (uncompressed) pixel data; compressed pixel data is not decoded here, so an image a rule
 * applies to but that is compressed is withheld with that reason, as is one no rule covers.
 */

/** A rectangle of the image, in pixels from the top left corner. */
export interface Region {
  readonly x: number
  readonly y: number
  readonly width: number
  readonly height: number
}

/** Where one kind of image carries burned-in text (read and checked by `readBurnedInRules`). */
export interface BurnedInRule {
  readonly name?: string
  readonly match: {
    readonly modality?: string
    readonly manufacturer?: string
    readonly model?: string
    readonly sopClass?: string
    readonly rows?: number
    readonly columns?: number
  }
  readonly regions: readonly Region[]
}

/** What a rule is matched on, as the object says it. */
export interface ImageIdentity {
  readonly modality: string
  readonly manufacturer: string
  readonly model: string
  readonly sopClass: string
  readonly rows: number
  readonly columns: number
}

/**
 * The first rule whose every condition holds: modality and SOP class equal, manufacturer and model
 * contained (case-insensitive: "GE MEDICAL SYSTEMS" matches "ge"), rows and columns equal.
 */
export function matchingRule(
  all: readonly BurnedInRule[] | undefined,
  image: ImageIdentity,
): BurnedInRule | undefined {
  const same = (a: string | undefined, b: string) =>
    a === undefined || a.trim().toUpperCase() === b.toUpperCase()
  const contains = (a: string | undefined, b: string) =>
    a === undefined || b.toUpperCase().includes(a.trim().toUpperCase())
  return all?.find(
    ({ match: m }) =>
      same(m.modality, image.modality) &&
      same(m.sopClass, image.sopClass) &&
      contains(m.manufacturer, image.manufacturer) &&
      contains(m.model, image.model) &&
      (m.rows === undefined || m.rows === image.rows) &&
      (m.columns === undefined || m.columns === image.columns),
  )
}

/** How native pixel data is laid out (PS3.3 C.7.6.3). */
export interface PixelLayout {
  readonly rows: number
  readonly columns: number
  readonly samplesPerPixel: number
  readonly bitsAllocated: number
  /** 0: samples of a pixel together (R G B R G B); 1: one plane per sample. */
  readonly planarConfiguration: number
  readonly frames: number
  readonly photometric: string
}

/** Transfer syntaxes whose pixel data is native: implicit, explicit, big endian, deflated. */
export const NATIVE_SYNTAXES = new Set([
  '1.2.840.10008.1.2',
  '1.2.840.10008.1.2.1',
  '1.2.840.10008.1.2.2',
  '1.2.840.10008.1.2.1.99',
])

/**
 * Zeroes the rectangles, clipped to the image, in every frame and sample of native pixel data, in
 * place. Returns why it cannot, if it cannot (the caller withholds the image). Zero bytes are zero in
 * either byte order, so big-endian data needs nothing more.
 */
export function blankRegions(
  pixels: Uint8Array,
  layout: PixelLayout,
  regions: readonly Region[],
): string | undefined {
  const { rows, columns, samplesPerPixel: samples, bitsAllocated: bits, frames } = layout
  if (rows < 1 || columns < 1) return 'the image has no rows or columns'
  if (bits !== 8 && bits !== 16 && bits !== 32)
    return `pixel data of ${bits} bits allocated cannot be blanked`
  if (/_422|_420/.test(layout.photometric))
    return `subsampled ${layout.photometric} pixel data cannot be blanked`
  const bytes = bits / 8
  const frameBytes = rows * columns * samples * bytes
  if (pixels.length < frameBytes * frames)
    return `the pixel data (${pixels.length} bytes) is shorter than ${frames} frame(s) of ${rows}×${columns}×${samples}×${bytes}`
  const clipped = regions
    .map((r) => ({
      x0: Math.min(r.x, columns),
      y0: Math.min(r.y, rows),
      x1: Math.min(r.x + r.width, columns),
      y1: Math.min(r.y + r.height, rows),
    }))
    .filter((r) => r.x1 > r.x0 && r.y1 > r.y0)
  if (clipped.length === 0) return `the rule's regions lie outside the ${columns}×${rows} image`
  const planar = samples > 1 && layout.planarConfiguration === 1
  for (let frame = 0; frame < frames; frame++) {
    const base = frame * frameBytes
    for (const r of clipped)
      for (let y = r.y0; y < r.y1; y++) {
        if (planar)
          for (let s = 0; s < samples; s++) {
            const start = base + (s * rows * columns + y * columns + r.x0) * bytes
            pixels.fill(0, start, start + (r.x1 - r.x0) * bytes)
          }
        else {
          const start = base + (y * columns + r.x0) * samples * bytes
          pixels.fill(0, start, start + (r.x1 - r.x0) * samples * bytes)
        }
      }
  }
  return undefined
}
