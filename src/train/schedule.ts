/** Learning-rate schedules, evaluated per epoch like PyTorch's epoch-stepped schedulers. */
export type ScheduleConfig =
  | { kind: 'constant' }
  | { kind: 'step'; stepSize: number; gamma?: number }
  | { kind: 'multistep'; milestones: number[]; gamma?: number }
  | { kind: 'cosine'; minLr?: number };

/** Learning rate for `epoch` (0-based) of `epochs`, starting from `base`. */
export function lrAt(s: ScheduleConfig, base: number, epoch: number, epochs: number): number {
  switch (s.kind) {
    case 'constant':
      return base;
    case 'step':
      return base * Math.pow(s.gamma ?? 0.1, Math.floor(epoch / s.stepSize));
    case 'multistep':
      return base * Math.pow(s.gamma ?? 0.1, s.milestones.filter((m) => m <= epoch).length);
    case 'cosine': {
      const min = s.minLr ?? 0;
      return min + ((base - min) * (1 + Math.cos((Math.PI * epoch) / Math.max(1, epochs)))) / 2;
    }
  }
}
