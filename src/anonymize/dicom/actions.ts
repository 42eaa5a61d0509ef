/**
 * The actions and options of DICOM PS3.15 Annex E (E.1.1, E.3). Combined actions (X/Z, X/D …) leave
 * the choice to the attribute's type in its IOD; without the IOD at hand we take the one that keeps
 * a conformant object and reveals least: Z for X/Z (a Type 2 attribute must stay, empty), D where D
 * is offered, U for X/Z/U* (a sequence of references whose UIDs are replaced).
 */
export type ProfileAction = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U' | 'X/Z' | 'X/D' | 'X/Z/D' | 'Z/D' | 'X/Z/U*'

export type Action = 'D' | 'Z' | 'X' | 'K' | 'C' | 'U'

export const DICOM_OPTIONS = [
  'retain-safe-private',
  'retain-uids',
  'retain-device-identity',
  'retain-institution-identity',
  'retain-patient-characteristics',
  'retain-long-full-dates',
  'retain-long-modified-dates',
  'clean-descriptors',
  'clean-structured-content',
  'clean-graphics',
] as const

export type DicomOption = (typeof DICOM_OPTIONS)[number]

export function resolveAction(action: ProfileAction): Action {
  switch (action) {
    case 'X/Z':
      return 'Z'
    case 'X/D':
    case 'X/Z/D':
    case 'Z/D':
      return 'D'
    case 'X/Z/U*':
      return 'U'
    default:
      return action
  }
}
