import { spawn } from 'node:child_process';
import { CLI } from './paths.js';

/**
 * Runs the CLI on a real pseudo-terminal (util-linux `script`), typing each answer only after its
 * prompt appeared, as a person would. Returns everything the terminal showed.
 */
export function runInTerminal(args: string[], dialogue: { prompt: string; type: string }[]): Promise<{ code: number | null; screen: string }> {
  return new Promise((resolve, reject) => {
    const command = [CLI, ...args].map((part) => `'${part.replaceAll("'", "'\\''")}'`).join(' ');
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let screen = '';
    let step = 0;
    let searchFrom = 0;
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      screen += chunk;
      const next = dialogue[step];
      if (!next) return;
      const at = screen.indexOf(next.prompt, searchFrom);
      if (at === -1) return;
      searchFrom = at + next.prompt.length;
      step++;
      child.stdin.write(next.type);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, screen }));
  });
}
