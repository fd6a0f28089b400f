/** Starts `server` listening on `host:port` (0: a free port); rejects with the listen error. */
import type { Server } from 'node:net';

export function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
