/**
 * Decoding PNG/JPEG files (pure JS: pngjs, jpeg-js) and the image transforms of the image
 * readers: grey/RGB conversion, bilinear resize, center crop, in that order (as torchvision's
 * Resize → CenterCrop), producing uint8 C×H×W pixels.
 */
import { PNG } from 'pngjs';
import jpeg from 'jpeg-js';
import { DataError } from './errors.js';

/** Interleaved H×W×channels uint8 pixels. */
export interface DecodedImage {
  width: number;
  height: number;
  channels: number;
  data: Uint8Array;
}

export interface ImageOptions {
  /** Resize every image to [height, width] (bilinear) before cropping. */
  resize?: [number, number];
  /** Center-crop to [height, width] after resizing. */
  crop?: [number, number];
  /** Output channels: 'gray' (1) or 'rgb' (3); default: the source's. */
  color?: 'gray' | 'rgb';
}

/** Decodes a PNG or JPEG file's bytes (detected by magic) into RGBA. */
export function decodeImage(bytes: Uint8Array, file: string): DecodedImage {
  const isPng = bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47;
  const isJpeg = bytes[0] === 0xff && bytes[1] === 0xd8;
  if (!isPng && !isJpeg) throw new DataError(`${file}: unreadable image: expected a PNG or JPEG file, found another format`, { file });
  try {
    if (isPng) {
      const p = PNG.sync.read(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      return { width: p.width, height: p.height, channels: 4, data: new Uint8Array(p.data.buffer, p.data.byteOffset, p.data.byteLength) };
    }
    const j = jpeg.decode(bytes, { useTArray: true, formatAsRGBA: true });
    return { width: j.width, height: j.height, channels: 4, data: j.data };
  } catch (e) {
    throw new DataError(`${file}: unreadable ${isPng ? 'PNG' : 'JPEG'} image: ${(e as Error).message}`, { file });
  }
}

/** Converts interleaved pixels to 1 (ITU-R 601 luma, as PIL's 'L') or 3 channels; alpha is dropped. */
export function convertChannels(img: DecodedImage, out: 1 | 3): DecodedImage {
  const n = img.width * img.height;
  const c = img.channels;
  const data = new Uint8Array(n * out);
  for (let i = 0; i < n; i++) {
    const s = i * c;
    if (out === 1) {
      data[i] = c >= 3 ? Math.round((img.data[s]! * 299 + img.data[s + 1]! * 587 + img.data[s + 2]! * 114) / 1000) : img.data[s]!;
    } else if (c >= 3) {
      data[3 * i] = img.data[s]!; data[3 * i + 1] = img.data[s + 1]!; data[3 * i + 2] = img.data[s + 2]!;
    } else {
      data[3 * i] = data[3 * i + 1] = data[3 * i + 2] = img.data[s]!;
    }
  }
  return { width: img.width, height: img.height, channels: out, data };
}

/** Bilinear resize (half-pixel centers, as align_corners=False), rounding to uint8. */
export function resizeBilinear(img: DecodedImage, height: number, width: number): DecodedImage {
  if (img.height === height && img.width === width) return img;
  const c = img.channels;
  const data = new Uint8Array(height * width * c);
  const sy = img.height / height;
  const sx = img.width / width;
  for (let y = 0; y < height; y++) {
    const fy = Math.min(Math.max((y + 0.5) * sy - 0.5, 0), img.height - 1);
    const y0 = Math.floor(fy);
    const y1 = Math.min(y0 + 1, img.height - 1);
    const wy = fy - y0;
    for (let x = 0; x < width; x++) {
      const fx = Math.min(Math.max((x + 0.5) * sx - 0.5, 0), img.width - 1);
      const x0 = Math.floor(fx);
      const x1 = Math.min(x0 + 1, img.width - 1);
      const wx = fx - x0;
      for (let ch = 0; ch < c; ch++) {
        const at = (yy: number, xx: number) => img.data[(yy * img.width + xx) * c + ch]!;
        const v = (1 - wy) * ((1 - wx) * at(y0, x0) + wx * at(y0, x1)) + wy * ((1 - wx) * at(y1, x0) + wx * at(y1, x1));
        data[(y * width + x) * c + ch] = Math.round(v);
      }
    }
  }
  return { width, height, channels: c, data };
}

/** Center crop (offsets rounded as torchvision's CenterCrop). */
export function centerCrop(img: DecodedImage, height: number, width: number, file: string): DecodedImage {
  if (height > img.height || width > img.width) {
    throw new DataError(`${file}: cannot center-crop ${img.height}×${img.width} to ${height}×${width}: expected crop ≤ the (resized) image size`, { file });
  }
  const top = Math.round((img.height - height) / 2);
  const left = Math.round((img.width - width) / 2);
  const c = img.channels;
  const data = new Uint8Array(height * width * c);
  for (let y = 0; y < height; y++) {
    data.set(img.data.subarray(((top + y) * img.width + left) * c, ((top + y) * img.width + left + width) * c), y * width * c);
  }
  return { width, height, channels: c, data };
}

/** Applies color → resize → crop and returns C×H×W pixels. */
export function transformImage(img: DecodedImage, o: ImageOptions, file: string): DecodedImage {
  const want = o.color === 'gray' ? 1 : o.color === 'rgb' ? 3 : img.channels === 4 ? 3 : img.channels;
  let x = img.channels === want ? img : convertChannels(img, want as 1 | 3);
  if (o.resize) x = resizeBilinear(x, o.resize[0], o.resize[1]);
  if (o.crop) x = centerCrop(x, o.crop[0], o.crop[1], file);
  return x;
}

/** Interleaved H×W×C → planar C×H×W, written into `out` at `offset`. */
export function toPlanar(img: DecodedImage, out: Uint8Array, offset: number): void {
  const hw = img.width * img.height;
  const c = img.channels;
  for (let i = 0; i < hw; i++) for (let ch = 0; ch < c; ch++) out[offset + ch * hw + i] = img.data[i * c + ch]!;
}
