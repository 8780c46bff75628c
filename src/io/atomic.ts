/**
 * Crash-safe file writes: write a temp file in the same directory, fsync, then rename over the target.
 *
 * The temp file is created exclusively ('wx': O_CREAT|O_EXCL, plus O_NOFOLLOW) under an
 * unpredictable name, so a file or symlink planted at a guessable name can neither be overwritten
 * nor redirect the write. The name carries the writer's pid so a later run can remove the temp
 * files of writers that died mid-write ({@link removeDeadTempFiles}).
 */
import { closeSync, constants, existsSync, fsyncSync, mkdirSync, openSync, readdirSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';

// ours, and the older `.<name>.<pid>.tmp` / `.<name>.<pid>.<time>.<n>.tmp`
const TEMP_RE = /^\..+\.(\d+)(?:\.[0-9a-f]{16}|\.[0-9a-z]+\.\d+)?\.tmp$/;

/** `.<name>.<pid>.<random>.tmp` next to `path`. */
function tempName(path: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(8).toString('hex')}.tmp`);
}

const EXCLUSIVE = constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | (constants.O_NOFOLLOW ?? 0);

export function writeFileAtomic(path: string, data: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  const tmp = tempName(path);
  const fd = openSync(tmp, EXCLUSIVE, 0o644);
  try {
    try {
      const buf = typeof data === 'string' ? Buffer.from(data, 'utf8') : data;
      let off = 0;
      while (off < buf.length) off += writeSync(fd, buf, off, buf.length - off);
      syncQuietly(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    try { unlinkSync(tmp); } catch { /* already renamed or gone */ }
    throw e;
  }
}

export function writeJsonAtomic(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2) + '\n');
}

function syncQuietly(fd: number): void {
  try {
    fsyncSync(fd);
  } catch {
    // fsync is best-effort (unsupported on some filesystems).
  }
}

/** Whether a process with this pid exists on this host. */
export function pidAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Removes temp files left by writers that died mid-write (their pid no longer runs) in `dir` and
 * its subdirectories; returns the removed paths. Call it while holding the directory's lock.
 */
export function removeDeadTempFiles(dir: string): string[] {
  const removed: string[] = [];
  if (!existsSync(dir)) return removed;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) removed.push(...removeDeadTempFiles(p));
    else if (e.isFile()) {
      const m = TEMP_RE.exec(e.name);
      if (m && Number(m[1]) !== process.pid && !pidAlive(Number(m[1]))) {
        unlinkSync(p);
        removed.push(p);
      }
    }
  }
  return removed;
}
