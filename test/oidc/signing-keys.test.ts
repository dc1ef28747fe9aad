import t from 'tap';
import { createLocalJWKSet, jwtVerify, SignJWT, importJWK, type JWK } from 'jose';
import { createTestRuntime } from '../helpers/runtime.ts';
import { createSigningKeyStore } from '../../src/oidc/signing-keys.ts';

t.test('signing keys: generated once, rotated with the old key kept in the JWKS for its grace period', async (t) => {
  const runtime = await createTestRuntime(t);
  const store = createSigningKeyStore({ db: runtime.db, protector: runtime.protector, origin: 'development' });

  const first = await store.load();
  t.same(first.keys.map((k) => k.alg), ['RS256', 'ES256'], 'one active key per algorithm, RS256 first');
  await store.ensureActiveKeys();
  t.equal((await store.load()).keys.length, 2, 'ensureActiveKeys is idempotent');
  t.same([...first.origins], ['development']);

  const oldRs = first.keys[0];
  const signedByOld = await new SignJWT({ sub: 'x' }).setProtectedHeader({ alg: 'RS256', kid: oldRs.kid })
    .setIssuer('http://localhost:3000').setExpirationTime('5m').sign(await importJWK(oldRs as JWK, 'RS256'));

  const { retired, created } = await store.rotate(600);
  t.equal(retired.length, 2);
  t.equal(created.length, 2);
  const after = await store.load();
  t.equal(after.keys.length, 4, 'old keys still published during the grace period');
  t.equal(after.keys[0].kid, created.find((kid) => after.keys.find((k) => k.kid === kid)?.alg === 'RS256'), 'the new RS256 key signs first');
  const publicJwks = { keys: after.keys.map(({ d: _d, p: _p, q: _q, dp: _dp, dq: _dq, qi: _qi, ...pub }) => pub) };
  await t.resolves(jwtVerify(signedByOld, createLocalJWKSet(publicJwks)), 'tokens signed before rotation still verify');

  const second = await store.rotate(0);
  const later = await store.load();
  t.same(second.retired.sort(), [...created].sort());
  t.notOk(later.keys.some((k) => created.includes(k.kid!)), 'keys retired with no grace period leave the JWKS at once');
  t.ok(later.keys.some((k) => k.kid === oldRs.kid), 'keys still inside their own grace period stay');
  t.equal(later.keys.length, 4);
});
