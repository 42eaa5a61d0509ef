// The composition of configuration, database, keyring and audit that commands and servers run on.
// Holds no domain rule; it only wires the modules together.
export { type InitOptions, type InitReport, initialize } from './initialize.js'
export {
  databaseOptionsFor,
  type OpenRuntimeOptions,
  openRuntime,
  operatorActor,
  type Runtime,
} from './runtime.js'
export {
  authContext,
  builtinHandlers,
  coreIntakeContext,
  createWorker,
  deliveryContext,
  monitorContext,
  receiveContext,
  releaseBuildContext,
  runJobNow,
} from './workers.js'
