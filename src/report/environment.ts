/**
 * Collects the "Environment" section of a run report from the running process. The tensor backend
 * is passed in by the caller (this module must not import the tensor engine).
 */
import { existsSync, readFileSync } from 'node:fs';
import { cpus, totalmem, platform, arch, release } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ReportEnvironment } from './html.js';

/**
 * Version of the metaprune package, found by walking up from this module to the nearest
 * package.json named "metaprune" (works from src/ under tsx and from dist/src/ alike).
 */
export function metapruneVersion(): string {
  try {
    let dir = dirname(fileURLToPath(import.meta.url));
    for (let i = 0; i < 6; i++) {
      const p = join(dir, 'package.json');
      if (existsSync(p)) {
        const pkg = JSON.parse(readFileSync(p, 'utf8')) as { name?: unknown; version?: unknown };
        if (pkg.name === 'metaprune' && typeof pkg.version === 'string') return pkg.version;
      }
      const up = dirname(dir);
      if (up === dir) break;
      dir = up;
    }
  } catch {
    /* fall through */
  }
  return 'unknown';
}

export interface EnvironmentOptions {
  /** Name of the active tensor backend, e.g. "wasm-simd" or "js". */
  readonly backend: string;
  /** Extra entries (threads, git commit, dataset path, ...). */
  readonly extra?: Readonly<Record<string, unknown>>;
}

/** Environment facts for the report: versions, CPU, cores, memory, OS. */
export function collectEnvironment(options: EnvironmentOptions): ReportEnvironment {
  const cpuList = (() => {
    try {
      return cpus();
    } catch {
      return [];
    }
  })();
  return {
    metapruneVersion: metapruneVersion(),
    node: process.version,
    backend: options.backend,
    cpu: cpuList[0]?.model?.trim() || 'unknown',
    cores: cpuList.length,
    memoryGiB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
    os: `${platform()} ${release()} (${arch()})`,
    ...(options.extra ?? {}),
  };
}
