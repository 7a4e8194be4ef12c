/**
 * Masks a secret for logs, errors and admin output: keeps a short recognisable prefix and the last 4 characters,
 * so an operator can tell keys apart without anyone being able to use them.
 */
export function maskSecret(secret: string): string {
  if (secret.length <= 8) return '****';
  const prefix = secret.startsWith('sk-ant-') ? 'sk-ant-' : secret.slice(0, 2);
  return `${prefix}…${secret.slice(-4)}`;
}
