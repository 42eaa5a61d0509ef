export { hashPassword, oneTimePassword, verifyPassword } from './passwords.js'
