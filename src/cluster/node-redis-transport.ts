import type { SharedKeyRedis } from './shared-key-pools';

type ScriptOptions = { keys: string[]; arguments: string[] };
type Listener = (message: string) => void;

/** What the transport uses of a node-redis client or cluster (both from @keyv/redis's createClient / createCluster). */
export interface NodeRedisScripting {
  evalSha(sha: string, options: ScriptOptions): Promise<unknown>;
  eval(script: string, options: ScriptOptions): Promise<unknown>;
  subscribe(channel: string, listener: Listener): Promise<void>;
}

/** A standalone client: pub/sub takes a connection of its own, a duplicate. */
interface StandaloneClient extends NodeRedisScripting {
  duplicate(): SubscriberClient;
}

interface SubscriberClient {
  readonly isOpen: boolean;
  on(event: 'error', listener: (error: unknown) => void): unknown;
  connect(): Promise<unknown>;
  subscribe(channel: string, listener: Listener): Promise<void>;
  close(): Promise<void>;
}

/**
 * The shared key pools' commands over a node-redis client or cluster (connected by its owner). Pub/sub needs a
 * connection of its own: a standalone client is duplicated for it (closed by {@link NodeRedisTransport.close}); a
 * cluster client keeps its own pub/sub connection.
 */
export class NodeRedisTransport implements SharedKeyRedis {
  private subscriber: SubscriberClient | undefined;

  constructor(
    private readonly client: NodeRedisScripting | StandaloneClient,
    private readonly isCluster: boolean,
  ) {}

  evalSha(sha: string, keys: string[], args: string[]): Promise<unknown> {
    return this.client.evalSha(sha, { keys, arguments: args });
  }

  eval(source: string, keys: string[], args: string[]): Promise<unknown> {
    return this.client.eval(source, { keys, arguments: args });
  }

  async subscribe(channel: string, listener: (message: string) => void): Promise<void> {
    if (this.isCluster) {
      await this.client.subscribe(channel, (message: string) => listener(message));
      return;
    }
    if (!this.subscriber) {
      const sub = (this.client as StandaloneClient).duplicate();
      sub.on('error', () => undefined);
      this.subscriber = sub;
      await sub.connect();
    }
    await this.subscriber.subscribe(channel, (message: string) => listener(message));
  }

  async close(): Promise<void> {
    const sub = this.subscriber;
    this.subscriber = undefined;
    if (sub?.isOpen) await sub.close();
  }
}
