// Statistics with disclosure control: queries over the clinical store by up to four dimensions, the
// table with its margins, primary and secondary suppression checked by each suppressed cell's
// feasible bounds, and the refusal of queries that could be differenced. It never returns a cell
// under the threshold, and never imports identity.
export {
  answerQuery,
  checkPublished,
  publishedTable,
  refuseDifferencing,
  type StatsAnswer,
  SUPPRESSED,
  TOTAL_LABEL,
} from './compute.js'
export { type CellBounds, type Disclosure, feasibleBounds, protectTable } from './disclosure.js'
export {
  COHORT_SCHEMA,
  DIMENSIONS,
  type Dimension,
  QUERY_SCHEMA,
  querySha256,
  queryShape,
  type StatsQuery,
} from './query.js'
export { type HierTable, type StatsPerson, TOTAL, tabulate } from './tabulate.js'
