// The small part of dcmjs (which ships no types) that tokumei uses.
declare module 'dcmjs' {
  type Dataset = Record<string, unknown>
  interface DicomDictInstance {
    dict: Record<string, { vr: string; Value: unknown[] }>
    meta: Record<string, { vr: string; Value: unknown[] }>
    write(options?: Record<string, unknown>): ArrayBuffer
  }
  interface DcmjsLogger {
    setLevel(level: 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'silent'): void
  }
  const dcmjs: {
    log: DcmjsLogger & { getLogger(name: string): DcmjsLogger }
    data: {
      DicomDict: new (meta: Record<string, unknown>) => DicomDictInstance
      DicomMessage: { readFile(buffer: ArrayBuffer, options?: Record<string, unknown>): DicomDictInstance }
      DicomMetaDictionary: {
        denaturalizeDataset(dataset: Dataset): Record<string, { vr: string; Value: unknown[] }>
        naturalizeDataset(dict: Record<string, unknown>): Dataset
        /** The data dictionary, keyed by "(gggg,eeee)". */
        dictionary: Record<string, { vr: string; name: string } | undefined>
      }
    }
  }
  export default dcmjs
}
