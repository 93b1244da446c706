import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';

/** A benchmark's own section of docs/benchmarks.md: its marker, the generated block's bounds, its head and hand-written reasons. */
export interface Section {
  marker: string;
  start: string;
  end: string;
  /** The section's description, written once when the section is created. */
  head: string;
  /** The "what misses and why" part, written once; edited by hand afterwards. */
  reasons: string;
}

/**
 * Replaces the generated block of `section` in `doc`, keeping everything else (other sections, the
 * hand-written reasons). A section without its block (edited by hand) gets it right after its
 * marker; a missing section is added at the end.
 */
export async function saveSection(doc: string, section: Section, table: string): Promise<void> {
  await mkdir(path.dirname(doc), { recursive: true });
  const previous = await readFile(doc, 'utf8').catch(() => '# Benchmarks\n');
  const { marker, start, end, head, reasons } = section;
  const generated = `${start}\n${table}\n${end}`;
  const from = previous.indexOf(start);
  const to = previous.indexOf(end);
  let next: string;
  if (from >= 0 && to > from) next = `${previous.slice(0, from)}${generated}${previous.slice(to + end.length)}`;
  else if (previous.includes(marker)) {
    const at = previous.indexOf(marker) + marker.length;
    next = `${previous.slice(0, at)}\n${generated}${previous.slice(at)}`;
  } else next = `${previous.trimEnd()}\n\n${marker}\n${head}\n${generated}\n\n### What misses and why\n\n${reasons}\n`;
  await writeFile(doc, next);
}
