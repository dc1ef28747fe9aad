import pg from 'pg';

export type Queryable = {
  query<R extends pg.QueryResultRow = pg.QueryResultRow>(text: string, values?: readonly unknown[]): Promise<pg.QueryResult<R>>;
};

export type Database = Queryable & {
  /** Runs `work` in one transaction on one connection; rolls back on any throw so nothing is left half-written. */
  transaction<T>(work: (tx: Queryable) => Promise<T>): Promise<T>;
  close(): Promise<void>;
};

export type DatabaseOptions = {
  connectionString: string;
  /** PGlite serves a single session, so the embedded default uses a pool of one. */
  maxConnections: number;
  /** Schema to put first on the search path (each test file gets its own). */
  schema?: string;
};

export function createDatabase(options: DatabaseOptions): Database {
  const pool = new pg.Pool({
    connectionString: options.connectionString,
    max: options.maxConnections,
    options: options.schema ? `-c search_path=${options.schema}` : undefined,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => {});

  return {
    query: (text, values) => pool.query(text, values as unknown[]),
    async transaction(work) {
      const client = await pool.connect();
      try {
        await client.query('BEGIN');
        const result = await work({ query: (text, values) => client.query(text, values as unknown[]) });
        await client.query('COMMIT');
        client.release();
        return result;
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {});
        // A connection that saw an error is discarded rather than reused: PGlite's socket server can leave
        // the protocol out of step after an error (electric-sql/pglite#958).
        client.release(error as Error);
        throw error;
      }
    },
    close: () => pool.end(),
  };
}
