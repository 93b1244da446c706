import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { freePortFor } from './free-port.js';

/** Debian's redis-server; REDIS_SERVER names another. */
export const REDIS_SERVER = process.env.REDIS_SERVER ?? '/usr/bin/redis-server';

/**
 * A real redis-server of the tests' and benchmarks' own, on a free loopback port, in a temporary
 * folder, persisting nothing. `kill` and `start` again (same port, same password) stand for an
 * outage; `pause`/`resume` (SIGSTOP/SIGCONT) for a Redis that accepts connections but never answers.
 */
export class RedisServer {
  readonly port: number;
  readonly password: string | undefined;
  readonly #dir: string;
  #child: ChildProcess | undefined;

  private constructor(port: number, dir: string, password: string | undefined) {
    this.port = port;
    this.#dir = dir;
    this.password = password;
  }

  static async start(options: { password?: string } = {}): Promise<RedisServer> {
    const dir = await mkdtemp(path.join(tmpdir(), 'keepd-redis-'));
    const server = new RedisServer(await freePortFor(), dir, options.password);
    await server.start();
    return server;
  }

  /** redis://[:password@]127.0.0.1:port */
  get url(): string {
    return `redis://${this.password === undefined ? '' : `:${encodeURIComponent(this.password)}@`}127.0.0.1:${this.port}`;
  }

  get running(): boolean {
    return this.#child !== undefined;
  }

  async start(): Promise<void> {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.#dir, '--loglevel', 'warning'];
    if (this.password !== undefined) args.push('--requirepass', this.password);
    const child = spawn(REDIS_SERVER, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    this.#child = child;
    let output = '';
    child.once('error', (error) => (output += `${error.message} (install it: apt-get install redis-server)`));
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    const deadline = Date.now() + 10_000;
    while (!(await this.#answersPing())) {
      if (child.exitCode !== null || output.includes('apt-get') || Date.now() > deadline) throw new Error(`redis-server did not start on port ${this.port}:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** SIGKILL: connections drop at once, as when a Redis pod dies. */
  async kill(): Promise<void> {
    const child = this.#child;
    this.#child = undefined;
    if (!child || child.exitCode !== null) return;
    child.kill('SIGCONT'); // a paused server would otherwise keep its port a moment longer
    const exited = once(child, 'exit');
    child.kill('SIGKILL');
    await exited;
  }

  pause(): void {
    this.#child?.kill('SIGSTOP');
  }

  resume(): void {
    this.#child?.kill('SIGCONT');
  }

  /** Sends one command (RESP) on a fresh connection, authenticated, and returns the raw reply. */
  async command(...words: string[]): Promise<string> {
    const auth = this.password === undefined ? [] : [['AUTH', this.password]];
    const replies = await rawCommands(this.port, [...auth, words]);
    return replies.slice(auth.length).join('');
  }

  /** One command in database `db` (SELECT first, on the same connection). */
  async commandIn(db: number, ...words: string[]): Promise<string> {
    const auth = this.password === undefined ? [] : [['AUTH', this.password]];
    const replies = await rawCommands(this.port, [...auth, ['SELECT', String(db)], words]);
    return replies.slice(auth.length + 1).join('');
  }

  /** INFO commandstats as {command: calls}. */
  async commandCalls(): Promise<Record<string, number>> {
    const text = await this.command('INFO', 'commandstats');
    return Object.fromEntries([...text.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)].map((match) => [match[1] ?? '', Number(match[2])]));
  }

  async stop(): Promise<void> {
    await this.kill();
    await rm(this.#dir, { recursive: true, force: true });
  }

  async #answersPing(): Promise<boolean> {
    try {
      return /PONG|NOAUTH/.test((await rawCommands(this.port, [['PING']])).join(''));
    } catch {
      return false;
    }
  }
}

/** Writes each command as a RESP array and reads until every reply came (one line or bulk each is enough here). */
function rawCommands(port: number, commands: string[][]): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    let data = '';
    const timer = setTimeout(() => socket.destroy(new Error('redis did not answer within 2 s')), 2000);
    socket.setEncoding('utf8');
    socket.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    socket.on('data', (chunk: string) => {
      data += chunk;
      const replies = splitReplies(data);
      if (replies.length < commands.length) return;
      clearTimeout(timer);
      socket.end();
      resolve(replies);
    });
    socket.write(commands.map((words) => `*${words.length}\r\n${words.map((word) => `$${Buffer.byteLength(word)}\r\n${word}\r\n`).join('')}`).join(''));
  });
}

/** Complete RESP replies in `data`: simple lines (+ - :), bulk strings ($), and arrays of those (*). */
function splitReplies(data: string): string[] {
  const out: string[] = [];
  let at = 0;
  const one = (): string | undefined => {
    const end = data.indexOf('\r\n', at);
    if (end < 0) return undefined;
    const head = data.slice(at, end);
    at = end + 2;
    if (head.startsWith('$')) {
      const length = Number(head.slice(1));
      if (length < 0) return '';
      const body = Buffer.from(data.slice(at), 'utf8');
      if (body.length < length + 2) return undefined;
      const text = body.subarray(0, length).toString('utf8');
      at += text.length + 2;
      return text;
    }
    if (head.startsWith('*')) {
      const items: string[] = [];
      for (let i = 0; i < Number(head.slice(1)); i++) {
        const item = one();
        if (item === undefined) return undefined;
        items.push(item);
      }
      return items.join('\n');
    }
    return head;
  };
  for (;;) {
    const start = at;
    const reply = one();
    if (reply === undefined) {
      at = start;
      return out;
    }
    out.push(reply);
  }
}
