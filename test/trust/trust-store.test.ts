import t from 'tap';
import { TRUST_VERSION_KEY } from '../../src/trust/trust-store.ts';
import { createTestPki } from '../helpers/test-pki.ts';
import { hasRealPostgres, hasRedis } from '../helpers/runtime.ts';
import { createTrustApp, LOCAL_USCC, pem, serviceBody, uscc } from './trust-kit.ts';

// The second node opens its own connections to the same PostgreSQL and Redis: not possible on the embedded database.
const needsServers = hasRealPostgres && hasRedis ? false : 'DATABASE_URL and REDIS_URL are not set: a second node needs a shared PostgreSQL and Redis';

t.test('trust store: only granted services are usable, and every node sees a status change on its next read', { skip: needsServers }, async (t) => {
  const target = await createTrustApp(t);
  const { admin, trust } = target;
  const pki = createTestPki(t);
  const sm2Root = pki.root({ name: 'Store SM2 Root', keyType: 'sm2' });
  const sm2Issuing = sm2Root.intermediate({ name: 'Store SM2 Issuing CA' });
  const rsaRoot = pki.root({ name: 'Store RSA Root', keyType: 'rsa' });

  const operator = (await admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: '国密 CA 运营者', uscc: LOCAL_USCC } })).json();
  const sm2Service = await admin({
    method: 'POST', url: `/admin/trust/operators/${operator.id}/services`,
    payload: serviceBody([{ certificate: pem(sm2Root), role: 'anchor' }, { certificate: pem(sm2Issuing), role: 'intermediate' }], { name: 'SM2 个人 CA', keyProtection: 'hardware', pinRequired: true }),
  });
  t.equal(sm2Service.statusCode, 201, sm2Service.body);
  const sm2Id = sm2Service.json().id as string;
  const other = (await admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: 'RSA CA 运营者', uscc: uscc('91110108M000300B2') } })).json();
  const rsaService = await admin({
    method: 'POST', url: `/admin/trust/operators/${other.id}/services`,
    payload: serviceBody([{ certificate: pem(rsaRoot), role: 'anchor' }], {
      name: 'RSA 机构 CA', type: 'ca_organisation', status: 'suspended', reason: 'registered before its audit', keyProtection: 'software', pinRequired: false,
      extractionRules: [{ kind: 'enterprise', source: { type: 'subject', attribute: '2.5.4.97' }, stripPrefixes: ['USCC-'] }],
    }),
  });
  t.equal(rsaService.statusCode, 201, rsaService.body);
  const rsaId = rsaService.json().id as string;

  const nodeA = trust.store;
  const nodeB = target.secondNodeStore();

  await t.test('a granted service is usable with everything a login needs; a suspended one is not', async (t) => {
    for (const [name, store] of [['node A', nodeA], ['node B', nodeB]] as const) {
      const snapshot = await store.current();
      t.same(snapshot.anchors.map((c) => c.fingerprint), [sm2Root.cert.fingerprint], `${name}: only the granted service's anchor`);
      t.same(snapshot.intermediates.map((c) => c.fingerprint), [sm2Issuing.cert.fingerprint]);
      t.same(snapshot.services.map((s) => s.id), [sm2Id]);
      const service = snapshot.serviceForCertificate(sm2Issuing.cert.fingerprint.toUpperCase());
      t.ok(service, `${name}: the service is found by a certificate's fingerprint`);
      t.equal(service!.operator.name, '国密 CA 运营者');
      t.equal(service!.operator.uscc, LOCAL_USCC);
      t.equal(service!.source, 'local');
      t.equal(service!.keyProtection, 'hardware');
      t.equal(service!.pinRequired, true);
      t.equal(service!.revocationMode, 'ocsp_or_crl');
      t.equal(service!.softFailMaxLevel, 'L2');
      t.same(service!.keyUsages, ['digitalSignature', 'nonRepudiation']);
      t.same(service!.extractionRules[0].source, { type: 'extension', oid: '1.2.156.10260.4.1.1', choiceTag: 0 });
      t.same(service!.ocspUrls, ['http://ocsp.ca.example/']);
      t.same(service!.levelsForPolicies(['1.2.156.112570.1.1.3', '9.9.9']), ['L3']);
      t.equal(service!.certificates.find((c) => c.role === 'anchor')!.certificate.keyAlgorithm, 'sm2');
      t.equal(snapshot.serviceForCertificate(rsaRoot.cert.fingerprint), undefined, `${name}: the suspended service is not usable`);
      t.match(snapshot.statusOf(rsaId), { status: 'suspended', usable: false, unusableReason: 'suspended', reason: 'registered before its audit', operatorName: 'RSA CA 运营者' });
      t.match(snapshot.statusForCertificate(rsaRoot.cert.fingerprint), { serviceId: rsaId, status: 'suspended' });
      t.same(snapshot.inactiveAnchors.map((c) => c.fingerprint), [rsaRoot.cert.fingerprint], 'kept apart, only to explain a refusal');
      t.match(snapshot.entryForCertificate(rsaRoot.cert.fingerprint), { status: 'suspended', usable: false, service: { id: rsaId, keyProtection: 'software', pinRequired: false } });
      t.equal(snapshot.statusOf('00000000-0000-4000-8000-000000000000'), undefined);
    }
  });

  await t.test('a suspension is seen by the second node on its very next read', async (t) => {
    const before = await nodeB.current();
    const suspended = await admin({ method: 'POST', url: `/admin/trust/services/${sm2Id}/status`, payload: { status: 'suspended', reason: 'key compromise suspected' } });
    t.equal(suspended.statusCode, 200);
    const after = await nodeB.current();
    t.not(after.version, before.version, 'the version key changed in Redis');
    t.equal(after.serviceForCertificate(sm2Issuing.cert.fingerprint), undefined, 'node B no longer trusts the CA');
    t.same(after.anchors, [], 'no usable anchor is left');
    t.match(after.statusOf(sm2Id), { status: 'suspended', usable: false, unusableReason: 'suspended', reason: 'key compromise suspected' });
    t.equal((await nodeA.current()).serviceForCertificate(sm2Issuing.cert.fingerprint), undefined, 'node A agrees');
    t.equal(before.serviceForCertificate(sm2Issuing.cert.fingerprint)?.id, sm2Id, 'an earlier snapshot is immutable');

    const regranted = await admin({ method: 'POST', url: `/admin/trust/services/${sm2Id}/status`, payload: { status: 'granted', reason: 'investigation closed' } });
    t.equal(regranted.statusCode, 200);
    t.equal((await nodeB.current()).serviceForCertificate(sm2Issuing.cert.fingerprint)?.id, sm2Id, 're-granted: usable again on node B');
  });

  await t.test('unchanged registry: the snapshot is reused; a lost version key is rebuilt from the database', async (t) => {
    const first = await nodeB.current();
    t.equal(await nodeB.current(), first, 'same version, same snapshot object');
    const refused = await admin({ method: 'POST', url: `/admin/trust/services/${sm2Id}/status`, payload: { status: 'granted', reason: 'no-op' } });
    t.equal(refused.statusCode, 409);
    t.equal(await nodeB.current(), first, 'a refused change does not reload');
    await target.runtime.hot.delete(TRUST_VERSION_KEY);
    const rebuilt = await nodeB.current();
    t.equal(rebuilt.serviceForCertificate(sm2Issuing.cert.fingerprint)?.id, sm2Id);
    t.ok(await target.runtime.hot.get(TRUST_VERSION_KEY), 'the version key is published again');
  });

  await t.test('a withdrawn service is never usable and says so', async (t) => {
    const withdrawn = await admin({ method: 'POST', url: `/admin/trust/services/${rsaId}/status`, payload: { status: 'withdrawn', reason: 'licence revoked by MIIT' } });
    t.equal(withdrawn.statusCode, 200);
    const snapshot = await nodeB.current();
    t.match(snapshot.statusOf(rsaId), { status: 'withdrawn', usable: false, unusableReason: 'withdrawn', reason: 'licence revoked by MIIT' });
    t.equal(snapshot.serviceForCertificate(rsaRoot.cert.fingerprint), undefined);
  });

});
