import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { FastifyInstance } from 'fastify';
import t from 'tap';
import { CompactSign, compactVerify, createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { Redis } from 'ioredis';
import { buildApp } from '../../src/app.ts';
import { createRuntime } from '../../src/bootstrap/runtime.ts';
import type { HotStore } from '../../src/cache/hot-store.ts';
import { loadConfig } from '../../src/config/load-config.ts';
import type { PublishedList } from '../../src/trust/trust-list.ts';
import { createTrustApp, LOCAL_USCC, type TrustApp } from './trust-kit.ts';
import { hasRealPostgres, hasRedis } from '../helpers/runtime.ts';

const PROBLEM = 'application/problem+json; charset=utf-8';
type Jwks = { keys: JWK[] };

/**
 * A second node of the same platform: its own runtime (PostgreSQL pool, Redis connection, list signer) on the
 * same schema and key prefix, built once and never restarted during the test.
 */
async function secondNode(test: { teardown(fn: () => unknown): void }, first: TrustApp, clock: () => Date): Promise<FastifyInstance> {
  const schema = (await first.runtime.db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0].s;
  const redisKeyPrefix = (first.runtime.hot as HotStore & { client: Redis }).client.options.keyPrefix;
  const config = loadConfig({
    NODE_ENV: 'test', DATABASE_URL: process.env.DATABASE_URL, REDIS_URL: process.env.REDIS_URL, DEMO_DATA: 'false', ISSUER: first.runtime.config.issuer,
  });
  const runtime = await createRuntime(config, { schema, redisKeyPrefix, clock });
  test.teardown(() => runtime.close());
  const app = await buildApp(runtime, { logger: false });
  test.teardown(() => app.close());
  return app;
}

async function published(app: FastifyInstance): Promise<{ jws: string; jwks: Jwks; kid: string; list: PublishedList }> {
  const jwks = (await app.inject({ method: 'GET', url: '/trust/jwks' })).json() as Jwks;
  const jws = (await app.inject({ method: 'GET', url: '/trust/list' })).body;
  // Verified against the published JWKS, as a peer that fetches both would.
  const { payload, protectedHeader } = await compactVerify(jws, createLocalJWKSet(jwks));
  return { jws, jwks, kid: protectedHeader.kid!, list: JSON.parse(new TextDecoder().decode(payload)) };
}

const only = (jwks: Jwks, kid: string): Jwks => ({ keys: jwks.keys.filter((k) => k.kid === kid) });
const kids = (jwks: Jwks) => jwks.keys.map((k) => k.kid).sort();

// Two nodes on one database, and a CLI process beside the server: the embedded database is a single session in one process.
const needsServers = hasRealPostgres && hasRedis ? false : 'DATABASE_URL and REDIS_URL are not set: two nodes and a CLI need a shared PostgreSQL and Redis';

t.test('trust list key rotation: announced, activated on every node, retired after its grace; peers follow their pins', { skip: needsServers }, async (t) => {
  let offsetMs = 0;
  const clock = () => new Date(Date.now() + offsetMs);
  const a = await createTrustApp(t, { clock });
  t.equal((await a.admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: '甲省 CA', uscc: LOCAL_USCC, partnerClientId: null } })).statusCode, 201);
  const node2 = await secondNode(t, a, clock);
  const b = await createTrustApp(t);
  const importInto = (peerId: string, jws: string) => b.admin({ method: 'POST', url: `/admin/trust/peers/${peerId}/import`, payload: { jws } });

  const initial = await published(a.app);
  const oldKid = initial.kid;
  let nextKid = '';
  let followerId = '';
  let laggardId = '';

  await t.test('before any rotation: one active key, signing on both nodes', async (t) => {
    t.same(kids(initial.jwks), [oldKid]);
    const listed = await a.admin({ method: 'GET', url: '/admin/trust/list-keys' });
    t.equal(listed.statusCode, 200);
    t.match(listed.json().keys, [{ kid: oldKid, state: 'active', published: true, retiredAt: null }]);
    t.notOk('d' in listed.json().keys[0].publicJwk, 'public key only');
    t.equal((await published(node2)).kid, oldKid);

    // Two peer sources on platform B pin the only key A publishes now.
    for (const name of ['Province A (follower)', 'Province A (laggard)']) {
      const created = await b.admin({ method: 'POST', url: '/admin/trust/peers', payload: { name, jwks: initial.jwks } });
      t.equal(created.statusCode, 201, created.body);
      if (name.includes('follower')) followerId = created.json().id;
      else laggardId = created.json().id;
    }
    t.equal((await importInto(followerId, initial.jws)).statusCode, 200);
    t.equal((await importInto(laggardId, initial.jws)).statusCode, 200);
  });

  await t.test('only trust:write rotates; trust:read lists', async (t) => {
    for (const url of ['/admin/trust/list-keys/next', '/admin/trust/list-keys/activate']) {
      const denied = await a.admin({ method: 'POST', url, scope: 'admin:audit', payload: {} });
      t.equal(denied.statusCode, 403, url);
    }
    t.equal((await a.admin({ method: 'GET', url: '/admin/trust/list-keys', scope: 'admin:audit' })).statusCode, 200);
    t.equal((await a.admin({ method: 'GET', url: '/admin/trust/list-keys', scope: 'admin:policy' })).statusCode, 403);
    const pin = await b.admin({ method: 'PUT', url: `/admin/trust/peers/${followerId}/jwks`, scope: 'admin:audit', payload: { jwks: initial.jwks } });
    t.equal(pin.statusCode, 403);
    t.same(kids((await published(a.app)).jwks), [oldKid], 'nothing prepared');
  });

  await t.test('activation without a next key is refused and audited', async (t) => {
    const refused = await a.admin({ method: 'POST', url: '/admin/trust/list-keys/activate', payload: {} });
    t.equal(refused.statusCode, 409);
    t.equal(refused.headers['content-type'], PROBLEM);
    t.equal(refused.json().code, 'conflict');
    const noBody = await a.admin({ method: 'POST', url: '/admin/trust/list-keys/activate' });
    t.equal(noBody.statusCode, 409, 'no body means the default grace, and still no next key');
    const failures = (await a.runtime.audit.list({ event: 'trust.list_key.activated' })).filter((e) => e.result === 'failure');
    t.equal(failures.length, 2);
    t.equal((await published(a.app)).kid, oldKid);
  });

  await t.test('a prepared next key is published but does not sign', async (t) => {
    const prepared = await a.admin({ method: 'POST', url: '/admin/trust/list-keys/next' });
    t.equal(prepared.statusCode, 201, prepared.body);
    t.match(prepared.json(), { state: 'next', published: true, activatedAt: null });
    nextKid = prepared.json().kid;
    t.not(nextKid, oldKid);
    const again = await a.admin({ method: 'POST', url: '/admin/trust/list-keys/next' });
    t.equal(again.statusCode, 409, 'one next key at a time');
    t.match(again.json().detail, nextKid);

    for (const [name, app] of [['node 1', a.app], ['node 2', node2]] as const) {
      const now = await published(app);
      t.same(kids(now.jwks), [nextKid, oldKid].sort(), `${name}: both keys in /trust/jwks`);
      t.equal(now.kid, oldKid, `${name}: still signed by the old key`);
      await t.rejects(compactVerify(now.jws, createLocalJWKSet(only(now.jwks, nextKid))), `${name}: the next key does not verify it`);
    }
    const audited = await a.runtime.audit.list({ event: 'trust.list_key.prepared' });
    t.same(audited.map((e) => e.result).sort(), ['failure', 'success']);
    t.ok(audited.some((e) => e.result === 'success' && e.detail?.kid === nextKid));
  });

  await t.test('a peer pin is updated by an admin: public keys only, audited', async (t) => {
    const current = (await published(a.app)).jwks;
    const withPrivate = await b.admin({ method: 'PUT', url: `/admin/trust/peers/${followerId}/jwks`, payload: { jwks: { keys: [{ ...current.keys[0], d: 'AAAA' }] } } });
    t.equal(withPrivate.statusCode, 400);
    t.match(withPrivate.json().detail, /private key material/);
    t.equal((await b.admin({ method: 'PUT', url: `/admin/trust/peers/${followerId}/jwks`, payload: { jwks: { keys: [] } } })).statusCode, 400);
    t.equal((await b.admin({ method: 'PUT', url: `/admin/trust/peers/${followerId}/jwks`, payload: { keys: current.keys } })).statusCode, 400, 'the body is { jwks }');
    const missing = await b.admin({ method: 'PUT', url: '/admin/trust/peers/00000000-0000-4000-8000-000000000000/jwks', payload: { jwks: current } });
    t.equal(missing.statusCode, 404);
    t.same(kids((await b.admin({ method: 'GET', url: `/admin/trust/peers/${followerId}` })).json().jwks), [oldKid], 'refusals changed nothing');

    const updated = await b.admin({ method: 'PUT', url: `/admin/trust/peers/${followerId}/jwks`, payload: { jwks: current } });
    t.equal(updated.statusCode, 200, updated.body);
    t.same(kids(updated.json().jwks), [nextKid, oldKid].sort());
    const audited = (await b.runtime.audit.list({ event: 'trust.peer.jwks_updated' })).find((e) => e.result === 'success');
    t.match(audited?.detail, { peerId: followerId, before: { kids: [oldKid] } });
    t.same([...(audited?.detail?.after as { kids: string[] }).kids].sort(), [nextKid, oldKid].sort());

    // A change on A issues a new list, still signed by the old key: the follower's wider pin accepts it.
    t.equal((await a.admin({ method: 'PUT', url: `/admin/trust/operators/${initial.list.operators[0].id}`, payload: { name: '甲省 CA（更名）', uscc: LOCAL_USCC } })).statusCode, 200);
    const changed = await published(a.app);
    t.equal(changed.kid, oldKid);
    const imported = await importInto(followerId, changed.jws);
    t.equal(imported.statusCode, 200, imported.body);
    t.equal(imported.json().source.lastSequence, changed.list.scheme.sequenceNumber);
  });

  await t.test('bad grace periods are refused and leave the next key waiting', async (t) => {
    for (const [name, body] of [['negative', { retireGraceSeconds: -1 }], ['fractional', { retireGraceSeconds: 1.5 }], ['text', { retireGraceSeconds: 'soon' }],
      ['over a year', { retireGraceSeconds: 400 * 24 * 3600 }], ['unknown field', { graceSeconds: 60 }]] as const) {
      const refused = await a.admin({ method: 'POST', url: '/admin/trust/list-keys/activate', payload: body });
      t.equal(refused.statusCode, 400, `${name}: 400`);
    }
    const keys = (await a.admin({ method: 'GET', url: '/admin/trust/list-keys' })).json().keys as { kid: string; state: string }[];
    t.same(keys.map((k) => [k.kid, k.state]), [[oldKid, 'active'], [nextKid, 'next']]);
  });

  const graceSeconds = 120;
  let rotated: Awaited<ReturnType<typeof published>>;

  await t.test('activation: the next key signs on every node, without a restart; the old one is retired but still published', async (t) => {
    const sequenceBefore = (await published(a.app)).list.scheme.sequenceNumber;
    const activated = await a.admin({ method: 'POST', url: '/admin/trust/list-keys/activate', payload: { retireGraceSeconds: graceSeconds } });
    t.equal(activated.statusCode, 200, activated.body);
    const body = activated.json();
    t.match(body.activated, { kid: nextKid, state: 'active', published: true });
    t.match(body.retired, { kid: oldKid, state: 'retired', published: true });
    t.equal(new Date(body.retired.publishUntil).getTime() - new Date(body.retired.retiredAt).getTime(), graceSeconds * 1000);
    t.ok(body.sequenceNumber > sequenceBefore, 'the list is issued again under a new sequence number');

    for (const [name, app] of [['node 1', a.app], ['node 2', node2]] as const) {
      const now = await published(app);
      t.equal(now.kid, nextKid, `${name}: signed by the new key`);
      t.equal(now.list.scheme.sequenceNumber, body.sequenceNumber, `${name}: the re-issued list`);
      t.same(kids(now.jwks), [nextKid, oldKid].sort(), `${name}: the retired key is still published`);
      await t.rejects(compactVerify(now.jws, createLocalJWKSet(only(now.jwks, oldKid))), `${name}: the old key does not verify it`);
    }
    rotated = await published(node2);
    const audited = (await a.runtime.audit.list({ event: 'trust.list_key.activated' })).find((e) => e.result === 'success');
    t.match(audited?.detail, { kid: nextKid, retiredKid: oldKid, retireGraceSeconds: graceSeconds, sequenceNumber: body.sequenceNumber });
    t.equal((await a.admin({ method: 'POST', url: '/admin/trust/list-keys/activate', payload: {} })).statusCode, 409, 'nothing left to activate');
  });

  await t.test('peers across the rotation: the wider pin keeps importing, the old pin refuses until updated', async (t) => {
    const follower = await importInto(followerId, rotated.jws);
    t.equal(follower.statusCode, 200, follower.body);
    t.equal(follower.json().operators, 1);

    const laggard = await importInto(laggardId, rotated.jws);
    t.equal(laggard.statusCode, 400);
    t.equal(laggard.json().code, 'unknown_signing_key');
    t.match(laggard.json().detail, nextKid);
    t.equal((await b.admin({ method: 'GET', url: `/admin/trust/peers/${laggardId}` })).json().lastSequence, initial.list.scheme.sequenceNumber, 'still the old list');

    t.equal((await b.admin({ method: 'PUT', url: `/admin/trust/peers/${laggardId}/jwks`, payload: { jwks: rotated.jwks } })).statusCode, 200);
    const caughtUp = await importInto(laggardId, rotated.jws);
    t.equal(caughtUp.statusCode, 200, caughtUp.body);
    t.equal(caughtUp.json().source.lastSequence, rotated.list.scheme.sequenceNumber);
  });

  await t.test('after its grace the retired key leaves /trust/jwks on every node but stays on record', async (t) => {
    offsetMs = (graceSeconds - 1) * 1000;
    t.same(kids((await published(a.app)).jwks), [nextKid, oldKid].sort(), 'within the grace');
    offsetMs = (graceSeconds + 1) * 1000;
    for (const app of [a.app, node2]) {
      const now = await published(app);
      t.same(kids(now.jwks), [nextKid]);
      t.equal(now.kid, nextKid);
    }
    const keys = (await a.admin({ method: 'GET', url: '/admin/trust/list-keys' })).json().keys;
    t.match(keys, [{ kid: nextKid, state: 'active', published: true }, { kid: oldKid, state: 'retired', published: false }]);
    t.equal(keys.length, 2);
  });

  await t.test('the next rotation can begin: a third key is announced beside the active one only', async (t) => {
    const third = await a.admin({ method: 'POST', url: '/admin/trust/list-keys/next' });
    t.equal(third.statusCode, 201);
    t.same(kids((await published(node2)).jwks), [nextKid, third.json().kid].sort());
    t.equal((await published(node2)).kid, nextKid);
  });
});

