/** Reading a password from stdin: hidden on a terminal, whole on a pipe. */

export class PasswordInputCancelled extends Error {
  constructor() {
    super('cancelled');
    this.name = 'PasswordInputCancelled';
  }
}

/** A pipe's trailing newline (`echo`, here-strings, files) is not part of the password. */
export function stripOneTrailingNewline(text: string): string {
  if (text.endsWith('\r\n')) return text.slice(0, -2);
  if (text.endsWith('\n')) return text.slice(0, -1);
  return text;
}

async function readAll(input: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of input) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function withoutLastCodePoint(text: string): string {
  const last = text.codePointAt(text.length - 2);
  return text.slice(0, last !== undefined && last > 0xffff ? -2 : -1);
}

/** Applies terminal keystrokes to a line being typed; returns the line, or `done` at Enter. */
export function applyKeys(line: string, keys: string): { line: string; done: boolean; cancelled: boolean } {
  let current = line;
  for (const key of keys) {
    if (key === '\r' || key === '\n' || key === '\u0004') return { line: current, done: true, cancelled: false };
    if (key === '\u0003') return { line: current, done: true, cancelled: true };
    if (key === '\u007f' || key === '\b') current = withoutLastCodePoint(current);
    else if (key >= ' ') current += key;
  }
  return { line: current, done: false, cancelled: false };
}

function readHidden(input: NodeJS.ReadStream, output: NodeJS.WritableStream, prompt: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let line = '';
    // Echo off before the prompt shows: whatever is typed after it is never displayed.
    input.setRawMode(true);
    output.write(prompt);
    input.setEncoding('utf8');
    const onData = (keys: string): void => {
      const step = applyKeys(line, keys);
      line = step.line;
      if (!step.done) return;
      input.removeListener('data', onData);
      input.setRawMode(false);
      input.pause();
      output.write('\n');
      if (step.cancelled) reject(new PasswordInputCancelled());
      else resolve(line);
    };
    input.on('data', onData);
    input.resume();
  });
}

/** One password from stdin: prompted without echo on a terminal, or the whole of a pipe. */
export async function readPassword(prompt: string, input: NodeJS.ReadStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<string> {
  if (input.isTTY) return readHidden(input, output, prompt);
  return stripOneTrailingNewline(await readAll(input));
}

/** A new password: typed twice on a terminal; a pipe is read once. */
export async function readNewPassword(input: NodeJS.ReadStream = process.stdin, output: NodeJS.WritableStream = process.stderr): Promise<string> {
  const password = await readPassword('Password: ', input, output);
  if (!input.isTTY) return password;
  const again = await readHidden(input, output, 'Again: ');
  if (again !== password) throw new Error('the two passwords differ');
  return password;
}
