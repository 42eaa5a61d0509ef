/**
 * The canonical model the readers produce. A `SourceRecord` separates what identifies a person
 * (`PatientIdentity`, which only the identity vault may keep) from the clinical items, which never
 * carry a name, an address, a phone number or a hospital patient ID.
 */
export type Sex = 'M' | 'F' | 'O' | 'U'

export interface PatientIdentity {
  /** The institution's own patient ID (as written). */
  readonly localId: string
  readonly surname?: string
  readonly given?: string
  readonly surnameKana?: string
  readonly givenKana?: string
  /** ISO date, when the source's date is a valid one. */
  readonly birthDate?: string
  readonly sex?: Sex
  readonly postalCode?: string
  readonly address?: string
  readonly phones: readonly string[]
  /** 保険者番号 */
  readonly insurerNumber?: string
  /** 記号 */
  readonly insuredSymbol?: string
  /** 番号 */
  readonly insuredNumber?: string
}

export type ClinicalItem =
  | {
      readonly kind: 'encounter'
      readonly class: 'outpatient' | 'inpatient'
      readonly event: 'visit' | 'admission' | 'discharge' | 'transfer'
      readonly date: string
      readonly department?: string
    }
  | {
      readonly kind: 'condition'
      readonly name: string
      readonly medisCode?: string
      readonly icd10?: string
      readonly receiptCode?: string
      /** 修飾語コード of a claim diagnosis. */
      readonly modifiers?: string
      readonly onset?: string
      readonly recorded?: string
      readonly main: boolean
    }
  | {
      readonly kind: 'medication'
      readonly name: string
      readonly hot9?: string
      readonly receiptCode?: string
      readonly dose?: number
      readonly unit?: string
      readonly route?: string
      readonly days?: number
      readonly usage?: string
      readonly administered: boolean
      readonly injection: boolean
      readonly date?: string
      /** Day of month → count, as claims record it. */
      readonly perDay?: Readonly<Record<number, number>>
    }
  | {
      /** A billed act (診療行為) or material (特定器材) from a claim. */
      readonly kind: 'procedure'
      readonly code: string
      readonly category?: string
      readonly points?: number
      readonly count: number
      readonly month?: string
      readonly perDay?: Readonly<Record<number, number>>
    }
  | {
      readonly kind: 'lab'
      readonly name: string
      readonly jlac10?: string
      readonly value: string
      readonly numeric?: number
      readonly unit?: string
      readonly range?: string
      readonly flag?: string
      readonly date?: string
    }
  | { readonly kind: 'allergy'; readonly name: string; readonly category?: string }
  | {
      /** A clinical document (discharge summary …): its text may name people, so it is stored encrypted. */
      readonly kind: 'document'
      readonly title: string
      readonly date?: string
      readonly contentType: string
      /** The content, base64. */
      readonly data: string
    }
  | { readonly kind: 'order'; readonly code: string; readonly name: string; readonly date?: string }
  | {
      /** One DICOM instance's place in its study; the object itself is kept encrypted, not here. */
      readonly kind: 'imaging'
      /** Absent in some objects (a few of pydicom's test files have none). */
      readonly studyUid?: string
      readonly seriesUid?: string
      readonly sopInstanceUid?: string
      readonly sopClassUid?: string
      readonly modality?: string
      readonly date?: string
      readonly bodyPart?: string
      readonly burnedInAnnotation?: boolean
    }

export interface SourceRecord {
  /** Where it came from: a path below the submission root, never containing personal data we add. */
  readonly source: string
  readonly identity: PatientIdentity
  readonly items: readonly ClinicalItem[]
}
