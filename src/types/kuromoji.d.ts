// The part of kuromoji (which ships no types) that tokumei uses.
declare module 'kuromoji' {
  export interface IpadicFeatures {
    surface_form: string
    pos: string
    pos_detail_1: string
    pos_detail_2: string
    pos_detail_3: string
    basic_form: string
    reading?: string
    /** 1-based character position of the token in the text. */
    word_position: number
  }
  export interface Tokenizer {
    tokenize(text: string): IpadicFeatures[]
  }
  interface Builder {
    build(callback: (error: Error | null, tokenizer: Tokenizer) => void): void
  }
  const kuromoji: { builder(options: { dicPath: string }): Builder }
  export default kuromoji
}
