import type { Logger } from 'pino';
import type { Daemon } from './daemon.js';

type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * Ends the process at once by the signal's default action. Not process.exit(): that joins
 * libuv's worker threads, and a thread blocked in a read (a FIFO, a hung network mount) would
 * hold the process, and its ports, for good. Killed by the signal, the shell and systemd see
 * 128 + its number, as for any program that does not handle it.
 */
function dieBy(signal: StopSignal, removeHandlers: () => void): void {
  removeHandlers();
  process.kill(process.pid, signal);
  // Should the default action not end it (it always does on Linux), nothing else will.
  setTimeout(() => process.kill(process.pid, 'SIGKILL'), 1000).unref();
}

/**
 * SIGTERM/SIGINT: graceful stop (drain, exit 0); a second one ends the process at once, whatever
 * it is waiting for. SIGHUP: reload, the counterpart of `tell restapi reload`. Returns a function
 * that removes the handlers.
 */
export function handleSignals(daemon: Daemon, log: Logger): () => void {
  let stopRequested = false;
  const onStop = (signal: StopSignal): void => {
    if (stopRequested) {
      log.warn({ signal }, `${signal} again: exiting now without draining`);
      dieBy(signal, remove);
      return;
    }
    stopRequested = true;
    daemon.shutdown(signal);
  };
  const onTerm = (): void => onStop('SIGTERM');
  const onInt = (): void => onStop('SIGINT');
  const onHup = (): void => void daemon.reload({ trigger: 'signal', origin: 'SIGHUP' }).catch((error: unknown) => log.error({ err: error }, 'reload failed'));
  process.on('SIGTERM', onTerm);
  process.on('SIGINT', onInt);
  process.on('SIGHUP', onHup);
  function remove(): void {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  }
  return remove;
}
