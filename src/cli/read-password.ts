/** Reading a password from stdin: hidden on a terminal, whole on a pipe. */
import { createInterface, emitKeypressEvents } from 'node:readline';
import { Writable } from 'node:stream';

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

/** Swallows what readline would echo: the typed password never reaches the terminal. */
function mutedOutput(): Writable {
  return new Writable({
    write(_chunk: unknown, _encoding: BufferEncoding, done: (error?: Error | null) => void): void {
      done();
    },
  });
}

/**
 * One line from a terminal, without echo. Line editing is Node's readline (arrow keys, Home/End,
 * Delete, Backspace, Ctrl-U/W... move and edit as in a shell; escape sequences never become part
 * of the password). Its output is muted, so nothing typed is shown; the prompt goes to the real
 * output only once readline has switched the terminal to raw mode (no echo). Enter ends the line;
 * Ctrl-C rejects with PasswordInputCancelled; Ctrl-D on an empty line (end of input) gives "".
 */
function readHidden(input: NodeJS.ReadStream, output: NodeJS.WritableStream, prompt: string): Promise<string> {
  // Keystrokes are decoded for no interface in particular: when decoding for one, readline treats
  // several keys arriving together (a paste, a fast typist, a pty) as a paste and appends them at
  // the end of the line whatever the cursor, so `hunter2`, left arrow, `X` would give hunter2X.
  // Once the decoder exists, createInterface reuses it.
  emitKeypressEvents(input);
  return new Promise((resolve, reject) => {
    // terminal: true puts the input in raw mode here, before the prompt shows.
    const rl = createInterface({ input, output: mutedOutput(), terminal: true, historySize: 0, prompt: '' });
    let settled = false;
    const finish = (outcome: () => void): void => {
      if (settled) return;
      settled = true;
      rl.close(); // restores the terminal mode and pauses the input
      output.write('\n');
      outcome();
    };
    rl.on('line', (line: string) => finish(() => resolve(line)));
    rl.on('SIGINT', () => finish(() => reject(new PasswordInputCancelled())));
    rl.on('close', () => finish(() => resolve('')));
    output.write(prompt);
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
