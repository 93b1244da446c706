/**
 * How much of the machine other work took during the benchmark: CPU time of the whole machine
 * (/proc/stat) minus that of this process and its children (servers, wrk, curl; counted once
 * they have exited and been reaped), in cores. Other people's jobs on a shared machine are
 * the main source of noise in the figures; this says how much there was.
 */
import { readFileSync } from 'node:fs';

interface Sample {
  at: number;
  machine: number;
  ours: number;
}

function ticks(): { machine: number; ours: number } {
  // cpu  user nice system idle iowait irq softirq steal ...
  const cpu = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // irq and softirq are left out: loopback traffic is partly counted there, not in any process.
  const [user = 0, nice = 0, system = 0, , , , , steal = 0] = cpu;
  // After the command name (which may hold spaces, in parentheses): utime stime cutime cstime are fields 14-17.
  const own = readFileSync('/proc/self/stat', 'utf8');
  const fields = own.slice(own.lastIndexOf(')') + 2).split(' ').map(Number);
  const [utime = 0, stime = 0, cutime = 0, cstime = 0] = fields.slice(11, 15);
  return { machine: user + nice + system + steal, ours: utime + stime + cutime + cstime };
}

export function startNoise(): () => number {
  let first: Sample;
  try {
    first = { at: Date.now(), ...ticks() };
  } catch {
    return () => NaN; // not Linux
  }
  return () => {
    const now = ticks();
    const seconds = (Date.now() - first.at) / 1000;
    // USER_HZ is 100 on Linux.
    return (now.machine - first.machine - (now.ours - first.ours)) / 100 / seconds;
  };
}
