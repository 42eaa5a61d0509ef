// Electronic claims (.UKE, レセプト電算処理 医科): CP932 records into the canonical model. Pure.
export {
  decodeCp932,
  readUke,
  readUkeBytes,
  UKE_RECORD_IDS,
  type UkeFile,
  type UkeHeader,
  type UkeProblem,
  type UkeReceipt,
} from './reader.js'
