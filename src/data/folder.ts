/**
 * Image-folder datasets (as torchvision's ImageFolder): DIR/CLASS/IMAGE.{png,jpg,jpeg}, classes in
 * sorted folder-name order. When DIR holds `train/` and `test/` (or `val/`) folders, those are the
 * splits (every class folder of train must exist in test); otherwise the caller splits by ratio.
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { DataError } from './errors.js';
import { readBytes } from './files.js';
import type { RawImages } from './idx.js';
import { decodeImage, toPlanar, transformImage, type ImageOptions } from './image-transform.js';

const IMAGE_EXTENSIONS = new Set(['.png', '.jpg', '.jpeg']);

export interface ImageFolder {
  raw: RawImages;
  classNames: string[];
  /** Image file of each sample, in sample order. */
  files: string[];
}

function isDir(p: string): boolean {
  return existsSync(p) && statSync(p).isDirectory();
}

function subfolders(dir: string): string[] {
  return readdirSync(dir).filter((n) => !n.startsWith('.') && isDir(join(dir, n))).sort();
}

/** Reads one folder of class folders; `classNames` (when given) fixes the classes and their order. */
export function readImageFolder(dir: string, opts: ImageOptions = {}, classNames?: readonly string[]): ImageFolder {
  if (!isDir(dir)) throw new DataError(`${dir}: image folder not found: expected a directory with one subfolder per class`, { file: dir });
  const found = subfolders(dir);
  const classes = classNames ? [...classNames] : found;
  if (classes.length === 0) throw new DataError(`${dir}: no class folders: expected one subfolder per class (e.g. ${dir}/cat/001.png)`, { file: dir });
  if (classes.length > 256) throw new DataError(`${dir}: ${classes.length} class folders: at most 256 classes are supported`, { file: dir });
  const files: string[] = [];
  const labels: number[] = [];
  classes.forEach((c, label) => {
    const cdir = join(dir, c);
    if (!isDir(cdir)) throw new DataError(`${cdir}: missing class folder '${c}' (the classes are ${classes.join(', ')})`, { file: cdir });
    const imgs = readdirSync(cdir).filter((f) => IMAGE_EXTENSIONS.has(extname(f).toLowerCase())).sort();
    if (imgs.length === 0) throw new DataError(`${cdir}: class folder '${c}' has no .png/.jpg/.jpeg images`, { file: cdir });
    for (const f of imgs) { files.push(join(cdir, f)); labels.push(label); }
  });
  let pixels: Uint8Array | undefined;
  let shape: [number, number, number] | undefined;
  files.forEach((f, i) => {
    const img = transformImage(decodeImage(readBytes(f), f), opts, f);
    if (shape === undefined) {
      shape = [img.channels, img.height, img.width];
      pixels = new Uint8Array(files.length * img.channels * img.height * img.width);
    } else if (img.channels !== shape[0] || img.height !== shape[1] || img.width !== shape[2]) {
      throw new DataError(`${f}: image is ${img.channels}×${img.height}×${img.width} after transforms, expected ${shape.join('×')} ` +
        `like ${files[0]}: set resize=H or crop=H so all images get one size`, { file: f });
    }
    toPlanar(img, pixels!, i * shape[0] * shape[1] * shape[2]);
  });
  const [c, h, w] = shape!;
  return { raw: { n: files.length, channels: c, height: h, width: w, pixels: pixels!, labels: Uint8Array.from(labels) }, classNames: classes, files };
}

/** The `train/` and `test/` (or `val/`) split folders of `dir`, when it has them. */
export function splitFolders(dir: string): { train: string; test: string } | undefined {
  const train = join(dir, 'train');
  const test = [join(dir, 'test'), join(dir, 'val')].find(isDir);
  return isDir(train) && test !== undefined ? { train, test } : undefined;
}
