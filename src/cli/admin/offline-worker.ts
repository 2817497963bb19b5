import type { OfflineRequest } from './offline-snapshot.js';

/**
 * The child process of runOffline (offline-snapshot.ts): runs one
 * snapshot-file function and sends back its result or its error message.
 */
process.once('message', (request: OfflineRequest) => {
  void handle(request).then(
    (ok) => reply({ ok }),
    (err: unknown) => reply({ error: err instanceof Error ? err.message : String(err) }),
  );
});

async function handle(request: OfflineRequest): Promise<unknown> {
  const snapshotFile = await import('../../server/snapshot/snapshot-file.js');
  switch (request.kind) {
    case 'status':
      return snapshotFile.snapshotStatus(request.path);
    case 'restore':
      return snapshotFile.restoreSnapshot(request.options);
    case 'export':
      return snapshotFile.exportSnapshot(request.path, request.dest, request.skipHashCheck);
  }
}

function reply(message: { ok?: unknown; error?: string }): void {
  process.send?.(message, undefined, {}, () => process.disconnect());
}
