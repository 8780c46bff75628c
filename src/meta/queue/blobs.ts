/**
 * Job inputs and outputs as content-addressed blobs in Redis (no shared filesystem): a file
 * travels once as `metaprune:blob:<sha256>` however many jobs read it, a worker keeps a local
 * cache by hash, and every blob expires after a week so abandoned runs do not fill Redis.
 */
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import type { Redis } from 'ioredis';
import { BLOB_PREFIX } from './connection.js';
import { MetapruneError } from '../../errors.js';

const TTL_SECONDS = 7 * 24 * 3600;

/** Path → sha256 of its bytes. */
export type BlobFiles = Record<string, string>;

export function sha256(bytes: Uint8Array | string): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/** Stores bytes under their hash unless Redis has them already (then only their expiry is renewed). */
export async function putBlob(redis: Redis, bytes: Uint8Array): Promise<string> {
  const hash = sha256(bytes);
  const key = BLOB_PREFIX + hash;
  if ((await redis.expire(key, TTL_SECONDS)) === 0) await redis.set(key, Buffer.from(bytes), 'EX', TTL_SECONDS);
  return hash;
}

/** A blob Redis no longer has (expired, flushed, or already consumed). */
export class MissingBlobError extends MetapruneError {
  constructor(message: string) {
    super('io', message);
    this.name = 'MissingBlobError';
  }
}

export async function getBlob(redis: Redis, hash: string): Promise<Buffer> {
  const b = await redis.getBuffer(BLOB_PREFIX + hash);
  if (b === null) throw new MissingBlobError(`blob ${hash.slice(0, 12)}… is not in Redis (expired, or Redis was flushed); re-run the coordinator to send it again`);
  if (sha256(b) !== hash) throw new MetapruneError('io', `blob ${hash.slice(0, 12)}… is corrupt (its bytes hash to ${sha256(b).slice(0, 12)}…)`);
  return b;
}

/** Uploads the files a job reads; a missing file is named. */
export async function packFiles(redis: Redis, paths: string[]): Promise<BlobFiles> {
  const out: BlobFiles = {};
  for (const p of paths) {
    if (!existsSync(p)) throw new MetapruneError('io', `${p}: a job's input file is missing`);
    out[p] = await putBlob(redis, readFileSync(p));
  }
  return out;
}

/** Writes each blob to root + its path, fetching every hash at most once into cacheDir. */
export async function materialize(redis: Redis, files: BlobFiles, root: string, cacheDir: string): Promise<void> {
  mkdirSync(cacheDir, { recursive: true });
  for (const [path, hash] of Object.entries(files)) {
    const cached = join(cacheDir, hash);
    if (!existsSync(cached)) {
      const tmp = `${cached}.${process.pid}.tmp`;
      writeFileSync(tmp, await getBlob(redis, hash));
      renameSync(tmp, cached);
    }
    const dest = join(root, path);
    mkdirSync(dirname(dest), { recursive: true });
    copyFileSync(cached, dest);
  }
}

/** Every file under dir (paths relative to it, sorted), skipping those listed in `except` (absolute). */
export function listFiles(dir: string, except: ReadonlySet<string> = new Set()): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.isFile() && !except.has(p)) out.push(relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}
