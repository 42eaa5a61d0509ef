import {
  type Hierarchy,
  hierarchyFromPlain,
  type PlainHierarchy,
  plainHierarchy,
} from '../hierarchy/hierarchy.js'
import {
  failingRecords,
  type HierarchicalScratch,
  hierarchicalScratch,
  type PrivacyModel,
  type SensitiveModel,
} from '../model/privacy.js'
import { type Classes, type FusedColumns, rollUp } from './classes.js'
import { createMetric, type Metric, type MetricContext, type MetricName } from './metric.js'

/**
 * Checking one node: its classes, whether the records of the classes that fail the model stay within
 * the suppression limit, and if so the metric's value. The same code runs in the search's thread and
 * in its worker threads (`check-worker.ts`), from a context that crosses threads as plain data.
 */
export type CheckOutcome =
  | { readonly passed: false }
  | { readonly passed: true; readonly value: number; readonly suppressed: number }

export interface CheckContext {
  readonly base: Classes
  readonly fused: FusedColumns
  readonly hierarchies: readonly Hierarchy[]
  readonly model: PrivacyModel
  readonly metric: Metric
  readonly sensitiveValues: readonly number[]
  readonly maxSuppressed: number
  /** A node with more classes than this fails (see `search.ts`). */
  readonly maxClasses: number
  readonly scratch: ReadonlyArray<HierarchicalScratch | undefined>
}

/** The verdict on classes (undefined: the grouping stopped, too many classes to pass). */
export function judge(context: CheckContext, classes: Classes | undefined): CheckOutcome {
  if (!classes) return { passed: false }
  const failing = new Uint8Array(classes.size)
  const suppressed = failingRecords(classes, context.model, failing, context.scratch)
  if (suppressed > context.maxSuppressed) return { passed: false }
  return { passed: true, value: context.metric.value(classes, failing), suppressed }
}

/** A node checked from the distinct tuples (what a worker does). */
export function checkFromBase(context: CheckContext, levels: readonly number[]): CheckOutcome {
  const rolled = rollUp(
    context.base,
    levels,
    context.hierarchies,
    context.sensitiveValues,
    context.maxClasses,
    context.fused,
  )
  return judge(context, rolled?.classes)
}

/** The check context as plain data, for a worker. */
export interface PlainCheckContext {
  readonly base: Omit<Classes, 'levels'> & { readonly levels: readonly number[] }
  readonly fused: FusedColumns
  readonly hierarchies: readonly PlainHierarchy[]
  readonly model: {
    readonly k: number
    readonly sensitive: ReadonlyArray<
      Omit<SensitiveModel, 'hierarchy'> & { readonly hierarchy?: PlainHierarchy }
    >
  }
  readonly metric: MetricName
  readonly metricContext: Omit<MetricContext, 'hierarchies'>
  readonly sensitiveValues: readonly number[]
  readonly maxSuppressed: number
  readonly maxClasses: number
}

export function plainContext(
  context: CheckContext,
  metric: MetricName,
  metricContext: MetricContext,
): PlainCheckContext {
  const { levels, size, columns, counts, sensitive } = context.base
  return {
    base: { levels, size, columns, counts, sensitive },
    fused: context.fused,
    hierarchies: context.hierarchies.map(plainHierarchy),
    model: {
      k: context.model.k,
      sensitive: context.model.sensitive.map((s) => ({
        ...s,
        hierarchy: s.hierarchy ? plainHierarchy(s.hierarchy) : undefined,
      })),
    },
    metric,
    metricContext: {
      rows: metricContext.rows,
      frequencies: metricContext.frequencies,
      distinctTuples: metricContext.distinctTuples,
      k: metricContext.k,
    },
    sensitiveValues: context.sensitiveValues,
    maxSuppressed: context.maxSuppressed,
    maxClasses: context.maxClasses,
  }
}

export function contextFromPlain(plain: PlainCheckContext): CheckContext {
  const hierarchies = plain.hierarchies.map(hierarchyFromPlain)
  const model: PrivacyModel = {
    k: plain.model.k,
    sensitive: plain.model.sensitive.map((s) => ({
      ...s,
      hierarchy: s.hierarchy ? hierarchyFromPlain(s.hierarchy) : undefined,
    })),
  }
  return {
    base: plain.base,
    fused: plain.fused,
    hierarchies,
    model,
    metric: createMetric(plain.metric, { ...plain.metricContext, hierarchies }),
    sensitiveValues: plain.sensitiveValues,
    maxSuppressed: plain.maxSuppressed,
    maxClasses: plain.maxClasses,
    scratch: model.sensitive.map((s) =>
      s.closeness?.distance === 'hierarchical' && s.hierarchy ? hierarchicalScratch(s.hierarchy) : undefined,
    ),
  }
}
