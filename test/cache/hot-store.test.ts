import t, { type Test } from 'tap';
import { createTestRuntime, hasRedis } from '../helpers/runtime.ts';
import { createPostgresStore } from '../../src/cache/postgres-store.ts';
import { createRedisStore } from '../../src/cache/redis-store.ts';
import type { HotStore } from '../../src/cache/hot-store.ts';
import { randomBytes } from 'node:crypto';

/** The same contract for both implementations (repository contract tests on real servers). */
async function contract(t: Test, store: HotStore) {
  t.equal(await store.get('missing'), null);
  await store.set('a', '1', 60);
  t.equal(await store.get('a'), '1');
  t.equal(await store.setIfAbsent('a', '2', 60), false, 'setIfAbsent does not overwrite');
  t.equal(await store.setIfAbsent('b', '2', 60), true);
  t.equal(await store.take('a'), '1', 'take returns the value');
  t.equal(await store.take('a'), null, 'take gives a value at most once');
  const takes = await Promise.all(Array.from({ length: 10 }, () => store.take('b')));
  t.equal(takes.filter((v) => v !== null).length, 1, 'concurrent takes: exactly one winner');
  t.same(await store.increment('c', 60), { count: 1, resetInSeconds: 60 });
  t.equal((await store.increment('c', 60)).count, 2);
  const counts = await Promise.all(Array.from({ length: 20 }, () => store.increment('d', 60)));
  t.same(counts.map((c) => c.count).sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1), 'increments are atomic');
  await store.addToSet('s', 'x', 60);
  await store.addToSet('s', 'y', 60);
  await store.addToSet('s', 'x', 60);
  t.same((await store.setMembers('s')).sort(), ['x', 'y']);
  await store.delete('s', 'c');
  t.same(await store.setMembers('s'), []);
  t.equal(await store.get('c'), null);
  await store.set('short', 'v', 1);
  await new Promise((resolve) => setTimeout(resolve, 2100));
  t.equal(await store.get('short'), null, 'entries expire');
  t.equal((await store.increment('short-counter', 1)).count, 1);
  await new Promise((resolve) => setTimeout(resolve, 2100));
  t.equal((await store.increment('short-counter', 1)).count, 1, 'a counter window restarts after expiry');
}



t.test('PostgreSQL hot store honours the contract', async (t) => {
  const runtime = await createTestRuntime(t);
  await contract(t, createPostgresStore(runtime.db));
});

t.test('Redis hot store honours the contract', { skip: hasRedis ? false : 'REDIS_URL is not set: no Redis to test against' }, async (t) => {
  const store = createRedisStore({ url: process.env.REDIS_URL!, keyPrefix: `t:${randomBytes(6).toString('hex')}:` });
  t.teardown(() => store.close());
  await contract(t, store);
});
