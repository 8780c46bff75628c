/**
 * Progress reporting for long loops (training epochs, pruning steps, meta-training).
 *
 *  - On a TTY: a single redrawn line with a bar, percentage, count, rate and ETA.
 *  - Otherwise (CI logs, files): plain lines, at most one every `intervalMs`, plus the final line.
 *
 * Never throws (write errors such as EPIPE are swallowed), and copes with a total of 0 or an
 * unknown total (counts and rate without bar/ETA). Stream and clock are injectable for tests.
 */

export interface ProgressStream {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
  readonly columns?: number;
}

export interface ProgressOptions {
  /** Number of steps; ≤ 0 or non-finite means unknown (no bar / ETA). */
  readonly total: number;
  readonly label?: string;
  /** Unit for rates, default "it". */
  readonly unit?: string;
  /** Default: process.stderr. */
  readonly stream?: ProgressStream;
  /** Force TTY/non-TTY mode. Default: `stream.isTTY`. */
  readonly isTTY?: boolean;
  /** Milliseconds clock. Default: `Date.now`. */
  readonly now?: () => number;
  /** Non-TTY: minimum ms between plain lines (default 10 000). */
  readonly intervalMs?: number;
  /** TTY: minimum ms between redraws (default 100). */
  readonly redrawMs?: number;
  /** Bar width in characters (default 24). */
  readonly barWidth?: number;
}

/** Formats a duration in seconds: 4.2s, 37s, 3m07s, 1h02m. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '--';
  if (seconds < 10) return `${seconds.toFixed(1)}s`;
  if (seconds < 60) return `${Math.round(seconds)}s`;
  const total = Math.round(seconds);
  if (total < 3600) return `${Math.floor(total / 60)}m${String(total % 60).padStart(2, '0')}s`;
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  return `${h}h${String(m).padStart(2, '0')}m`;
}

function formatRate(perSec: number, unit: string): string {
  if (!Number.isFinite(perSec) || perSec <= 0) return `-- ${unit}/s`;
  if (perSec >= 100) return `${Math.round(perSec)} ${unit}/s`;
  if (perSec >= 1) return `${perSec.toFixed(1)} ${unit}/s`;
  const secPer = 1 / perSec;
  return `${secPer < 10 ? secPer.toFixed(1) : Math.round(secPer)} s/${unit}`;
}

function finite(n: unknown, fallback: number): number {
  return typeof n === 'number' && Number.isFinite(n) ? n : fallback;
}

export class Progress {
  private readonly label: string;
  private readonly unit: string;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly now: () => number;
  private readonly intervalMs: number;
  private readonly redrawMs: number;
  private readonly barWidth: number;
  private readonly start: number;
  private totalSteps: number;
  private cur = 0;
  private info = '';
  private lastEmit: number;
  private drawn = false;
  private finished = false;

  constructor(options: ProgressOptions) {
    this.label = options.label ?? '';
    this.unit = options.unit ?? 'it';
    this.stream = options.stream ?? process.stderr;
    let tty = false;
    try {
      tty = options.isTTY ?? this.stream.isTTY === true;
    } catch {
      tty = false;
    }
    this.tty = tty;
    this.now = options.now ?? (() => Date.now());
    this.intervalMs = Math.max(0, finite(options.intervalMs, 10_000));
    this.redrawMs = Math.max(0, finite(options.redrawMs, 100));
    this.barWidth = Math.max(5, Math.floor(finite(options.barWidth, 24)));
    this.totalSteps = finite(options.total, 0);
    this.start = this.clock();
    this.lastEmit = this.start;
  }

  get current(): number {
    return this.cur;
  }

  get total(): number {
    return this.totalSteps;
  }

  /** Advances by `n` steps (default 1); `info` replaces the trailing status text (e.g. "loss 0.42"). */
  tick(n = 1, info?: string): void {
    this.update(this.cur + finite(n, 0), info);
  }

  /** Sets the absolute position. */
  update(current: number, info?: string): void {
    if (this.finished) return;
    this.cur = Math.max(0, finite(current, this.cur));
    if (info !== undefined) this.info = String(info);
    this.maybeEmit(false);
  }

  setTotal(total: number): void {
    this.totalSteps = finite(total, 0);
  }

  /** Prints a message line without garbling the bar. */
  log(message: string): void {
    if (this.tty && this.drawn && !this.finished) {
      this.write(`\r\x1b[2K${message}\n`);
      this.draw();
    } else this.write(`${message}\n`);
  }

  /** Prints the final line (always), ending the bar. Idempotent. */
  done(info?: string): void {
    if (this.finished) return;
    if (info !== undefined) this.info = String(info);
    // The count is left as is: finishing early is worth seeing (e.g. early stopping).
    this.finished = true;
    if (this.tty) this.write(`\r\x1b[2K${this.fit(this.line(true))}\n`);
    else this.write(`${this.line(true)}\n`);
  }

  private clock(): number {
    try {
      return finite(this.now(), 0);
    } catch {
      return 0;
    }
  }

  private write(s: string): void {
    try {
      this.stream.write(s);
    } catch {
      // Never let progress output break the computation (EPIPE, closed stream, ...).
    }
  }

  private maybeEmit(force: boolean): void {
    const t = this.clock();
    if (this.tty) {
      if (force || !this.drawn || t - this.lastEmit >= this.redrawMs) {
        this.lastEmit = t;
        this.draw();
      }
    } else if (force || t - this.lastEmit >= this.intervalMs) {
      this.lastEmit = t;
      this.write(`${this.line(false)}\n`);
    }
  }

  private draw(): void {
    this.drawn = true;
    this.write(`\r\x1b[2K${this.fit(this.line(false))}`);
  }

  private fit(s: string): string {
    let cols = 80;
    try {
      cols = finite(this.stream.columns, 80);
    } catch {
      cols = 80;
    }
    const max = Math.max(20, cols - 1);
    const chars = Array.from(s);
    return chars.length <= max ? s : chars.slice(0, max - 1).join('') + '…';
  }

  private line(final: boolean): string {
    try {
      const elapsed = Math.max(0, (this.clock() - this.start) / 1000);
      const rate = elapsed > 0 ? this.cur / elapsed : NaN;
      const parts: string[] = [];
      const known = this.totalSteps > 0;
      const frac = known ? Math.min(1, this.cur / this.totalSteps) : final ? 1 : 0;
      const pct = `${Math.floor(frac * 100)}%`.padStart(4);
      const count = known ? `${this.cur}/${this.totalSteps}` : `${this.cur} ${this.unit}`;
      if (this.tty) {
        if (known || final) {
          const filled = Math.round(frac * this.barWidth);
          parts.push(`${'█'.repeat(filled)}${'░'.repeat(this.barWidth - filled)} ${pct}`);
        }
        parts.push(count);
      } else parts.push(known || final ? `${count} (${pct.trim()})` : count);
      parts.push(formatRate(rate, this.unit));
      if (final) parts.push(`done in ${formatDuration(elapsed)}`);
      else {
        parts.push(`elapsed ${formatDuration(elapsed)}`);
        if (known) {
          const eta = this.cur > 0 && elapsed > 0 ? ((this.totalSteps - this.cur) * elapsed) / this.cur : NaN;
          parts.push(`ETA ${formatDuration(Math.max(0, eta))}`);
        }
      }
      if (this.info) parts.push(this.info);
      const head = this.label ? `${this.label} ` : '';
      return head + parts.join(' · ');
    } catch {
      return this.label;
    }
  }
}
