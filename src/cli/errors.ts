/**
 * The one place where a thrown error becomes what the user sees: a message and an exit code
 * (2 for usage and value errors, 1 for everything else), or `{"error": {...}}` with --json.
 * Errors that are not MetapruneErrors (a Node file error, a bug) are put into words here too.
 */
import { MetapruneError, type ErrorCode } from '../errors.js';

export interface ReportedError {
  readonly code: ErrorCode | 'internal';
  readonly name: string;
  readonly message: string;
  readonly subject?: string;
  readonly expected?: string;
  readonly exitCode: number;
}

const USAGE_CODES: ReadonlySet<ErrorCode> = new Set<ErrorCode>(['usage', 'config', 'value']);

/** Node's file errors, in words, with what was expected where it is obvious. */
const SYSTEM_ERRORS: Readonly<Record<string, { what: string; expected?: string }>> = {
  ENOENT: { what: 'no such file or directory' },
  EISDIR: { what: 'is a directory', expected: 'a file' },
  ENOTDIR: { what: 'a part of this path is a file, not a directory', expected: 'a path through directories' },
  EEXIST: { what: 'already exists', expected: 'a path that does not exist yet' },
  EACCES: { what: 'permission denied' },
  EPERM: { what: 'operation not permitted' },
  ENOSPC: { what: 'no space left on the device' },
  EROFS: { what: 'read-only file system' },
  ENAMETOOLONG: { what: 'file name too long' },
  EMFILE: { what: 'too many open files' },
};

interface SystemError extends Error {
  code: string;
  path?: string;
  dest?: string;
  syscall?: string;
}

function isSystemError(e: unknown): e is SystemError {
  return e instanceof Error && typeof (e as Partial<SystemError>).code === 'string' && /^E[A-Z]+$/.test((e as SystemError).code);
}

/** What the CLI reports for a thrown value. */
export function describeError(e: unknown): ReportedError {
  if (e instanceof MetapruneError) {
    return { ...e.toJSON(), exitCode: e.code === 'interrupted' ? 130 : USAGE_CODES.has(e.code) ? 2 : 1 };
  }
  if (isSystemError(e)) {
    const known = SYSTEM_ERRORS[e.code];
    const path = e.dest !== undefined && e.code === 'EEXIST' ? e.dest : e.path;
    const what = known?.what ?? e.message;
    const message = `${path ?? `${e.syscall ?? 'a file operation'} failed`}: ${what}${known?.expected ? `; expected ${known.expected}` : ''} (${e.code})`;
    return { code: 'io', name: 'FileError', message, ...(path !== undefined ? { subject: path } : {}), ...(known?.expected ? { expected: known.expected } : {}), exitCode: 1 };
  }
  const name = e instanceof Error ? e.name : typeof e;
  const text = e instanceof Error ? e.message : String(e);
  const why = e instanceof RangeError && /call stack/.test(text) ? 'input nested or linked too deeply' : `${name}: ${text}`;
  return {
    code: 'internal', name,
    message: `internal error (${why}): an input that is not checked yet, or a bug; rerun with --debug for the stack trace and report it`,
    exitCode: 1,
  };
}

/** Prints the error (stderr, or JSON on stdout with --json) and returns the exit code. */
export function reportError(e: unknown, io: { json: boolean; out(line: string): void; err(line: string): void }, debug: boolean, hint?: string): number {
  const r = describeError(e);
  if (io.json) {
    const { exitCode, ...error } = r;
    io.out(JSON.stringify({ error: { ...error, exitCode } }));
  }
  if (r.code !== 'interrupted') io.err(`metaprune: ${r.message}`); // the command said what it saved and how to resume
  if (hint !== undefined && r.exitCode === 2) io.err(hint);
  if (debug && e instanceof Error && e.stack) io.err(e.stack);
  return r.exitCode;
}
