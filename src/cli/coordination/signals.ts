/** The signals that ask a long-running command to stop. */
export type StopSignal = 'SIGINT' | 'SIGTERM';

/**
 * Calls `handler` on SIGINT or SIGTERM (each time one arrives) instead of
 * Node's default of dying on the spot, so a command can release what it
 * holds and flush its output first. Returns the function that removes the
 * handlers again.
 */
export function onStopSignal(handler: (signal: StopSignal) => void): () => void {
  const listeners = (['SIGINT', 'SIGTERM'] as const).map((signal) => {
    const listener = (): void => handler(signal);
    process.on(signal, listener);
    return [signal, listener] as const;
  });
  return () => {
    for (const [signal, listener] of listeners) process.off(signal, listener);
  };
}

/** A promise that resolves with the first stop signal, and the function that stops listening. */
export function nextStopSignal(): { signal: Promise<StopSignal>; dispose: () => void } {
  let dispose = (): void => undefined;
  const signal = new Promise<StopSignal>((resolve) => {
    dispose = onStopSignal(resolve);
  });
  return { signal, dispose };
}
