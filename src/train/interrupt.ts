/**
 * Stopping long loops cleanly. A loop written as a generator yields after every step; `drain`
 * runs it to the end, `drainInterruptible` yields to the event loop between steps (so a SIGINT
 * handler can run) and passes `stop()` into the generator, which then saves what it can and
 * throws an {@link Interrupted}.
 */
import { MetapruneError } from '../errors.js';

/** A long operation stopped on request; the message says what was saved and where it resumes. */
export class Interrupted extends MetapruneError {
  constructor(message: string) {
    super('interrupted', message);
    this.name = 'Interrupted';
  }
}

/** Runs a step generator to its end. */
export function drain<R>(steps: Generator<void, R, boolean>): R {
  for (let r = steps.next(false); ; r = steps.next(false)) if (r.done) return r.value;
}

/** Runs a step generator, yielding to the event loop after each step and telling it when `stop()` turned true. */
export async function drainInterruptible<R>(steps: Generator<void, R, boolean>, stop: () => boolean): Promise<R> {
  for (let r = steps.next(false); ; r = steps.next(stop())) {
    if (r.done) return r.value;
    await new Promise<void>((resolve) => setImmediate(resolve));
  }
}

/** Resolves after giving the event loop a turn, then throws Interrupted when `stop()` is true. */
export async function checkpointStop(stop: (() => boolean) | undefined, message: () => string): Promise<void> {
  if (stop === undefined) return;
  await new Promise<void>((resolve) => setImmediate(resolve));
  if (stop()) throw new Interrupted(message());
}
