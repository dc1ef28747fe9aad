import { Redis } from 'ioredis';
import type { HotStore } from './hot-store.ts';

export function createRedisStore(options: { url: string; keyPrefix?: string }): HotStore & { client: Redis } {
  const client = new Redis(options.url, {
    keyPrefix: options.keyPrefix ?? 'idp:',
    maxRetriesPerRequest: 2,
    enableAutoPipelining: true,
    lazyConnect: false,
  });
  // Connection errors surface on the commands that fail; without a listener ioredis would crash the process.
  client.on('error', () => {});

  return {
    kind: 'redis',
    client,
    get: (key) => client.get(key),
    async set(key, value, ttlSeconds) {
      await client.set(key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)));
    },
    async setIfAbsent(key, value, ttlSeconds) {
      return (await client.set(key, value, 'EX', Math.max(1, Math.ceil(ttlSeconds)), 'NX')) === 'OK';
    },
    take: (key) => client.getdel(key),
    async delete(...keys) {
      if (keys.length > 0) await client.del(...keys);
    },
    async increment(key, windowSeconds) {
      const result = await client
        .multi()
        .incr(key)
        .expire(key, Math.max(1, Math.ceil(windowSeconds)), 'NX')
        .ttl(key)
        .exec();
      if (!result) throw new Error('redis transaction aborted');
      const [[incrError, count], , [, ttl]] = result;
      if (incrError) throw incrError;
      return { count: Number(count), resetInSeconds: Math.max(0, Number(ttl)) };
    },
    async addToSet(key, member, ttlSeconds) {
      const ttl = Math.max(1, Math.ceil(ttlSeconds));
      // Extend, never shorten: the set must outlive its longest-lived member.
      await client.multi().sadd(key, member).expire(key, ttl, 'GT').expire(key, ttl, 'NX').exec();
    },
    setMembers: (key) => client.smembers(key),
    async ping() {
      await client.ping();
    },
    async close() {
      await client.quit().catch(() => client.disconnect());
    },
  };
}
