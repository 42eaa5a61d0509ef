/**
 * Private attributes kept by name (PS3.15 E.3.10, the Retain Safe Private Option, with the list the
 * operator vouches for): a private attribute is known by its group, its private creator and its
 * offset in the creator's block — (0019,xx0C) of "GEMS_ACQU_01" is (0019,100C) when that creator
 * reserved block 10, (0019,110C) when it reserved 11 (PS3.5 §7.8.1). Everything private not listed
 * is removed, and a creator element is kept only while something of its block is.
 */

export interface PrivateAllowed {
  readonly creator: string
  readonly group: number
  /** The element's offset in its block: the low byte of its element number. */
  readonly offset: number
}

/**
 * Which private tags of one dataset level to keep: given the level's private creators (the values
 * of (gggg,0010)–(gggg,00FF)), a predicate on tags. Creators themselves are kept when any tag of
 * their block is.
 */
export function privateKeeper(
  allowed: readonly PrivateAllowed[] | undefined,
  creators: ReadonlyMap<number, string>,
  present: readonly number[],
): (tag: number) => boolean {
  if (!allowed || allowed.length === 0) return () => false
  const keepData = (tag: number) => {
    const group = tag >>> 16
    const element = tag & 0xffff
    if (element < 0x1000) return false
    const creator = creators.get(((group << 8) | (element >>> 8)) >>> 0)
    return (
      creator !== undefined &&
      allowed.some((a) => a.group === group && a.offset === (element & 0xff) && a.creator === creator)
    )
  }
  const blocks = new Set(
    present.filter(keepData).map((tag) => (((tag >>> 16) << 8) | ((tag & 0xffff) >>> 8)) >>> 0),
  )
  return (tag) => {
    const element = tag & 0xffff
    if (element >= 0x0010 && element <= 0x00ff) return blocks.has((((tag >>> 16) << 8) | element) >>> 0)
    return keepData(tag)
  }
}

/** The creators of a level: block key ((group << 8) | block) to the creator's name. */
export function creatorsOf(
  elements: Iterable<readonly [tag: number, value: string | undefined]>,
): Map<number, string> {
  const out = new Map<number, string>()
  for (const [tag, value] of elements) {
    const group = tag >>> 16
    const element = tag & 0xffff
    if (group % 2 === 1 && element >= 0x0010 && element <= 0x00ff && value !== undefined)
      out.set(((group << 8) | element) >>> 0, value.trim())
  }
  return out
}