t.test('a peer pinning several keys without kids accepts a list signed by any of them', async (t) => {
  const b = await createTrustApp(t);
  const a = await createTrustApp(t);
  const { list } = await published(a.app);
  const pairs = await Promise.all([1, 2, 3].map(() => generateKeyPair('ES256', { extractable: true })));
  const pin = async (k: CryptoKey) => {
    const { kty, crv, x, y } = await exportJWK(k);
    return { kty, crv, x, y, alg: 'ES256' };
  };
  const source = await b.admin({
    method: 'POST', url: '/admin/trust/peers', payload: { name: 'Province K', jwks: { keys: [await pin(pairs[0].publicKey), await pin(pairs[1].publicKey)] } },
  });
  t.equal(source.statusCode, 201, source.body);
  const sign = (key: CryptoKey, sequenceNumber: number) =>
    new CompactSign(new TextEncoder().encode(JSON.stringify({ ...list, scheme: { ...list.scheme, sequenceNumber } })))
      .setProtectedHeader({ alg: 'ES256', typ: 'trust-list+jwt' }).sign(key);

  const byStranger = await b.admin({ method: 'POST', url: `/admin/trust/peers/${source.json().id}/import`, payload: { jws: await sign(pairs[2].privateKey, 5) } });
  t.equal(byStranger.statusCode, 400);
  t.equal(byStranger.json().code, 'invalid_signature', 'no pinned key verifies it');
  const bySecond = await b.admin({ method: 'POST', url: `/admin/trust/peers/${source.json().id}/import`, payload: { jws: await sign(pairs[1].privateKey, 6) } });
  t.equal(bySecond.statusCode, 200, bySecond.body);
  const byFirst = await b.admin({ method: 'POST', url: `/admin/trust/peers/${source.json().id}/import`, payload: { jws: await sign(pairs[0].privateKey, 7) } });
  t.equal(byFirst.statusCode, 200, byFirst.body);
  t.equal(byFirst.json().source.lastSequence, 7);
  t.equal(decodeProtectedHeader(await sign(pairs[0].privateKey, 8)).kid, undefined, 'the header names no key');
});

