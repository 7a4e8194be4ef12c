import { connect } from 'node:net';
import { SseParser, type SseEvent } from '../../fakes/sse-parse';
import { post } from './http';

/** A streaming Messages request being read in the background. */
export interface OpenStream {
  /** The HTTP status of the answer. */
  status: number;
  /** Events received so far. */
  readonly events: SseEvent[];
  /** Whether the body has ended (cleanly or not). */
  readonly ended: boolean;
  /** Resolves with every event once the body has ended; never rejects (a broken body just ends the list). */
  done: Promise<SseEvent[]>;
  /** Resolves once an event named `name` has arrived. */
  waitForEvent(name: string, timeoutMs?: number): Promise<void>;
}

/** Sends a streaming Messages request and reads its SSE body as it arrives. */
export async function openStream(base: string, body: Record<string, unknown>): Promise<OpenStream> {
  const res = await post(base, '/v1/messages', { ...body, stream: true });
  const parser = new SseParser();
  const events: SseEvent[] = [];
  const listeners = new Set<() => void>();
  let ended = false;
  const notify = () => {
    for (const l of [...listeners]) l();
  };
  const done = (async () => {
    try {
      for await (const chunk of res.body) {
        events.push(...parser.push(chunk as Buffer));
        notify();
      }
    } catch {
      // A reset connection ends the stream as far as the client is concerned; the events say the rest.
    }
    events.push(...parser.end());
    ended = true;
    notify();
    return events;
  })();
  return {
    status: res.statusCode,
    events,
    get ended() {
      return ended;
    },
    done,
    waitForEvent(name, timeoutMs = 5_000) {
      return new Promise<void>((resolve, reject) => {
        const check = () => {
          if (events.some((e) => e.event === name)) {
            cleanup();
            resolve();
          } else if (ended) {
            cleanup();
            reject(new Error(`stream ended without an ${name} event`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`no ${name} event within ${timeoutMs} ms`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
        };
        listeners.add(check);
        check();
      });
    },
  };
}

/** The text of a stream's content_block_delta events, joined. */
export function streamedText(events: SseEvent[]): string {
  return events
    .filter((e) => e.event === 'content_block_delta')
    .map((e) => (e.data as { delta?: { text?: string } }).delta?.text ?? '')
    .join('');
}

/** Whether a new TCP connection to the port is refused (true), or accepted (then closed at once) or reset (false). */
export function connectionRefused(port: number, host = '127.0.0.1'): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host });
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNREFUSED') resolve(true);
      // Accepted into the backlog of a listener that was closing at that moment: the kernel resets it. Not served,
      // but not the refusal asked about either; a caller polling for the refusal asks again.
      else if (err.code === 'ECONNRESET') resolve(false);
      else reject(err);
    });
  });
}
