/**
 * Connecting to the job queue's Redis: URL checks and a fast probe, so a wrong URL or a Redis
 * that is down fails in seconds with a clear message instead of ioredis retrying forever.
 */
import { Redis } from 'ioredis';
import { MetapruneError } from '../../errors.js';

/** The BullMQ queue every `metaprune worker` takes jobs from. */
export const QUEUE_NAME = 'metaprune-jobs';
/** Prefix of the content-addressed blobs (job input files and results). */
export const BLOB_PREFIX = 'metaprune:blob:';

const PROBE_MS = 3000;

export function assertQueueUrl(url: string): void {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    throw new MetapruneError('io', `queue '${url}': not a URL; expected redis://HOST:PORT`);
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') throw new MetapruneError('io', `queue '${url}': expected a redis:// or rediss:// URL, got ${u.protocol}//`);
  if (u.hostname === '') throw new MetapruneError('io', `queue '${url}': no host; expected redis://HOST:PORT`);
}

/**
 * A connected client for `url` (BullMQ needs maxRetriesPerRequest null on long-lived
 * connections). Throws within a few seconds when Redis cannot be reached.
 */
export async function connectRedis(url: string): Promise<Redis> {
  assertQueueUrl(url);
  const probe = new Redis(url, { lazyConnect: true, connectTimeout: PROBE_MS, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  probe.on('error', () => { /* reported by connect() below */ });
  try {
    await probe.connect();
    await probe.ping();
  } catch (e) {
    throw new MetapruneError('io', `queue ${url}: cannot reach Redis (${(e as Error).message || 'connection failed'}); is redis-server running there and reachable from this machine?`);
  } finally {
    probe.disconnect();
  }
  const client = new Redis(url, { maxRetriesPerRequest: null });
  client.on('error', () => { /* ioredis reconnects by itself; commands report persistent failures */ });
  return client;
}
