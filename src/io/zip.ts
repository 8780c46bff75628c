/**
 * Minimal zip reader/writer for .npz files: reads stored (0) and deflated (8) entries through the
 * central directory (zip64 sizes included, as numpy writes them), writes stored entries.
 */
import { inflateRawSync } from 'node:zlib';
import { ArrayFileError } from './array-error.js';

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

/** Reads every entry of a zip archive into name → bytes. */
export function readZip(bytes: Uint8Array, file = 'zip'): Map<string, Uint8Array> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let eocd = -1;
  for (let i = bytes.length - 22; i >= Math.max(0, bytes.length - 22 - 65535); i--) {
    if (v.getUint32(i, true) === EOCD) { eocd = i; break; }
  }
  if (eocd < 0) throw new ArrayFileError(file, 'not a zip archive: expected an end-of-central-directory record, found none');
  const count = v.getUint16(eocd + 10, true);
  let p = v.getUint32(eocd + 16, true);
  const out = new Map<string, Uint8Array>();
  for (let k = 0; k < count; k++) {
    if (p + 46 > bytes.length || v.getUint32(p, true) !== CENTRAL) throw new ArrayFileError(file, `corrupt zip central directory at offset ${p}`);
    const method = v.getUint16(p + 10, true);
    let csize = v.getUint32(p + 20, true);
    let usize = v.getUint32(p + 24, true);
    const nameLen = v.getUint16(p + 28, true);
    const extraLen = v.getUint16(p + 30, true);
    const commentLen = v.getUint16(p + 32, true);
    let local = v.getUint32(p + 42, true);
    const name = Buffer.from(bytes.subarray(p + 46, p + 46 + nameLen)).toString('utf8');
    // zip64 extra field (id 1): the 64-bit values of the fields set to 0xffffffff, in order.
    for (let e = p + 46 + nameLen; e + 4 <= p + 46 + nameLen + extraLen;) {
      const id = v.getUint16(e, true);
      const size = v.getUint16(e + 2, true);
      if (id === 1) {
        let q = e + 4;
        const next = (): number => { const x = Number(v.getBigUint64(q, true)); q += 8; return x; };
        if (usize === 0xffffffff) usize = next();
        if (csize === 0xffffffff) csize = next();
        if (local === 0xffffffff) local = next();
      }
      e += 4 + size;
    }
    if (local + 30 > bytes.length || v.getUint32(local, true) !== LOCAL) throw new ArrayFileError(file, `entry '${name}': corrupt local header at offset ${local}`);
    const start = local + 30 + v.getUint16(local + 26, true) + v.getUint16(local + 28, true);
    if (start + csize > bytes.length) throw new ArrayFileError(file, `entry '${name}' is truncated: expected ${csize} bytes at offset ${start}, file has ${bytes.length}`);
    const data = bytes.subarray(start, start + csize);
    let content: Uint8Array;
    if (method === 0) content = data;
    else if (method === 8) {
      try {
        content = inflateRawSync(data);
      } catch (e) {
        throw new ArrayFileError(file, `entry '${name}': corrupt deflate stream (${(e as Error).message})`);
      }
    } else throw new ArrayFileError(file, `entry '${name}': compression method ${method} is not supported (expected stored or deflate)`);
    if (content.length !== usize) throw new ArrayFileError(file, `entry '${name}': expected ${usize} bytes after decompression, found ${content.length}`);
    out.set(name, content);
    p += 46 + nameLen + extraLen + commentLen;
  }
  return out;
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

export function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** Writes a zip archive of stored (uncompressed) entries. */
export function writeZip(entries: ReadonlyMap<string, Uint8Array> | Record<string, Uint8Array>): Uint8Array {
  const list = entries instanceof Map ? [...entries] : Object.entries(entries);
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  for (const [name, data] of list) {
    const nb = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const h = Buffer.alloc(30);
    h.writeUInt32LE(LOCAL, 0); h.writeUInt16LE(20, 4); h.writeUInt32LE(crc, 14);
    h.writeUInt32LE(data.length, 18); h.writeUInt32LE(data.length, 22); h.writeUInt16LE(nb.length, 26);
    const c = Buffer.alloc(46);
    c.writeUInt32LE(CENTRAL, 0); c.writeUInt16LE(20, 4); c.writeUInt16LE(20, 6); c.writeUInt32LE(crc, 16);
    c.writeUInt32LE(data.length, 20); c.writeUInt32LE(data.length, 24); c.writeUInt16LE(nb.length, 28); c.writeUInt32LE(offset, 42);
    parts.push(h, nb, data);
    central.push(c, nb);
    offset += 30 + nb.length + data.length;
  }
  const cdSize = central.reduce((s, b) => s + b.length, 0);
  const e = Buffer.alloc(22);
  e.writeUInt32LE(EOCD, 0); e.writeUInt16LE(list.length, 8); e.writeUInt16LE(list.length, 10);
  e.writeUInt32LE(cdSize, 12); e.writeUInt32LE(offset, 16);
  return Buffer.concat([...parts, ...central, e]);
}
