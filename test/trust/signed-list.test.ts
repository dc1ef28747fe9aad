import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import t from 'tap';
import { CompactSign, compactVerify, createLocalJWKSet, decodeProtectedHeader, exportJWK, generateKeyPair, type JWK } from 'jose';
import type { PublishedList } from '../../src/trust/trust-list.ts';
import { createTestPki } from '../helpers/test-pki.ts';
import { createTrustApp, LOCAL_USCC, pem, serviceBody, uscc } from './trust-kit.ts';

const PROBLEM = 'application/problem+json; charset=utf-8';
const HOUR = 60 * 60 * 1000;

async function signAs(payload: unknown, key: CryptoKey, kid: string, typ = 'trust-list+jwt') {
  return new CompactSign(new TextEncoder().encode(JSON.stringify(payload))).setProtectedHeader({ alg: 'ES256', kid, typ }).sign(key);
}

t.test('signed trust list: published as a JWS, verified with the JWKS, imported by a peer platform', async (t) => {
  // Platform A publishes; it listens on a real port so that B can fetch its list.
  const a = await createTrustApp(t);
  await a.app.listen({ port: 0, host: '127.0.0.1' });
  const listUrl = `http://127.0.0.1:${(a.app.server.address() as AddressInfo).port}/trust/list`;
  const pki = createTestPki(t);
  const sm2Root = pki.root({ name: 'Province A SM2 Root', keyType: 'sm2' });
  const sm2Issuing = sm2Root.intermediate({ name: 'Province A SM2 Issuing CA' });
  const rsaRoot = pki.root({ name: 'Province A RSA Root', keyType: 'rsa' });
  const leaf = sm2Issuing.leaf({ name: '王五' });

  const operator = (await a.admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: '甲省 CA', uscc: LOCAL_USCC, miitLicence: 'ECP-A-001', partnerClientId: null } })).json();
  const granted = (await a.admin({
    method: 'POST', url: `/admin/trust/operators/${operator.id}/services`,
    payload: serviceBody([{ certificate: pem(sm2Root), role: 'anchor' }, { certificate: pem(sm2Issuing), role: 'intermediate' }], { name: '甲省 SM2 个人 CA' }),
  })).json();
  const suspended = (await a.admin({
    method: 'POST', url: `/admin/trust/operators/${operator.id}/services`,
    payload: serviceBody([{ certificate: pem(rsaRoot), role: 'anchor' }], { name: '甲省 RSA 机构 CA', type: 'ca_organisation', status: 'suspended', reason: 'audit pending' }),
  })).json();
  t.ok(granted.id && suspended.id);

  let firstJws = '';
  let payload: PublishedList;
  let jwks: { keys: JWK[] };

  await t.test('GET /trust/list verifies with GET /trust/jwks and carries the whole registry', async (t) => {
    const keys = await a.app.inject({ method: 'GET', url: '/trust/jwks' });
    t.equal(keys.statusCode, 200);
    jwks = keys.json();
    t.equal(jwks.keys.length, 1);
    t.notOk('d' in jwks.keys[0], 'public key only');
    const list = await a.app.inject({ method: 'GET', url: '/trust/list' });
    t.equal(list.statusCode, 200);
    t.match(list.headers['content-type'], /^application\/jose/);
    t.match(list.headers['cache-control'], /^public, max-age=\d+$/);
    t.ok(list.headers.etag);
    firstJws = list.body;
    const header = decodeProtectedHeader(firstJws);
    t.same([header.alg, header.typ, header.kid], ['ES256', 'trust-list+jwt', jwks.keys[0].kid]);
    const verified = await compactVerify(firstJws, createLocalJWKSet(jwks));
    payload = JSON.parse(new TextDecoder().decode(verified.payload));
    const state = (await a.admin({ method: 'GET', url: '/admin/trust/state' })).json();
    t.equal(payload.scheme.sequenceNumber, state.sequenceNumber);
    t.equal(payload.scheme.territory, 'CN');
    t.equal(new Date(payload.scheme.nextUpdate).getTime() - new Date(payload.scheme.issuedAt).getTime(), 24 * HOUR, 'nextUpdate = issuedAt + 24 h by default');
    t.equal(payload.iss, a.runtime.config.issuer);
    t.equal(payload.operators.length, 1);
    const [published] = payload.operators;
    t.match(published, { name: '甲省 CA', uscc: LOCAL_USCC, miitLicence: 'ECP-A-001' });
    t.notOk('partnerClientId' in published, 'partner accounts are not published');
    const services = Object.fromEntries(published.services.map((s) => [s.name, s]));
    t.equal(services['甲省 SM2 个人 CA'].status, 'granted');
    t.equal(services['甲省 RSA 机构 CA'].status, 'suspended');
    t.same(services['甲省 RSA 机构 CA'].history.map((h) => [h.status, h.reason]), [['suspended', 'audit pending']]);
    const [anchor] = services['甲省 SM2 个人 CA'].certificates;
    t.equal(anchor.fingerprint, sm2Root.cert.fingerprint);
    t.ok(Buffer.from(anchor.der, 'base64').equals(Buffer.from(sm2Root.certDer)), 'full certificates travel as base64 DER');
    t.same(services['甲省 SM2 个人 CA'].supplyPoints, { crl: ['http://crl.ca.example/issuing.crl'], ocsp: ['http://ocsp.ca.example/'] });
    t.same(services['甲省 SM2 个人 CA'].revocation, { mode: 'ocsp_or_crl', softFailMaxLevel: 'L2' });
    t.equal(services['甲省 SM2 个人 CA'].policyLevels['1.2.156.112570.1.1.3'], 'L3');
    t.equal(services['甲省 SM2 个人 CA'].extractionRules[0].source.type, 'extension');

    const notModified = await a.app.inject({ method: 'GET', url: '/trust/list', headers: { 'if-none-match': list.headers.etag as string } });
    t.equal(notModified.statusCode, 304);
  });

  await t.test('a change increases the sequence number; the old ETag no longer matches', async (t) => {
    const etag = (await a.app.inject({ method: 'GET', url: '/trust/list' })).headers.etag as string;
    t.equal((await a.admin({ method: 'POST', url: `/admin/trust/services/${suspended.id}/status`, payload: { status: 'granted', reason: 'audit passed' } })).statusCode, 200);
    const list = await a.app.inject({ method: 'GET', url: '/trust/list', headers: { 'if-none-match': etag } });
    t.equal(list.statusCode, 200);
    const next = JSON.parse(new TextDecoder().decode((await compactVerify(list.body, createLocalJWKSet(jwks))).payload)) as PublishedList;
    t.ok(next.scheme.sequenceNumber > payload.scheme.sequenceNumber, `${next.scheme.sequenceNumber} > ${payload.scheme.sequenceNumber}`);
  });

  // Platform B imports A's list; its clock can move forward to make the list stale.
  let offsetMs = 0;
  const b = await createTrustApp(t, { clock: () => new Date(Date.now() + offsetMs) });
  const snapshotB = () => b.trust.store.current();
  const peersBefore = async () => ({ operators: await b.count('trust_operators'), certificates: await b.count('trust_certificates') });
  let peerId = '';

  await t.test('peer sources: created with a pinned public JWKS only', async (t) => {
    const withPrivate = await b.admin({
      method: 'POST', url: '/admin/trust/peers',
      payload: { name: 'Province A', listUrl, jwks: { keys: [{ ...jwks.keys[0], d: 'AAAA' }] } },
    });
    t.equal(withPrivate.statusCode, 400);
    t.match(withPrivate.json().detail, /private key material/);
    const notAKey = await b.admin({ method: 'POST', url: '/admin/trust/peers', payload: { name: 'Province A', jwks: { keys: [{ kty: 'EC', crv: 'P-256', x: 'AA', y: 'BB' }] } } });
    t.equal(notAKey.statusCode, 400);
    const created = await b.admin({ method: 'POST', url: '/admin/trust/peers', payload: { name: 'Province A', listUrl, jwks } });
    t.equal(created.statusCode, 201, created.body);
    peerId = created.json().id;
    t.equal(created.json().enabled, false, 'disabled until an admin enables it');
    t.equal(created.json().lastSequence, null);
  });

  await t.test('refused imports: tampered, wrong key, wrong typ, garbage; nothing changes', async (t) => {
    const before = await peersBefore();
    const [h, p, s] = firstJws.split('.');
    const tamperedPayload = Buffer.from(JSON.stringify({ ...payload, operators: [] })).toString('base64url');
    const { privateKey: otherKey } = await generateKeyPair('ES256');
    const cases: [string, string, number, string][] = [
      ['tampered payload', `${h}.${tamperedPayload}.${s}`, 400, 'invalid_signature'],
      ['tampered signature', `${h}.${p}.${s.slice(0, -4)}${s.slice(-4) === 'AAAA' ? 'BBBB' : 'AAAA'}`, 400, 'invalid_signature'],
      ['signed by another key with the pinned kid', await signAs(payload, otherKey, jwks.keys[0].kid!), 400, 'invalid_signature'],
      ['signed by an unknown key', await signAs(payload, otherKey, 'someone-else'), 400, 'unknown_signing_key'],
      ['not a trust list typ', await signAs(payload, otherKey, jwks.keys[0].kid!, 'JWT'), 400, 'malformed_list'],
      ['not a JWS', 'hello', 400, 'malformed_list'],
    ];
    for (const [name, jws, status, code] of cases) {
      const response = await b.admin({ method: 'POST', url: `/admin/trust/peers/${peerId}/import`, payload: { jws } });
      t.equal(response.statusCode, status, `${name}: ${status}`);
      t.equal(response.headers['content-type'], PROBLEM);
      t.equal(response.json().code, code, `${name}: ${code} (${response.json().detail})`);
    }
    t.same(await peersBefore(), before, 'nothing imported');
    t.equal((await b.admin({ method: 'GET', url: `/admin/trust/peers/${peerId}` })).json().lastSequence, null);
    const audited = (await b.runtime.audit.list({ event: 'trust.peer.imported' })).filter((e) => e.result === 'failure');
    t.equal(audited.length, cases.length, 'each refusal is audited');
  });

  await t.test('import by fetching the list URL; the source is not usable until enabled', async (t) => {
    const imported = await b.admin({ method: 'POST', url: `/admin/trust/peers/${peerId}/import`, payload: {} });
    t.equal(imported.statusCode, 200, imported.body);
    t.equal(imported.json().operators, 1);
    t.equal(imported.json().services, 2);
    const state = (await a.admin({ method: 'GET', url: '/admin/trust/state' })).json();
    t.equal(imported.json().source.lastSequence, state.sequenceNumber);
    const snapshot = await snapshotB();
    t.equal(snapshot.serviceForCertificate(sm2Issuing.cert.fingerprint), undefined, 'imported but not trusted');
    t.same(snapshot.anchors, []);
    const entry = snapshot.entryForCertificate(sm2Issuing.cert.fingerprint);
    t.match(entry, { usable: false, unusableReason: 'source_disabled', status: 'granted' });
    t.match(snapshot.statusOf(entry!.service.id), { source: peerId, unusableReason: 'source_disabled', operatorName: '甲省 CA' });

    const enabled = await b.admin({ method: 'POST', url: `/admin/trust/peers/${peerId}/enable` });
    t.equal(enabled.statusCode, 200);
    const usable = (await snapshotB()).serviceForCertificate(sm2Issuing.cert.fingerprint);
    t.ok(usable, 'usable once enabled');
    t.equal(usable!.source, peerId);
    t.equal(usable!.operator.uscc, LOCAL_USCC);
    t.same(usable!.levelsForPolicies(['1.2.156.112570.1.1.3']), ['L3']);
    t.ok((await snapshotB()).anchors.some((c) => c.fingerprint === rsaRoot.cert.fingerprint), 'A re-granted the RSA CA before this import');
    t.equal((await b.app.inject({ method: 'GET', url: '/trust/list' })).statusCode, 200);
    const republished = JSON.parse(new TextDecoder().decode((await compactVerify((await b.app.inject({ method: 'GET', url: '/trust/list' })).body,
      createLocalJWKSet((await b.app.inject({ method: 'GET', url: '/trust/jwks' })).json()))).payload));
    t.same(republished.operators, [], 'B does not re-publish what it imported');
    t.equal(leaf.cert.isCA, false);
  });

  await t.test('replayed and older lists are refused; a newer one replaces the entries', async (t) => {
    const replay = await b.admin({ method: 'POST', url: `/admin/trust/peers/${peerId}/import`, payload: {} });
    t.equal(replay.statusCode, 409, 'the same sequence number again');
    t.equal(replay.json().code, 'replayed_list');
    const older = await b.admin({ method: 'POST', url: `/admin/trust/peers/${peerId}/import`, payload: { jws: firstJws } });
    t.equal(older.statusCode, 409);
    t.equal(older.json().code, 'replayed_list');
    t.match(older.json().detail, /not after the last accepted/);

    t.equal((await a.admin({ method: 'POST', url: `/admin/trust/services/${granted.id}/status`, payload: { status: 'suspended', reason: 'key ceremony' } })).statusCode, 200);
    const newer = await b.admin({ method: 'POST', url: `/admin/trust/peers/${peerId}/import` });
    t.equal(newer.statusCode, 200, newer.body);
    const snapshot = await snapshotB();
    t.equal(snapshot.serviceForCertificate(sm2Issuing.cert.fingerprint), undefined, 'A\'s suspension reached B with the newer list');
    t.match(snapshot.entryForCertificate(sm2Issuing.cert.fingerprint), { status: 'suspended', unusableReason: 'suspended' });
    t.equal(await b.count('trust_operators'), 1, 'entries replaced, not duplicated');
  });

  await t.test('stale, future and invalid lists are refused with a precise error; unknown levels are dropped with a note', async (t) => {
    const { privateKey, publicKey } = await generateKeyPair('ES256', { extractable: true });
    const pinned = { ...(await exportJWK(publicKey)), kid: 'crafted-1', alg: 'ES256' };
    const source = (await b.admin({ method: 'POST', url: '/admin/trust/peers', payload: { name: 'Province C', jwks: { keys: [pinned] } } })).json();
    const now = Date.now();
    const at = (issued: number, next: number, sequenceNumber: number, operators = payload.operators) => ({
      ...payload, operators, scheme: { ...payload.scheme, sequenceNumber, issuedAt: new Date(issued).toISOString(), nextUpdate: new Date(next).toISOString() },
    });
    const importAs = async (body: unknown) => b.admin({ method: 'POST', url: `/admin/trust/peers/${source.id}/import`, payload: { jws: await signAs(body, privateKey, 'crafted-1') } });
    const before = await peersBefore();

    const stale = await importAs(at(now - 30 * HOUR, now - 6 * HOUR, 10));
    t.equal(stale.statusCode, 400);
    t.equal(stale.json().code, 'stale_list');
    const future = await importAs(at(now + 2 * HOUR, now + 26 * HOUR, 10));
    t.equal(future.json().code, 'list_from_future');
    const garbageCertificate = structuredClone(payload.operators);
    garbageCertificate[0].services[0].certificates[0].der = Buffer.from('not a certificate').toString('base64');
    const badEntry = await importAs(at(now, now + 24 * HOUR, 10, garbageCertificate));
    t.equal(badEntry.json().code, 'invalid_list_entry');
    t.equal(badEntry.json().errors.path, 'operators[0].services[0].certificates[0].der');
    const leafAsCa = structuredClone(payload.operators);
    leafAsCa[0].services[0].certificates[0].der = Buffer.from(leaf.certDer).toString('base64');
    leafAsCa[0].services[0].certificates[0].fingerprint = leaf.cert.fingerprint;
    t.equal((await importAs(at(now, now + 24 * HOUR, 10, leafAsCa))).json().errors.reason, 'not_a_ca');
    const badUscc = structuredClone(payload.operators);
    badUscc[0].uscc = uscc('91350100M000100Y4').slice(0, 17) + 'Z';
    t.equal((await importAs(at(now, now + 24 * HOUR, 10, badUscc))).json().code, 'invalid_list_entry');
    t.same(await peersBefore(), before, 'nothing changed by any refused list');

    const unknownLevels = structuredClone(payload.operators);
    unknownLevels[0].services[0].policyLevels = { '1.2.156.112570.1.1.3': 'L3', '1.2.156.112570.1.1.9': 'LX' };
    unknownLevels[0].services[0].revocation = { mode: 'ocsp', softFailMaxLevel: 'L4' };
    const accepted = await importAs(at(now, now + 24 * HOUR, 10, unknownLevels));
    t.equal(accepted.statusCode, 200, accepted.body);
    t.ok(accepted.json().notes.some((n: string) => /unknown level "LX" dropped/.test(n)), 'the unknown level is noted');
    t.ok(accepted.json().notes.some((n: string) => /softFailMaxLevel: L4 not accepted/.test(n)));
    await b.admin({ method: 'POST', url: `/admin/trust/peers/${source.id}/enable` });
    const fromC = (await snapshotB()).services.find((s) => s.source === source.id && s.name === '甲省 SM2 个人 CA');
    t.same(fromC?.policyLevels, { '1.2.156.112570.1.1.3': 'L3' }, 'only the known level is kept');
    t.equal(fromC?.softFailMaxLevel, null, 'an unacceptable soft-fail level becomes "never"');
  });

  await t.test('freshness and the enabled flag decide usability', async (t) => {
    t.ok((await snapshotB()).anchors.some((c) => c.fingerprint === rsaRoot.cert.fingerprint), 'enabled and fresh: usable');
    offsetMs = 25 * HOUR;
    const stale = await snapshotB();
    t.notOk(stale.anchors.some((c) => c.fingerprint === rsaRoot.cert.fingerprint), 'past nextUpdate the peer entries are not usable');
    t.match(stale.entryForCertificate(rsaRoot.cert.fingerprint), { usable: false, unusableReason: 'source_stale' });
    offsetMs = 0;
    t.ok((await snapshotB()).anchors.some((c) => c.fingerprint === rsaRoot.cert.fingerprint));
    const disabled = await b.admin({ method: 'POST', url: `/admin/trust/peers/${peerId}/disable` });
    t.equal(disabled.statusCode, 200);
    const afterDisable = await snapshotB();
    t.match(afterDisable.statusForCertificate(rsaRoot.cert.fingerprint), { source: peerId, unusableReason: 'source_disabled' });
  });

  await t.test('an unchanged list is re-issued with a new sequence number before it goes stale', async (t) => {
    const read = async () => JSON.parse(Buffer.from((await a.app.inject({ method: 'GET', url: '/trust/list' })).body.split('.')[1], 'base64url').toString()) as PublishedList;
    const first = await read();
    t.equal((await read()).scheme.sequenceNumber, first.scheme.sequenceNumber, 'stable while fresh');
    // Move A's list issue time back 13 hours (more than half of the 24-hour interval), as if nothing changed since.
    await a.runtime.db.query("UPDATE trust_list_state SET issued_at = issued_at - interval '13 hours'");
    const reissued = await read();
    t.equal(reissued.scheme.sequenceNumber, first.scheme.sequenceNumber + 1);
    t.ok(new Date(reissued.scheme.nextUpdate).getTime() > Date.now() + 23 * HOUR, 'its nextUpdate lies a full interval ahead again');
    t.same(reissued.operators, first.operators, 'same entries');
  });

  await t.test('fetch limits: a list larger than the limit or an unreachable peer is refused', async (t) => {
    const big = createServer((_request, response) => {
      response.writeHead(200, { 'content-type': 'application/jose' });
      response.end('a'.repeat(3 * 1024 * 1024));
    });
    await new Promise<void>((resolve) => big.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => big.close(() => resolve())));
    const bigSource = (await b.admin({
      method: 'POST', url: '/admin/trust/peers', payload: { name: 'Huge', listUrl: `http://127.0.0.1:${(big.address() as AddressInfo).port}/list`, jwks },
    })).json();
    const tooBig = await b.admin({ method: 'POST', url: `/admin/trust/peers/${bigSource.id}/import`, payload: {} });
    t.equal(tooBig.statusCode, 502);
    t.equal(tooBig.json().code, 'peer_list_unavailable');
    t.match(tooBig.json().detail, /larger than/);
    const noUrl = (await b.admin({ method: 'POST', url: '/admin/trust/peers', payload: { name: 'No URL', jwks } })).json();
    const missing = await b.admin({ method: 'POST', url: `/admin/trust/peers/${noUrl.id}/import`, payload: {} });
    t.equal(missing.statusCode, 400);
  });
});
