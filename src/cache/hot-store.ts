/**
 * Short-lived state shared by every node: interactions, authorization codes, OTPs, replay and rate-limit
 * counters. Backed by Redis when configured, otherwise by UNLOGGED PostgreSQL tables. Nothing durable
 * (accounts, sessions, refresh tokens, audit) may live here.
 */
export type HotStore = {
  readonly kind: 'redis' | 'postgres';
  get(key: string): Promise<string | null>;
  set(key: string, value: string, ttlSeconds: number): Promise<void>;
  /** Sets only if absent; true when this call created it. */
  setIfAbsent(key: string, value: string, ttlSeconds: number): Promise<boolean>;
  /** Reads and deletes atomically: at most one caller ever gets the value (single-use secrets). */
  take(key: string): Promise<string | null>;
  delete(...keys: string[]): Promise<void>;
  /** Atomic counter; the window's expiry is set by the first increment and not extended after. */
  increment(key: string, windowSeconds: number): Promise<{ count: number; resetInSeconds: number }>;
  addToSet(key: string, member: string, ttlSeconds: number): Promise<void>;
  setMembers(key: string): Promise<string[]>;
  ping(): Promise<void>;
  close(): Promise<void>;
};
