import type dcmjsModule from 'dcmjs'
import type { ClinicalEvent, Person, PersonAtHospital } from '../population.js'
import { Random } from '../random.js'
import type { FileSink } from '../sink.js'

type Dcmjs = typeof dcmjsModule

/**
 * Small DICOM studies (Part 10, explicit VR little endian, UTF-8 text) whose headers carry the
 * patient's identity the way modalities write it: names (alphabetic, kanji, kana), IDs, birth date,
 * sex, institution, physicians, operators, dates, station, serial numbers, UIDs. Some carry a private
 * tag that repeats the patient's name; secondary captures and some ultrasound-like images are marked
 * BurnedInAnnotation YES, their pixels standing for text on the image.
 */
const SOP_CLASSES: Record<string, string> = {
  CT: '1.2.840.10008.5.1.4.1.1.2',
  MR: '1.2.840.10008.5.1.4.1.1.4',
  CR: '1.2.840.10008.5.1.4.1.1.1',
  SC: '1.2.840.10008.5.1.4.1.1.7',
}
const EXPLICIT_VR_LITTLE_ENDIAN = '1.2.840.10008.1.2.1'
const IMPLEMENTATION_UID = '2.25.229064233768372851373536826339931347829'

/** A 2.25 UID (a UUID as a decimal integer) drawn from the generator: reproducible for a seed. */
export function uid(rng: Random): string {
  let value = 0n
  for (let i = 0; i < 4; i++) value = (value << 32n) | BigInt(Math.floor(rng.next() * 2 ** 32))
  return `2.25.${value & ((1n << 122n) - 1n)}`
}

const compact = (iso: string) => iso.replaceAll('-', '')

/** The study an imaging event makes: its UID and size are known without writing it (for FHIR). */
export function studyPlan(seed: string, person: Person, stay: PersonAtHospital, event: ClinicalEvent) {
  const rng = new Random(seed, 'dicom', person.index, stay.hospital.index, event.date)
  const modality = event.imaging ?? 'CR'
  const secondaryCapture = rng.chance(0.1)
  return {
    rng,
    modality,
    secondaryCapture,
    burnedIn: secondaryCapture || rng.chance(0.05),
    privateTag: rng.chance(0.3),
    uid: uid(rng),
    seriesUid: uid(rng),
    instances: modality === 'CR' ? 1 : 2,
  }
}

export function writeDicomStudy(
  dcmjs: Dcmjs,
  sink: FileSink,
  seed: string,
  person: Person,
  stay: PersonAtHospital,
  event: ClinicalEvent,
): { uid: string; instances: number } {
  const plan = studyPlan(seed, person, stay, event)
  const { rng, modality, secondaryCapture, burnedIn, privateTag, instances } = plan
  const studyUid = plan.uid
  const seriesUid = plan.seriesUid
  const id = stay.identity
  const romaji = id.surname === person.visits[0]?.identity.surname ? person.romaji : undefined
  const { DicomDict, DicomMetaDictionary } = dcmjs.data
  const age = Number(event.date.slice(0, 4)) - Number(id.birthDate.slice(0, 4))
  for (let n = 1; n <= instances; n++) {
    const sopClass = SOP_CLASSES[secondaryCapture ? 'SC' : modality] as string
    const sopInstance = uid(rng)
    const size = 16
    const pixels = new Uint16Array(size * size)
    for (let i = 0; i < pixels.length; i++) pixels[i] = burnedIn && i < size * 2 ? 4000 : rng.int(0, 1200)
    const name: Record<string, string> = {
      Ideographic: `${id.surname}^${id.given}`,
      Phonetic: `${id.surnameKana}^${id.givenKana}`,
    }
    if (romaji) name.Alphabetic = `${romaji.surname}^${romaji.given}`
    const dataset: Record<string, unknown> = {
      SpecificCharacterSet: 'ISO_IR 192',
      ImageType: ['ORIGINAL', 'PRIMARY', 'AXIAL'],
      SOPClassUID: sopClass,
      SOPInstanceUID: sopInstance,
      StudyDate: compact(event.date),
      SeriesDate: compact(event.date),
      AcquisitionDate: compact(event.date),
      ContentDate: compact(event.date),
      StudyTime: `${String(rng.int(8, 17)).padStart(2, '0')}${String(rng.int(0, 59)).padStart(2, '0')}00`,
      AccessionNumber: `A${rng.digits(9)}`,
      Modality: secondaryCapture ? 'OT' : modality,
      Manufacturer: rng.pick(['TOKUMEI-SYNTH MEDICAL', 'SYNTHETIC IMAGING']),
      InstitutionName: stay.hospital.name,
      InstitutionAddress: stay.hospital.address,
      ReferringPhysicianName: [{ Ideographic: `${event.physician.kanji}^` }],
      StationName: `${modality}${rng.int(1, 4)}`,
      StudyDescription: `${modality} ${event.diagnoses[0]?.name ?? '検査'}`,
      // What technologists type: the patient's name in a comment (Clean Descriptors must find it).
      ImageComments: `${id.surname}${id.given}様 ${event.diagnoses[0]?.name ?? '検査'} 経過観察`,
      PerformingPhysicianName: [{ Ideographic: `${event.physician.kanji}^` }],
      OperatorsName: [{ Ideographic: `技師^${rng.pick(['一郎', '花子', '健'])}` }],
      PatientName: [name],
      PatientID: stay.localId,
      PatientBirthDate: compact(id.birthDate),
      PatientSex: id.sex,
      PatientAge: `${String(age).padStart(3, '0')}Y`,
      PatientAddress: id.address,
      PatientTelephoneNumbers: id.phone,
      DeviceSerialNumber: rng.digits(8),
      BurnedInAnnotation: burnedIn ? 'YES' : 'NO',
      StudyInstanceUID: studyUid,
      SeriesInstanceUID: seriesUid,
      StudyID: rng.digits(6),
      SeriesNumber: 1,
      InstanceNumber: n,
      SamplesPerPixel: 1,
      PhotometricInterpretation: 'MONOCHROME2',
      Rows: size,
      Columns: size,
      BitsAllocated: 16,
      BitsStored: 12,
      HighBit: 11,
      PixelRepresentation: 0,
      PixelData: [pixels.buffer],
      _vrMap: { PixelData: 'OW' },
    }
    const meta = {
      FileMetaInformationVersion: new Uint8Array([0, 1]).buffer,
      MediaStorageSOPClassUID: sopClass,
      MediaStorageSOPInstanceUID: sopInstance,
      TransferSyntaxUID: EXPLICIT_VR_LITTLE_ENDIAN,
      ImplementationClassUID: IMPLEMENTATION_UID,
      ImplementationVersionName: 'TOKUMEI_SYNTH',
    }
    const dict = new DicomDict(DicomMetaDictionary.denaturalizeDataset(meta))
    dict.dict = DicomMetaDictionary.denaturalizeDataset(dataset)
    if (privateTag) {
      // A vendor's private block that repeats the patient's name: what a careless anonymizer misses.
      dict.dict['00290010'] = { vr: 'LO', Value: ['TOKUMEI SYNTH PRIVATE'] }
      dict.dict['00291010'] = { vr: 'LO', Value: [`${id.surname} ${id.given}`] }
    }
    sink.writeFile(
      `${stay.hospital.code}/dicom/${studyUid}/${seriesUid}/${n}.dcm`,
      new Uint8Array(dict.write()),
    )
  }
  return { uid: studyUid, instances }
}
