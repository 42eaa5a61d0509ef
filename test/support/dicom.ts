import dcmjs from 'dcmjs'

/** A DICOM dataset as dcmjs holds it: tags (8 hex digits) to VR and values. */
export type DicomDataset = Record<string, { vr: string; Value?: unknown[] }>

const { DicomDict, DicomMessage, DicomMetaDictionary } = dcmjs.data

/**
 * A Part 10 object of the dataset, explicit VR little endian, written by dcmjs; the file meta names
 * the dataset's own SOP class and instance (a CT and a fixed UID when it has none).
 */
export function writeDicom(dataset: DicomDataset, mediaStorageClass?: string): Uint8Array {
  const uid = (tag: string, fallback: string) => String(dataset[tag]?.Value?.[0] ?? fallback)
  const meta = DicomMetaDictionary.denaturalizeDataset({
    FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
    MediaStorageSOPClassUID: mediaStorageClass ?? uid('00080016', '1.2.840.10008.5.1.4.1.1.2'),
    MediaStorageSOPInstanceUID: uid('00080018', '1.2.3.4.5.6.7'),
    TransferSyntaxUID: '1.2.840.10008.1.2.1',
    ImplementationClassUID: '1.2.3.4',
  })
  const dict = new DicomDict(meta)
  dict.dict = dataset as typeof dict.dict
  return new Uint8Array(dict.write())
}

/** The dataset of a Part 10 object, as dcmjs reads it. */
export const readDicom = (bytes: Uint8Array): DicomDataset =>
  DicomMessage.readFile(
    bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) as ArrayBuffer,
  ).dict as DicomDataset
