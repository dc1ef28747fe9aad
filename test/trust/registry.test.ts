import t from 'tap';
import { createTestPki } from '../helpers/test-pki.ts';
import { createTrustApp, LOCAL_USCC, pem, serviceBody, uscc } from './trust-kit.ts';

const PROBLEM = 'application/problem+json; charset=utf-8';

t.test('registry: operators and services are validated, stored with history, audited, and bump the sequence', async (t) => {
  const { runtime, app, admin, count } = await createTrustApp(t);
  const pki = createTestPki(t);
  const root = pki.root({ name: 'Registry Root', keyType: 'ec' });
  const issuing = root.intermediate({ name: 'Registry Issuing CA' });
  const leaf = issuing.leaf({ name: '张三', idNumber: '11010519491231002X' });
  const expiredRoot = pki.root({ name: 'Expired Root', keyType: 'ec', expired: true });

  const state = async () => (await admin({ method: 'GET', url: '/admin/trust/state' })).json();
  const sequence = async () => (await state()).sequenceNumber as number;
  const audits = async (event: string) => (await runtime.audit.list({ event: event as never })).map((e) => ({ result: e.result, detail: e.detail ?? {} }));

  await t.test('authentication and permissions', async (t) => {
    const anonymous = await app.inject({ method: 'GET', url: '/admin/trust/operators' });
    t.equal(anonymous.statusCode, 401);
    t.equal(anonymous.headers['content-type'], PROBLEM);
    const auditorWrite = await admin({ method: 'POST', url: '/admin/trust/operators', scope: 'admin:audit', payload: { name: 'X', uscc: LOCAL_USCC } });
    t.equal(auditorWrite.statusCode, 403, 'the audit scope reads the registry but cannot change it');
    t.equal(auditorWrite.json().code, 'insufficient_scope');
    const auditorRead = await admin({ method: 'GET', url: '/admin/trust/operators', scope: 'admin:audit' });
    t.equal(auditorRead.statusCode, 200);
    const policyRead = await admin({ method: 'GET', url: '/admin/trust/operators', scope: 'admin:policy' });
    t.equal(policyRead.statusCode, 403, 'a policy admin has no trust permission');
  });

  const startSequence = await sequence();
  let operatorId = '';

  await t.test('operators: an invalid USCC is refused and nothing is stored', async (t) => {
    const bad = await admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: '某数字认证有限公司', uscc: '91350100M000100Y40' } });
    t.equal(bad.statusCode, 400);
    t.equal(bad.headers['content-type'], PROBLEM);
    t.equal(bad.json().code, 'invalid_input');
    t.equal(bad.json().errors.field, 'uscc');
    const wrongCheck = LOCAL_USCC.slice(0, 17) + (LOCAL_USCC[17] === '0' ? '1' : '0');
    const badCheck = await admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: '某数字认证有限公司', uscc: wrongCheck } });
    t.equal(badCheck.statusCode, 400);
    t.match(badCheck.json().detail, /check_char/);
    const extra = await admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: 'X', uscc: LOCAL_USCC, website: 'https://x' } });
    t.equal(extra.statusCode, 400, 'unknown properties are refused');
    t.equal(await count('trust_operators'), 0);
    t.equal(await sequence(), startSequence, 'a refused change does not bump the sequence');
    const refused = await audits('trust.operator.created');
    t.ok(refused.some((e) => e.result === 'failure' && e.detail.field === 'uscc'), 'the refusal is audited');
  });

  await t.test('operators: created, duplicate USCC refused, partner link must name a key-authenticated client', async (t) => {
    const created = await admin({
      method: 'POST', url: '/admin/trust/operators',
      payload: { name: '某数字认证有限公司', uscc: LOCAL_USCC.toLowerCase(), miitLicence: 'ECP12345678901', osccaLicence: 'SDSA0001' },
    });
    t.equal(created.statusCode, 201, created.body);
    operatorId = created.json().id;
    t.equal(created.json().uscc, LOCAL_USCC, 'stored normalised');
    t.equal(created.json().source, 'local');
    t.equal(await sequence(), startSequence + 1);
    const duplicate = await admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: 'Other', uscc: LOCAL_USCC } });
    t.equal(duplicate.statusCode, 409);
    await runtime.clients.create({ client_id: 'secret-client', grant_types: ['client_credentials'], response_types: [], redirect_uris: [] });
    const secretLink = await admin({ method: 'PUT', url: `/admin/trust/operators/${operatorId}`, payload: { name: '某数字认证有限公司', uscc: LOCAL_USCC, partnerClientId: 'secret-client' } });
    t.equal(secretLink.statusCode, 400);
    t.match(secretLink.json().detail, /private_key_jwt/);
    const missingClient = await admin({ method: 'PUT', url: `/admin/trust/operators/${operatorId}`, payload: { name: '某数字认证有限公司', uscc: LOCAL_USCC, partnerClientId: 'nobody-here' } });
    t.equal(missingClient.statusCode, 400);
    t.equal((await admin({ method: 'GET', url: `/admin/trust/operators/${operatorId}` })).json().partnerClientId, null);
    const unknown = await admin({ method: 'GET', url: '/admin/trust/operators/00000000-0000-4000-8000-000000000000' });
    t.equal(unknown.statusCode, 404);
  });

  await t.test('services: every bad input is a clear 400 and nothing is stored', async (t) => {
    const before = await sequence();
    const cases: [string, Record<string, unknown>, string, RegExp | string][] = [
      ['garbage certificate', serviceBody([{ certificate: 'bm90IGEgY2VydGlmaWNhdGU=', role: 'anchor' }]), 'invalid_certificate', 'malformed_certificate'],
      ['PEM with junk', serviceBody([{ certificate: '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----', role: 'anchor' }]), 'invalid_certificate', 'malformed_certificate'],
      ['leaf certificate as an anchor', serviceBody([{ certificate: pem(leaf), role: 'anchor' }]), 'invalid_certificate', 'not_a_ca'],
      ['expired CA certificate', serviceBody([{ certificate: pem(expiredRoot), role: 'anchor' }]), 'invalid_certificate', 'expired'],
      ['self-signed root as a cross-certificate', serviceBody([{ certificate: pem(root), role: 'cross' }]), 'invalid_certificate', 'not_cross'],
      ['unknown level id', serviceBody([{ certificate: pem(root), role: 'anchor' }], { policyLevels: { '1.2.156.1.1': 'L9' } }), 'invalid_input', 'policyLevels.1.2.156.1.1'],
      ['soft fail at L4', serviceBody([{ certificate: pem(root), role: 'anchor' }], { softFailMaxLevel: 'L4' }), 'invalid_input', 'softFailMaxLevel'],
      ['unknown soft-fail level', serviceBody([{ certificate: pem(root), role: 'anchor' }], { softFailMaxLevel: 'L7' }), 'invalid_input', 'softFailMaxLevel'],
      ['encryption key usage', serviceBody([{ certificate: pem(root), role: 'anchor' }], { keyUsages: ['keyEncipherment'] }), 'invalid_input', /keyUsages/],
      ['no extraction rule', serviceBody([{ certificate: pem(root), role: 'anchor' }], { extractionRules: [] }), 'invalid_input', /extractionRules/],
      ['extraction rule with an unknown member', serviceBody([{ certificate: pem(root), role: 'anchor' }], { extractionRules: [{ kind: 'citizen', source: { type: 'subject', attribute: '2.5.4.5' }, regex: '.*' }] }), 'invalid_input', /extractionRules/],
      ['extraction rule without an OID', serviceBody([{ certificate: pem(root), role: 'anchor' }], { extractionRules: [{ kind: 'citizen', source: { type: 'extension' } }] }), 'invalid_input', 'extractionRules[0].source.oid'],
      ['extraction rule with a bad OID', serviceBody([{ certificate: pem(root), role: 'anchor' }], { extractionRules: [{ kind: 'citizen', source: { type: 'subject', attribute: 'serialNumber' } }] }), 'invalid_input', /extractionRules/],
      ['CRL URL not http', serviceBody([{ certificate: pem(root), role: 'anchor' }], { crlUrls: ['ldap://ldap.ca.example/cn=crl'] }), 'invalid_input', 'crlUrls[0]'],
      ['same certificate twice', serviceBody([{ certificate: pem(root), role: 'anchor' }, { certificate: pem(root), role: 'anchor' }]), 'invalid_input', 'certificates[1]'],
      ['no certificate for a CA service', serviceBody([]), 'invalid_input', 'certificates'],
    ];
    for (const [name, payload, code, field] of cases) {
      const response = await admin({ method: 'POST', url: `/admin/trust/operators/${operatorId}/services`, payload });
      t.equal(response.statusCode, 400, `${name}: 400`);
      t.equal(response.headers['content-type'], PROBLEM);
      const problem = response.json();
      t.equal(problem.code, code, `${name}: ${code}`);
      const where = problem.errors?.reason ?? problem.errors?.field ?? JSON.stringify(problem.errors);
      if (typeof field === 'string') t.ok(where === field || problem.errors?.field === field, `${name}: names ${field} (${JSON.stringify(problem.errors)})`);
      else t.match(JSON.stringify(problem), field, `${name}: names the field`);
    }
    t.equal(await count('trust_services'), 0, 'no service stored');
    t.equal(await count('trust_certificates'), 0, 'no certificate stored');
    t.equal(await sequence(), before, 'the sequence did not move');
  });

  let serviceId = '';
  await t.test('services: created with certificates and a first history entry', async (t) => {
    const before = await sequence();
    const created = await admin({
      method: 'POST', url: `/admin/trust/operators/${operatorId}/services`,
      payload: serviceBody([{ certificate: pem(root), role: 'anchor' }, { certificate: Buffer.from(issuing.certDer).toString('base64'), role: 'intermediate' }]),
    });
    t.equal(created.statusCode, 201, created.body);
    const service = created.json();
    serviceId = service.id;
    t.equal(service.status, 'granted');
    t.same(service.history.map((h: { status: string; reason: string }) => [h.status, h.reason]), [['granted', 'registered']]);
    t.same(service.certificates.map((c: { fingerprint: string; role: string }) => [c.fingerprint, c.role]),
      [[root.cert.fingerprint, 'anchor'], [issuing.cert.fingerprint, 'intermediate']]);
    t.equal(await sequence(), before + 1);
    const read = (await admin({ method: 'GET', url: `/admin/trust/services/${serviceId}` })).json();
    t.equal(Buffer.from(read.certificates[0].der, 'base64').equals(Buffer.from(root.certDer)), true, 'the DER is kept as given');
    t.equal(read.usable, true);
    const again = await admin({ method: 'POST', url: `/admin/trust/operators/${operatorId}/services`, payload: serviceBody([{ certificate: pem(root), role: 'anchor' }], { name: 'Copy' }) });
    t.equal(again.statusCode, 409, 'a certificate belongs to one local service');
    const audit = await audits('trust.service.created');
    t.ok(audit.some((e) => e.result === 'success' && (e.detail.after as { certificates: unknown[] }).certificates.length === 2));
  });

  await t.test('services: status changes keep their history, refuse no-ops, and bump the sequence', async (t) => {
    const before = await sequence();
    const noReason = await admin({ method: 'POST', url: `/admin/trust/services/${serviceId}/status`, payload: { status: 'suspended' } });
    t.equal(noReason.statusCode, 400);
    const badStatus = await admin({ method: 'POST', url: `/admin/trust/services/${serviceId}/status`, payload: { status: 'revoked', reason: 'x' } });
    t.equal(badStatus.statusCode, 400);
    const suspended = await admin({ method: 'POST', url: `/admin/trust/services/${serviceId}/status`, payload: { status: 'suspended', reason: 'licence under review' } });
    t.equal(suspended.statusCode, 200, suspended.body);
    t.equal(suspended.json().status, 'suspended');
    t.equal(await sequence(), before + 1);
    const same = await admin({ method: 'POST', url: `/admin/trust/services/${serviceId}/status`, payload: { status: 'suspended', reason: 'again' } });
    t.equal(same.statusCode, 409);
    const granted = await admin({ method: 'POST', url: `/admin/trust/services/${serviceId}/status`, payload: { status: 'granted', reason: 'review passed' } });
    t.equal(granted.statusCode, 200);
    const history = granted.json().history as { status: string; reason: string; actor: string }[];
    t.same(history.map((h) => [h.status, h.reason]), [['granted', 'registered'], ['suspended', 'licence under review'], ['granted', 'review passed']]);
    t.equal(history[1].actor, 'client:ops-admin-trust');
    t.equal(await sequence(), before + 2);
    const audit = await audits('trust.service.status_changed');
    const success = audit.filter((e) => e.result === 'success');
    t.equal(success.length, 2);
    t.same(success.map((e) => [(e.detail.before as { status: string }).status, (e.detail.after as { status: string }).status]).sort(), [['granted', 'suspended'], ['suspended', 'granted']]);
  });

  await t.test('services: settings updated with old and new values audited; operator with services cannot be deleted', async (t) => {
    const updated = await admin({
      method: 'PUT', url: `/admin/trust/services/${serviceId}`,
      payload: { ...serviceBody([]), certificates: undefined, name: 'Renamed CA', softFailMaxLevel: null, revocationMode: 'ocsp' },
    });
    t.equal(updated.statusCode, 200, updated.body);
    t.equal(updated.json().name, 'Renamed CA');
    t.equal(updated.json().softFailMaxLevel, null);
    t.equal(updated.json().certificates.length, 2, 'certificates are untouched by a settings update');
    const badUpdate = await admin({ method: 'PUT', url: `/admin/trust/services/${serviceId}`, payload: { ...serviceBody([]), certificates: undefined, softFailMaxLevel: 'L4' } });
    t.equal(badUpdate.statusCode, 400);
    t.equal((await admin({ method: 'GET', url: `/admin/trust/services/${serviceId}` })).json().name, 'Renamed CA', 'the refused update changed nothing');
    const [audit] = (await audits('trust.service.updated')).filter((e) => e.result === 'success');
    t.equal((audit.detail.before as { name: string }).name, 'Test Individual CA');
    t.equal((audit.detail.after as { name: string }).name, 'Renamed CA');
    const deleteOperator = await admin({ method: 'DELETE', url: `/admin/trust/operators/${operatorId}` });
    t.equal(deleteOperator.statusCode, 409);
  });

  await t.test('certificates: added and removed one by one', async (t) => {
    const other = root.intermediate({ name: 'Registry Organisation CA' });
    const added = await admin({ method: 'POST', url: `/admin/trust/services/${serviceId}/certificates`, payload: { certificate: pem(other), role: 'intermediate' } });
    t.equal(added.statusCode, 201, added.body);
    t.equal(added.json().certificates.length, 3);
    const asLeaf = await admin({ method: 'POST', url: `/admin/trust/services/${serviceId}/certificates`, payload: { certificate: pem(leaf), role: 'intermediate' } });
    t.equal(asLeaf.statusCode, 400);
    t.equal(asLeaf.json().errors.reason, 'not_a_ca');
    const removed = await admin({ method: 'DELETE', url: `/admin/trust/services/${serviceId}/certificates/${other.cert.fingerprint}` });
    t.equal(removed.statusCode, 204);
    const missing = await admin({ method: 'DELETE', url: `/admin/trust/services/${serviceId}/certificates/${other.cert.fingerprint}` });
    t.equal(missing.statusCode, 404);
  });

  await t.test('a second operator: the USCC check is per operator, and an operator without services can be deleted', async (t) => {
    const second = await admin({ method: 'POST', url: '/admin/trust/operators', payload: { name: 'Second CA', uscc: uscc('91110000M000200A1') } });
    t.equal(second.statusCode, 201, second.body);
    const deleted = await admin({ method: 'DELETE', url: `/admin/trust/operators/${second.json().id}` });
    t.equal(deleted.statusCode, 204);
    t.equal(await count('trust_operators'), 1);
  });
});
