/** A credential could not be obtained: said without its details (they may hold secrets or file paths). */
export class CredentialError extends Error {}
