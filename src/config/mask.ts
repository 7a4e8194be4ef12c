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

/** Configured secrets shorter than this are not masked in text: masking a 3-character string mangles everything. */
const MIN_MASKED_SECRET = 8;
/** Any Anthropic credential (API key, OAuth token, admin key), also one the relay only passed through. */
const ANTHROPIC_CREDENTIAL_TEXT = 'sk-ant-[A-Za-z0-9_-]{8,}';

/**
 * Masks known secrets (the providers' keys, and any `sk-ant-…` credential) in text the relay passes on from an
 * upstream: an error body that echoes the key the relay sent. Built once from the configured keys into one
 * regular expression (longest first, so a key that contains another is masked whole); a text without a match is
 * returned as is, the same string or Buffer, so an error body without a secret still passes byte for byte.
 * Meant for error bodies only: successful answers are never scanned.
 */
export class SecretMasker {
  private readonly pattern: RegExp;
  /** Each configured secret's mask, for the string and the latin1 (byte-for-byte) view of a body. */
  private readonly masks = new Map<string, string>();
  private readonly latin1Masks = new Map<string, string>();

  constructor(secrets: readonly string[]) {
    const usable = [...new Set(secrets)]
      .filter((s) => s.length >= MIN_MASKED_SECRET)
      .sort((a, b) => b.length - a.length);
    for (const s of usable) {
      const mask = maskSecret(s);
      this.masks.set(s, mask);
      this.latin1Masks.set(toLatin1(s), toLatin1(mask));
    }
    // Keys are matched by their bytes: the latin1 view of a UTF-8 key is what a latin1-read body contains.
    const alternatives = [
      ...usable.map((s) => escapeRegExp(s)),
      ...usable
        .map(toLatin1)
        .filter((l) => !this.masks.has(l))
        .map(escapeRegExp),
      ANTHROPIC_CREDENTIAL_TEXT,
    ];
    this.pattern = new RegExp(alternatives.join('|'), 'g');
  }

  /** `text` with every secret masked (the same string when it holds none). */
  mask(text: string): string {
    this.pattern.lastIndex = 0;
    if (!this.pattern.test(text)) return text;
    return text.replace(this.pattern, (m) => this.masks.get(m) ?? maskSecret(m));
  }

  /** `body` with every secret masked, its other bytes unchanged (the same Buffer when it holds none). */
  maskBytes(body: Buffer): Buffer {
    // latin1 maps each byte to one character and back: UTF-8 elsewhere in the body survives untouched.
    const text = body.toString('latin1');
    this.pattern.lastIndex = 0;
    if (!this.pattern.test(text)) return body;
    const masked = text.replace(this.pattern, (m) => this.latin1Masks.get(m) ?? toLatin1(maskSecret(m)));
    return Buffer.from(masked, 'latin1');
  }
}

/** A string's UTF-8 bytes, one character per byte (the view maskBytes works on). */
function toLatin1(s: string): string {
  return Buffer.from(s, 'utf8').toString('latin1');
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
