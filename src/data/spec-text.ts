/**
 * The text form of the user-data specs, as `--data` takes them:
 *
 *     folder:DIR[,key=value...]      DIR/CLASS/*.png|jpg (or DIR/train/CLASS + DIR/test/CLASS)
 *     npz:FILE[,key=value...]        x_train/y_train/x_test/y_test or images/labels arrays
 *     npy:IMAGES.npy,labels=LABELS.npy[,key=value...]
 *
 * keys: resize=H or HxW, crop=H or HxW (center crop after resize), color=gray|rgb,
 * test=FRACTION (split when the data has none; default 0.2), seed=N, normalize=true|false,
 * mean=M1/M2/M3 and std=S1/S2/S3 (fixed statistics in [0, 1] pixel units instead of the train split's).
 */
import type { DatasetSpec, UserDataOptions } from './dataset.js';
import type { ImageOptions } from './image-transform.js';
import { ValueError } from '../errors.js';

const KEYS = ['resize', 'crop', 'color', 'test', 'seed', 'normalize', 'mean', 'std', 'labels'];

export type UserDataKind = 'folder' | 'npz' | 'npy';

function fail(spec: string, what: string): never {
  throw new ValueError(`data '${spec}': ${what}`, { subject: 'data' });
}

function size(spec: string, key: string, v: string): [number, number] {
  const m = /^(\d+)(?:x(\d+))?$/.exec(v);
  if (!m || Number(m[1]) < 1 || (m[2] !== undefined && Number(m[2]) < 1)) fail(spec, `${key}=${v}: expected a size H or HxW`);
  return [Number(m[1]), Number(m[2] ?? m[1])];
}

function numbers(spec: string, key: string, v: string): number[] {
  const xs = v.split('/').map(Number);
  if (xs.some((x) => !Number.isFinite(x))) fail(spec, `${key}=${v}: expected numbers separated by '/' (one per channel)`);
  return xs;
}

/** Parses `PATH[,key=value...]` (the part after `kind:`) into a dataset spec. */
export function parseUserDataSpec(kind: UserDataKind, rest: string, spec = `${kind}:${rest}`): DatasetSpec {
  const parts = rest.split(',');
  // Trailing key=value parts are options; everything before them is the path (which may hold commas).
  let cut = parts.length;
  while (cut > 1 && /^[a-z]+=/.test(parts[cut - 1]!)) cut--;
  const path = parts.slice(0, cut).join(',');
  if (path === '') fail(spec, `expected a path after '${kind}:'`);
  const image: ImageOptions = {};
  const o: UserDataOptions & { labels?: string } = {};
  let mean: number[] | undefined;
  let std: number[] | undefined;
  for (const kv of parts.slice(cut)) {
    const [k, v] = [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)];
    switch (k) {
      case 'resize': image.resize = size(spec, k, v); break;
      case 'crop': image.crop = size(spec, k, v); break;
      case 'color':
        if (v !== 'gray' && v !== 'rgb') fail(spec, `color=${v}: expected gray or rgb`);
        image.color = v;
        break;
      case 'test':
        if (!(Number(v) > 0 && Number(v) < 1)) fail(spec, `test=${v}: expected a fraction between 0 and 1`);
        o.testFraction = Number(v);
        break;
      case 'seed':
        if (!Number.isInteger(Number(v))) fail(spec, `seed=${v}: expected an integer`);
        o.seed = Number(v);
        break;
      case 'normalize':
        if (v !== 'true' && v !== 'false') fail(spec, `normalize=${v}: expected true or false`);
        o.normalize = v === 'true';
        break;
      case 'mean': mean = numbers(spec, k, v); break;
      case 'std': std = numbers(spec, k, v); break;
      case 'labels': o.labels = v; break;
      default: fail(spec, `unknown key '${k}': expected one of ${KEYS.join(', ')}`);
    }
  }
  if ((mean === undefined) !== (std === undefined)) fail(spec, 'mean and std go together: give both or neither');
  if (mean && std) o.normalize = { mean, std };
  if (Object.keys(image).length > 0) o.image = image;
  const { labels, ...opts } = o;
  if (kind === 'npy') {
    if (labels === undefined) fail(spec, 'npy needs labels=LABELS.npy (npy:IMAGES.npy,labels=LABELS.npy)');
    return { kind, images: path, labels, ...opts };
  }
  if (labels !== undefined) fail(spec, `labels= is only for npy: (the labels of ${kind}: data are inside it)`);
  return kind === 'folder' ? { kind, dir: path, ...opts } : { kind, file: path, ...opts };
}
