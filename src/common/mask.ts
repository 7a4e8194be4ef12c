/**
 * Masks a secret for logs, errors and admin output: keeps a short recognisable prefix and the last 4 characters,
 * so an operator can tell keys apart without anyone being able to use them.
 */
export function maskSecret(secret: string): string {
  if (secret.length <= 8) return '****';
  const prefix = secret.startsWith('sk-ant-') ? 'sk-ant-' : secret.slice(0, 2);
  return `${prefix}…${secret.slice(-4)}`;
}

// The password runs to the last `@` of the URL: a raw `@`, `/`, `?` or `#` inside it (`u:p@ss@host`, `u:a/b@host`,
// the URL that does not parse) is still the password.
const URL_CREDENTIALS = /\b([a-z][a-z0-9+.-]*:\/\/)([^\s:@/]*):(\S*)@/gi;

/**
 * Masks the password of every `scheme://user:password@` in free text (config values, driver error messages: Redis
 * URLs carry them). For one URL shown whole, the admin view's `maskUrlCredentials` also masks query values.
 */
export function maskUrlPasswords(text: string): string {
  return text.replace(URL_CREDENTIALS, (_m, scheme: string, user: string, password: string) => {
    return `${scheme}${user}:${maskSecret(password)}@`;
  });
}
