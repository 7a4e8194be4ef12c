/** A bearer token and when it stops being valid (epoch ms). */
export interface ExpiringToken {
  token: string;
  expiresAt: number;
}

/** How long before its expiry a token is replaced, so no request goes out with one about to lapse. */
export const TOKEN_REFRESH_MARGIN_MS = 5 * 60_000;

/**
 * Holds one token and fetches a new one only when it is within TOKEN_REFRESH_MARGIN_MS of expiring; concurrent
 * callers share one fetch (never one token request per call). A failed fetch is not cached.
 */
export class TokenCache {
  private current?: ExpiringToken;
  private pending?: Promise<ExpiringToken>;

  constructor(
    private readonly fetch: () => Promise<ExpiringToken>,
    private readonly now: () => number = Date.now,
  ) {}

  async get(): Promise<string> {
    const held = this.current;
    if (held && held.expiresAt - TOKEN_REFRESH_MARGIN_MS > this.now()) return held.token;
    this.pending ??= this.fetch().then(
      (fresh) => {
        this.current = fresh;
        this.pending = undefined;
        return fresh;
      },
      (err: unknown) => {
        this.pending = undefined;
        throw err;
      },
    );
    return (await this.pending).token;
  }
}
