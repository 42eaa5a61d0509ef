// Envelope encryption and keyed hashes. The key-encryption key stays on the host (file or
// environment); the database holds only wrapped data keys. Nothing here logs a key or a plaintext.
export { type CipherContext, ed25519FromSeed, type SigningKeyPair } from './envelope.js'
export {
  addDataKeyVersions,
  DATA_KEY_PURPOSES,
  ENCRYPTION_PURPOSES,
  type EncryptionPurpose,
  ensureDataKeys,
  Keyring,
  loadKeyring,
  ROOT_PURPOSES,
  rewrapDataKeys,
} from './keyring.js'
export {
  generateMasterKey,
  KEY_BYTES,
  type MasterKey,
  type MasterKeySettings,
  masterKeyId,
  readMasterKey,
  writeKeyFile,
} from './master-key.js'
