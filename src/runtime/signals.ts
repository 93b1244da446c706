import type { Logger } from 'pino';
import type { Daemon } from './daemon.js';

const SIGNAL_NUMBERS = { SIGINT: 2, SIGTERM: 15 } as const;

/**
 * SIGTERM/SIGINT: graceful stop (drain, exit 0); a second one exits at once. SIGHUP: reload, the
 * counterpart of `tell restapi reload`. Returns a function that removes the handlers.
 */
export function handleSignals(daemon: Daemon, log: Logger, exit: (code: number) => never = (code) => process.exit(code)): () => void {
  let stopRequested = false;
  const onStop = (signal: keyof typeof SIGNAL_NUMBERS): void => {
    if (stopRequested) {
      log.warn({ signal }, `${signal} again: exiting now without draining`);
      exit(128 + SIGNAL_NUMBERS[signal]);
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
  return () => {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    process.off('SIGHUP', onHup);
  };
}
