import t from 'tap';
import { generateKeyPair } from 'jose';
import { createTestPki } from '../helpers/test-pki.ts';
import { createPartnerClient, createTrustApp, LOCAL_USCC, pem, serviceBody, uscc } from './trust-kit.ts';

const PROBLEM = 'application/problem+json; charset=utf-8';
const HOUR = 60 * 60 * 1000;

t.test('partner exchange: a CA submits changes with private_key_jwt; nothing is trusted before an admin approves', async (t) => {
  let offsetMs = 0;
  const target = await createTrustApp(t, { clock: () => new Date(Date.now() + offsetMs) });
  const { app, admin, trust, runtime, count } = target;
  const pki = createTestPki(t);
  const root = pki.root({ name: 'Partner Root', keyType: 'ec' });
  const issuing = root.intermediate({ name: 'Partner Issuing CA 2024' });
  const newIssuing = root.intermediate({ name: 'Partner Issuing CA 2025' });
  const nextRoot = pki.root({ name: 'Partner Root G2', keyType: 'ec' });
  const leaf = issuing.leaf({ name: '李四' });
  const foreignRoot = pki.root({ name: 'Other CA Root', keyType: 'ec' });

  const partner = await createPartnerClient(target, 'ca-partner-one');
  const operator = (await admin({
    method: 'POST', url: '/admin/trust/operators', payload: { name: '某 CA 有限公司', uscc: LOCAL_USCC, partnerClientId: partner.clientId },
  })).json();
  t.equal(operator.partnerClientId, partner.clientId);
  const service = (await admin({
    method: 'POST', url: `/admin/trust/operators/${operator.id}/services`,
    payload: serviceBody([{ certificate: pem(root), role: 'anchor' }, { certificate: pem(issuing), role: 'intermediate' }]),
  })).json();
  const otherOperator = (await admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: '另一 CA', uscc: uscc('91440300M000400C3') } })).json();
  const otherService = (await admin({
    method: 'POST', url: `/admin/trust/operators/${otherOperator.id}/services`, payload: serviceBody([{ certificate: pem(foreignRoot), role: 'anchor' }], { name: 'Other CA' }),
  })).json();
  t.ok(service.id && otherService.id);

  const token = await partner.token();
  const asPartner = (method: 'GET' | 'POST', url: string, payload?: unknown, bearer = token) =>
    app.inject({ method, url, headers: { authorization: `Bearer ${bearer}` }, ...(payload ? { payload: payload as object } : {}) });
  const store = () => trust.store.current();

  await t.test('who may call: tokens from the real token endpoint, key-authenticated, linked to one operator', async (t) => {
    const anonymous = await app.inject({ method: 'GET', url: '/trust/partner/submissions' });
    t.equal(anonymous.statusCode, 401);
    t.equal(anonymous.headers['content-type'], PROBLEM);
    const bogus = await asPartner('GET', '/trust/partner/submissions', undefined, 'not-a-token');
    t.equal(bogus.statusCode, 401);
    t.equal(bogus.json().code, 'invalid_token');

    const { privateKey: wrongKey } = await generateKeyPair('ES256');
    const forged = await partner.tokenResponse({ key: wrongKey });
    t.equal(forged.statusCode, 401, 'a client assertion signed with another key gets no token');
    t.equal(forged.json().error, 'invalid_client');

    const secretClient = await runtime.clients.create({ client_id: 'ca-secret', grant_types: ['client_credentials'], response_types: [], redirect_uris: [], scope: 'trust:partner' });
    const secretToken = await app.inject({
      method: 'POST', url: '/token', headers: { authorization: `Basic ${Buffer.from(`ca-secret:${secretClient.client_secret}`).toString('base64')}`, 'content-type': 'application/x-www-form-urlencoded' },
      payload: 'grant_type=client_credentials&scope=trust%3Apartner',
    });
    t.equal(secretToken.statusCode, 200);
    const withSecret = await asPartner('GET', '/trust/partner/submissions', undefined, secretToken.json().access_token);
    t.equal(withSecret.statusCode, 403, 'a client_secret client is refused');
    t.equal(withSecret.json().code, 'partner_key_required');

    const unlinked = await createPartnerClient(target, 'ca-partner-unlinked');
    const unlinkedCall = await asPartner('GET', '/trust/partner/submissions', undefined, await unlinked.token());
    t.equal(unlinkedCall.statusCode, 403);
    t.equal(unlinkedCall.json().code, 'not_a_partner');

    const noScope = await createPartnerClient(target, 'ca-partner-noscope', 'openid');
    const noScopeToken = await noScope.tokenResponse({ scope: 'openid' });
    const noScopeCall = await asPartner('GET', '/trust/partner/submissions', undefined, noScopeToken.json().access_token);
    t.equal(noScopeCall.statusCode, 403);
    t.equal(noScopeCall.json().code, 'insufficient_scope');

    const denied = await runtime.audit.list({ event: 'trust.partner.denied' });
    t.ok(denied.length >= 5, 'every refusal is audited');
    t.ok(denied.some((e) => e.clientId === 'ca-secret' && e.detail?.code === 'partner_key_required'));

    const own = await asPartner('GET', '/trust/partner/operator');
    t.equal(own.statusCode, 200);
    t.equal(own.json().name, '某 CA 有限公司');
    t.same(own.json().services.map((s: { id: string }) => s.id), [service.id], 'only its own services');
    t.equal(own.headers['cache-control'], 'no-store');
  });

  await t.test('bad payloads are refused with problem+json and nothing is stored', async (t) => {
    const before = await count('trust_submissions');
    const cases: [string, string, Record<string, unknown>, number, string][] = [
      ['garbage certificate', 'new-ca-certificate', { serviceId: service.id, certificate: 'AAAA', role: 'intermediate' }, 400, 'invalid_certificate'],
      ['leaf certificate as a CA', 'new-ca-certificate', { serviceId: service.id, certificate: pem(leaf), role: 'intermediate' }, 400, 'invalid_certificate'],
      ['already registered certificate', 'new-ca-certificate', { serviceId: service.id, certificate: pem(issuing), role: 'intermediate' }, 409, 'conflict'],
      ['unknown role', 'new-ca-certificate', { serviceId: service.id, certificate: pem(newIssuing), role: 'root' }, 400, 'invalid_input'],
      ['extra property', 'new-ca-certificate', { serviceId: service.id, certificate: pem(newIssuing), role: 'intermediate', approve: true }, 400, 'invalid_input'],
      ['no service id', 'new-ca-certificate', { certificate: pem(newIssuing), role: 'intermediate' }, 400, 'invalid_input'],
      ['unknown service', 'new-ca-certificate', { serviceId: '00000000-0000-4000-8000-000000000000', certificate: pem(newIssuing), role: 'intermediate' }, 404, 'not_found'],
      ['rollover of a certificate not in the service', 'key-rollover', {
        serviceId: service.id, newCertificate: pem(nextRoot), role: 'anchor', replacesFingerprint: foreignRoot.cert.fingerprint, oldAcceptedUntil: new Date(Date.now() + HOUR).toISOString(),
      }, 400, 'invalid_input'],
      ['rollover grace in the past', 'key-rollover', {
        serviceId: service.id, newCertificate: pem(nextRoot), role: 'anchor', replacesFingerprint: root.cert.fingerprint, oldAcceptedUntil: new Date(Date.now() - HOUR).toISOString(),
      }, 400, 'invalid_input'],
      ['rollover grace after the old certificate expires', 'key-rollover', {
        serviceId: service.id, newCertificate: pem(nextRoot), role: 'anchor', replacesFingerprint: root.cert.fingerprint, oldAcceptedUntil: new Date(Date.now() + 30 * 365 * 24 * HOUR).toISOString(),
      }, 400, 'invalid_input'],
      ['rollover date not a date', 'key-rollover', {
        serviceId: service.id, newCertificate: pem(nextRoot), role: 'anchor', replacesFingerprint: root.cert.fingerprint, oldAcceptedUntil: 'tomorrow',
      }, 400, 'invalid_input'],
      ['LDAP endpoint', 'endpoints', { serviceId: service.id, crlUrls: ['ldap://ldap.example/crl'] }, 400, 'invalid_input'],
      ['no endpoint at all', 'endpoints', { serviceId: service.id, crlUrls: [], ocspUrls: [] }, 400, 'invalid_input'],
      ['suspension without reason', 'suspension', { serviceId: service.id }, 400, 'invalid_input'],
      ['another operator\'s service', 'suspension', { serviceId: otherService.id, reason: 'we want to suspend a competitor' }, 403, 'forbidden'],
      ['another operator\'s service (certificate)', 'new-ca-certificate', { serviceId: otherService.id, certificate: pem(newIssuing), role: 'intermediate' }, 403, 'forbidden'],
    ];
    for (const [name, path, payload, status, code] of cases) {
      const response = await asPartner('POST', `/trust/partner/submissions/${path}`, payload);
      t.equal(response.statusCode, status, `${name}: ${status} (${response.body.slice(0, 200)})`);
      t.equal(response.headers['content-type'], PROBLEM, `${name}: problem+json`);
      t.equal(response.json().code, code, `${name}: ${code}`);
    }
    t.equal(await count('trust_submissions'), before, 'no refused submission was stored');
    const refusals = (await runtime.audit.list({ event: 'trust.submission.received' })).filter((e) => e.result === 'failure');
    t.ok(refusals.length >= 10, 'semantic refusals are audited');
    t.ok(refusals.some((e) => e.detail?.code === 'forbidden' && e.clientId === partner.clientId));
    const snapshot = await store();
    t.match(snapshot.statusOf(otherService.id), { status: 'granted', usable: true }, 'the other operator\'s service is untouched');
  });

  await t.test('new CA certificate: pending (not usable), approved (usable), decided once', async (t) => {
    const submitted = await asPartner('POST', '/trust/partner/submissions/new-ca-certificate', { serviceId: service.id, certificate: pem(newIssuing), role: 'intermediate' });
    t.equal(submitted.statusCode, 201, submitted.body);
    const submission = submitted.json();
    t.equal(submission.status, 'pending');
    t.equal(submission.payload.fingerprint, newIssuing.cert.fingerprint);
    t.equal(submitted.headers.location, `/trust/partner/submissions/${submission.id}`);
    t.equal((await store()).serviceForCertificate(newIssuing.cert.fingerprint), undefined, 'a pending submission changes nothing trusted');

    const pending = await admin({ method: 'GET', url: '/admin/trust/submissions?status=pending' });
    t.same(pending.json().submissions.map((s: { id: string }) => s.id), [submission.id]);
    const sequenceBefore = (await admin({ method: 'GET', url: '/admin/trust/state' })).json().sequenceNumber;
    const approved = await admin({ method: 'POST', url: `/admin/trust/submissions/${submission.id}/approve` });
    t.equal(approved.statusCode, 200, approved.body);
    t.equal(approved.json().status, 'approved');
    t.equal(approved.json().decidedBy, 'client:ops-admin-trust');
    t.equal((await admin({ method: 'GET', url: '/admin/trust/state' })).json().sequenceNumber, sequenceBefore + 1, 'approval bumps the list sequence');
    t.equal((await store()).serviceForCertificate(newIssuing.cert.fingerprint)?.id, service.id, 'usable after approval');
    t.ok((await store()).intermediates.some((c) => c.fingerprint === newIssuing.cert.fingerprint));

    const twice = await admin({ method: 'POST', url: `/admin/trust/submissions/${submission.id}/approve` });
    t.equal(twice.statusCode, 409);
    const rejectLate = await admin({ method: 'POST', url: `/admin/trust/submissions/${submission.id}/reject`, payload: { reason: 'too late' } });
    t.equal(rejectLate.statusCode, 409);

    const seen = await asPartner('GET', `/trust/partner/submissions/${submission.id}`);
    t.equal(seen.json().status, 'approved', 'the partner follows its submission');
    const listed = await asPartner('GET', '/trust/partner/submissions');
    t.same(listed.json().submissions.map((s: { id: string }) => s.id), [submission.id]);
    const [audit] = (await runtime.audit.list({ event: 'trust.submission.approved' })).filter((e) => e.result === 'success');
    t.equal((audit.detail?.added as { fingerprint: string }).fingerprint, newIssuing.cert.fingerprint);
  });

  await t.test('key rollover: the new root is trusted at once, the old one only until the given time', async (t) => {
    const until = new Date(Date.now() + offsetMs + 2 * HOUR);
    const submitted = await asPartner('POST', '/trust/partner/submissions/key-rollover', {
      serviceId: service.id, newCertificate: pem(nextRoot), role: 'anchor', replacesFingerprint: root.cert.fingerprint.toUpperCase(), oldAcceptedUntil: until.toISOString(),
    });
    t.equal(submitted.statusCode, 201, submitted.body);
    t.equal((await store()).serviceForCertificate(nextRoot.cert.fingerprint), undefined);
    const approved = await admin({ method: 'POST', url: `/admin/trust/submissions/${submitted.json().id}/approve` });
    t.equal(approved.statusCode, 200, approved.body);
    const during = await store();
    t.same(during.anchors.map((c) => c.fingerprint).filter((f) => f !== foreignRoot.cert.fingerprint).sort(), [root.cert.fingerprint, nextRoot.cert.fingerprint].sort());
    const old = during.serviceForCertificate(root.cert.fingerprint)!.certificates.find((c) => c.certificate.fingerprint === root.cert.fingerprint)!;
    t.equal(old.acceptedUntil?.toISOString(), until.toISOString());
    offsetMs += 3 * HOUR;
    const after = await store();
    t.notOk(after.anchors.some((c) => c.fingerprint === root.cert.fingerprint), 'the replaced root is gone after its grace period, with no further change');
    t.ok(after.anchors.some((c) => c.fingerprint === nextRoot.cert.fingerprint));
  });

  await t.test('endpoints: new CRL and OCSP URLs apply on approval', async (t) => {
    const submitted = await asPartner('POST', '/trust/partner/submissions/endpoints', {
      serviceId: service.id, crlUrls: ['http://crl2.ca.example/issuing.crl'], ocspUrls: ['http://ocsp2.ca.example/', 'http://ocsp2.ca.example/'],
    });
    t.equal(submitted.statusCode, 201, submitted.body);
    t.same(submitted.json().payload.ocspUrls, ['http://ocsp2.ca.example/'], 'duplicates collapsed');
    t.same((await store()).serviceForCertificate(nextRoot.cert.fingerprint)!.crlUrls, ['http://crl.ca.example/issuing.crl']);
    t.equal((await admin({ method: 'POST', url: `/admin/trust/submissions/${submitted.json().id}/approve` })).statusCode, 200);
    const updated = (await store()).serviceForCertificate(nextRoot.cert.fingerprint)!;
    t.same(updated.crlUrls, ['http://crl2.ca.example/issuing.crl']);
    t.same(updated.ocspUrls, ['http://ocsp2.ca.example/']);
  });

  await t.test('a rejected submission changes nothing', async (t) => {
    const submitted = await asPartner('POST', '/trust/partner/submissions/endpoints', { serviceId: service.id, ocspUrls: ['http://evil.example/'] });
    t.equal(submitted.statusCode, 201);
    const noReason = await admin({ method: 'POST', url: `/admin/trust/submissions/${submitted.json().id}/reject`, payload: {} });
    t.equal(noReason.statusCode, 400);
    const rejected = await admin({ method: 'POST', url: `/admin/trust/submissions/${submitted.json().id}/reject`, payload: { reason: 'URL not operated by the CA' } });
    t.equal(rejected.statusCode, 200);
    t.equal(rejected.json().status, 'rejected');
    t.equal(rejected.json().reason, 'URL not operated by the CA');
    t.same((await store()).serviceForCertificate(nextRoot.cert.fingerprint)!.ocspUrls, ['http://ocsp2.ca.example/']);
  });

  await t.test('suspension: approved, the store shows the CA suspended; a partner cannot read another operator\'s submission', async (t) => {
    const submitted = await asPartner('POST', '/trust/partner/submissions/suspension', { serviceId: service.id, reason: 'HSM replacement' });
    t.equal(submitted.statusCode, 201, submitted.body);
    t.match((await store()).statusOf(service.id), { status: 'granted', usable: true }, 'still granted while pending');
    t.equal((await admin({ method: 'POST', url: `/admin/trust/submissions/${submitted.json().id}/approve` })).statusCode, 200);
    const snapshot = await store();
    t.match(snapshot.statusOf(service.id), { status: 'suspended', usable: false, unusableReason: 'suspended', reason: 'partner request: HSM replacement' });
    t.equal(snapshot.serviceForCertificate(newIssuing.cert.fingerprint), undefined);
    const again = await asPartner('POST', '/trust/partner/submissions/suspension', { serviceId: service.id, reason: 'again' });
    t.equal(again.statusCode, 409, 'already suspended');

    const second = await createPartnerClient(target, 'ca-partner-two');
    const linked = await admin({ method: 'PUT', url: `/admin/trust/operators/${otherOperator.id}`, payload: { name: '另一 CA', uscc: otherOperator.uscc, partnerClientId: second.clientId } });
    t.equal(linked.statusCode, 200, linked.body);
    const stolenLink = await admin({ method: 'PUT', url: `/admin/trust/operators/${otherOperator.id}`, payload: { name: '另一 CA', uscc: otherOperator.uscc, partnerClientId: partner.clientId } });
    t.equal(stolenLink.statusCode, 409, 'a client is the partner account of one operator only');
    const peek = await asPartner('GET', `/trust/partner/submissions/${submitted.json().id}`, undefined, await second.token());
    t.equal(peek.statusCode, 404, 'another operator\'s submission does not exist for this partner');
    const theirList = await asPartner('GET', '/trust/partner/submissions', undefined, await second.token());
    t.same(theirList.json().submissions, []);
  });
});
