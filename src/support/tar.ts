import { gzipSync } from 'node:zlib';

/*
 * A small ustar (POSIX.1-1988) writer: regular files only, names under 100 bytes, held in memory.
 * The support package is a handful of small JSON files; a dependency (tar-stream and its streams)
 * would be more code than this, for nothing the package needs.
 */

export interface TarEntry {
  name: string;
  body: string | Buffer;
  mtime?: Date;
}

const BLOCK = 512;

function octal(value: number, width: number): string {
  // width - 1 digits and a NUL, as GNU and BSD tar write them.
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

function header(name: string, size: number, mtime: Date): Buffer {
  const nameBytes = Buffer.from(name, 'utf8');
  if (nameBytes.length === 0 || nameBytes.length > 99 || name.includes('..')) throw new Error(`tar: bad entry name ${JSON.stringify(name)}`);
  const block = Buffer.alloc(BLOCK);
  nameBytes.copy(block, 0);
  block.write(octal(0o644, 8), 100, 'ascii'); // mode
  block.write(octal(0, 8), 108, 'ascii'); // uid
  block.write(octal(0, 8), 116, 'ascii'); // gid
  block.write(octal(size, 12), 124, 'ascii');
  block.write(octal(Math.floor(mtime.getTime() / 1000), 12), 136, 'ascii');
  block.write('        ', 148, 'ascii'); // checksum: spaces while it is summed
  block.write('0', 156, 'ascii'); // a regular file
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  block.write('keepd', 265, 'ascii'); // uname
  block.write('keepd', 297, 'ascii'); // gname
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** The entries as a tar archive. */
export function tar(entries: readonly TarEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const entry of entries) {
    const body = typeof entry.body === 'string' ? Buffer.from(entry.body, 'utf8') : entry.body;
    parts.push(header(entry.name, body.length, entry.mtime ?? new Date()), body);
    const padding = (BLOCK - (body.length % BLOCK)) % BLOCK;
    if (padding > 0) parts.push(Buffer.alloc(padding));
  }
  parts.push(Buffer.alloc(2 * BLOCK)); // the end: two zero blocks
  return Buffer.concat(parts);
}

/** The entries as a .tar.gz. */
export function tarGz(entries: readonly TarEntry[]): Buffer {
  return gzipSync(tar(entries));
}
