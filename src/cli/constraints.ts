/**
 * Value constraints for config keys and CLI flags: a range, whole numbers only, or a list of
 * choices. The type itself comes from the defaults object (config) or the FlagSpec (flags); a
 * constraint narrows it, so `train.optimizer=SGD` or `--epochs 0.5` is refused before any work
 * starts, with the valid range or choices in the message.
 */

export interface Constraint {
  /** Whole numbers only. */
  readonly integer?: boolean;
  /** Smallest allowed value (inclusive unless `minExclusive`). */
  readonly min?: number;
  readonly minExclusive?: boolean;
  /** Largest allowed value (inclusive). */
  readonly max?: number;
  /** The allowed strings (case-sensitive). A function is called when the check runs. */
  readonly choices?: readonly string[] | (() => readonly string[]);
}

function choicesOf(c: Constraint): readonly string[] | undefined {
  return typeof c.choices === 'function' ? c.choices() : c.choices;
}

/** "an integer in [1, 100000]", "a number > 0", "one of sgd, adamw". */
export function describeConstraint(c: Constraint): string {
  const choices = choicesOf(c);
  if (choices !== undefined) return `one of ${choices.join(', ')}`;
  const what = c.integer ? 'an integer' : 'a finite number';
  const lo = c.min !== undefined ? `${c.minExclusive ? '>' : '≥'} ${c.min}` : undefined;
  const hi = c.max !== undefined ? `≤ ${c.max}` : undefined;
  if (lo !== undefined && hi !== undefined) return `${what} ${lo} and ${hi}`;
  return [what, lo ?? hi].filter((s) => s !== undefined).join(' ');
}

/** Whether `value` satisfies `c` (numbers must be finite; strings must be among the choices). */
export function satisfies(value: unknown, c: Constraint): boolean {
  const choices = choicesOf(c);
  if (choices !== undefined) return typeof value === 'string' && choices.includes(value);
  if (typeof value !== 'number' || !Number.isFinite(value)) return false;
  if (c.integer && !Number.isInteger(value)) return false;
  if (c.min !== undefined && (c.minExclusive ? !(value > c.min) : !(value >= c.min))) return false;
  if (c.max !== undefined && !(value <= c.max)) return false;
  return true;
}

/** Closest choice to a rejected string (case-insensitive match), for "did you mean". */
export function closeChoice(value: unknown, c: Constraint): string | undefined {
  const choices = choicesOf(c);
  if (choices === undefined || typeof value !== 'string') return undefined;
  return choices.find((x) => x.toLowerCase() === value.toLowerCase());
}

/** The message tail for a rejected value: "expected one of sgd, adamw, got "SGD" (did you mean 'sgd'?)". */
export function constraintMessage(value: unknown, c: Constraint): string {
  const close = closeChoice(value, c);
  return `expected ${describeConstraint(c)}, got ${typeof value === 'number' ? String(value) : (JSON.stringify(value) ?? String(value))}${close !== undefined ? ` (did you mean '${close}'?)` : ''}`;
}
