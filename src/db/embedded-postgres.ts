import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { PGLiteSocketServer } from '@electric-sql/pglite-socket';

export type EmbeddedPostgres = {
  connectionString: string;
  stop(): Promise<void>;
};

/**
 * PGlite served over the PostgreSQL wire protocol on loopback, so the very same `pg` code path runs
 * against it as against a real server. `dataDir` undefined keeps it in memory (tests).
 */
export async function startEmbeddedPostgres(options: { dataDir?: string; port?: number } = {}): Promise<EmbeddedPostgres> {
  if (options.dataDir) mkdirSync(options.dataDir, { recursive: true });
  const db = await PGlite.create(options.dataDir);
  // The pool uses one connection at a time, but a connection discarded after an error may still be closing
  // when its replacement connects; with the default limit of one the replacement would be refused.
  const server = new PGLiteSocketServer({ db, host: '127.0.0.1', port: options.port ?? 0, maxConnections: 4 });
  await server.start();
  const address = server.getServerConn();
  return {
    connectionString: `postgres://postgres@${address}/postgres?sslmode=disable`,
    async stop() {
      await server.stop();
      await db.close();
    },
  };
}
