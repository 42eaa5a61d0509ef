// The security core used by every zone: envelope encryption and keyed hashes (crypto/), the
// hash-chained audit log (audit/), key rotation, passwords (auth/). It never logs a key or a plaintext.
export * from './approvals/index.js'
export * from './audit/index.js'
export * from './auth/index.js'
export * from './crypto/index.js'
export { openKeyring, type RotationOptions, type RotationReport, rotateMasterKey } from './key-rotation.js'
export * from './monitor/index.js'
export * from './schedule/index.js'