t.test('CLI: npm run trust-list-keys -- list | next | activate on the same database', { skip: needsServers }, async (t) => {
  const a = await createTrustApp(t);
  const before = await published(a.app);
  const schema = (await a.runtime.db.query<{ s: string }>('SELECT current_schema() AS s')).rows[0].s;
  const url = new URL(process.env.DATABASE_URL!);
  url.searchParams.set('options', `-c search_path=${schema}`);
  const cli = (...args: string[]) => promisify(execFile)('npx', ['node', 'scripts/trust-list-keys.ts', ...args], {
    cwd: new URL('../../', import.meta.url).pathname, env: { ...process.env, DATABASE_URL: url.toString(), NODE_ENV: 'test' },
  }).then(({ stdout }) => ({ code: 0, stdout, stderr: '' }), (error: { code: number; stdout: string; stderr: string }) => ({ code: error.code, stdout: error.stdout, stderr: error.stderr }));

  const usage = await cli('rotate');
  t.equal(usage.code, 1);
  t.match(usage.stderr, /usage: npm run trust-list-keys/);
  t.equal((await cli('activate', '--grace-seconds', '-5')).code, 1, 'a negative grace is refused');
  const nothing = await cli('activate');
  t.equal(nothing.code, 1);
  t.match(nothing.stderr, /conflict: No next key is prepared/);

  const next = await cli('next');
  t.equal(next.code, 0, next.stderr);
  const nextKid = /Prepared next key (\S+);/.exec(next.stdout)?.[1];
  t.ok(nextKid);
  t.same(kids((await published(a.app)).jwks), [before.kid, nextKid].sort());
  const listed = await cli('list');
  t.match(listed.stdout, new RegExp(`active\\s+${before.kid}`));
  t.match(listed.stdout, new RegExp(`next\\s+${nextKid}`));

  const activated = await cli('activate', '--grace-seconds', '0');
  t.equal(activated.code, 0, activated.stderr);
  const after = await published(a.app);
  t.equal(after.kid, nextKid, 'the running app signs with the key the CLI activated');
  t.same(kids(after.jwks), [nextKid], 'no grace: the old key is withdrawn at once');
  t.ok((await a.runtime.audit.list({ event: 'trust.list_key.activated' })).some((e) => e.result === 'success' && e.actor === 'cli'));
});
