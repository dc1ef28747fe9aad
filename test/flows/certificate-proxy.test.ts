import t from 'tap';
import { request as httpRequest } from 'node:http';
import * as client from 'openid-client';
import { CERTIFICATE_ERROR_MESSAGES, type CertificateRefusal } from '../../src/authn/certificate/errors.ts';
import { createTestApp, startTestServer } from '../helpers/app.ts';
import { buildCitizen, buildUnregisteredIdNumber } from '../helpers/builders.ts';
import { certificatePortal, registerCa } from '../helpers/certificates.ts';
import { RP_CALLBACK } from '../helpers/oidc.ts';
import { serveFiles } from '../helpers/revocation-fixtures.ts';
import { freePort } from '../helpers/runtime.ts';
import { createTestPki, type TestCa, type TestCertificate } from '../helpers/test-pki.ts';
import { createUserAgent } from '../helpers/user-agent.ts';

const POLICY_MEDIUM = '1.2.156.99999.1.3';
type Runtime = Awaited<ReturnType<typeof startTestServer>>['runtime'];
type UserAgent = ReturnType<typeof createUserAgent>;
type Teardown = { teardown(fn: () => unknown): void };

/** What nginx puts in `$ssl_client_escaped_cert`: the URL-encoded PEM (here optionally followed by the chain). */
const escapedPem = (...certificates: TestCertificate[]) => encodeURIComponent(certificates.map((c) => c.certPem).join(''));

/** A registered RSA CA (root only; the proxy forwards the issuing CA along) with CRLs served over HTTP. */
async function registeredCa(t: Teardown, runtime: Runtime, pki: ReturnType<typeof createTestPki>, name: string) {
  const files = await serveFiles(t);
  const root = pki.root({ name: `${name} Root`, keyType: 'rsa' });
  const issuing = root.intermediate({ name: `${name} Issuing CA`, pathLen: 0 });
  files.set('/root.crl', root.crlDer({ nextUpdateHours: 1 }));
  files.set('/issuing.crl', issuing.crlDer({ nextUpdateHours: 1 }));
  await registerCa(runtime, {
    name, anchors: [root], policyLevels: { [POLICY_MEDIUM]: 'L3' }, keyProtection: 'hardware', pinRequired: true,
    revocationMode: 'crl', crlUrls: [files.url('/root.crl')],
  });
  const leaf = (idNumber: string, holder = '王五') => issuing.leaf({ name: holder, keyType: 'rsa', idNumber, policies: [POLICY_MEDIUM], crlUrl: files.url('/issuing.crl') });
  return { root, issuing: issuing as TestCa, leaf };
}


/**
 * What the TLS-terminating proxy sends upstream: a plain HTTP GET with the browser's cookies and the forwarded
 * certificate header (an array sends the header once per value). The connection goes to `host` (so the app sees
 * that peer address); a 303 is then followed by the user agent, as the browser would.
 */
async function throughProxy(ua: UserAgent, target: { host: string; port: number }, uid: string, headers: Record<string, string | string[]>) {
  const answer = await new Promise<{ status: number; location?: string; setCookie: string[]; body: string }>((resolve, reject) => {
    const request = httpRequest({
      host: target.host, port: target.port, path: `/interaction/${uid}/certificate/proxy`, method: 'GET',
      headers: { host: `localhost:${target.port}`, cookie: [...ua.cookies].map(([k, v]) => `${k}=${v}`).join('; '), ...headers },
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({ status: response.statusCode ?? 0, location: response.headers.location, setCookie: response.headers['set-cookie'] ?? [], body }));
    });
    request.on('error', reject);
    request.end();
  });
  for (const cookie of answer.setCookie) {
    const pair = cookie.split(';')[0];
    ua.cookies.set(pair.slice(0, pair.indexOf('=')).trim(), pair.slice(pair.indexOf('=') + 1).trim());
  }
  if (answer.status === 303 && answer.location) {
    const next = await ua.get(answer.location);
    return { status: answer.status, html: next.html, redirectedTo: next.redirectedTo };
  }
  return { status: answer.status, html: answer.body, redirectedTo: undefined as string | undefined };
}

const alertOf = (html: string) => /role="alert"[^>]*>([^<]*)</.exec(html)?.[1];
const zh = (refusal: CertificateRefusal) => CERTIFICATE_ERROR_MESSAGES[refusal]['zh-CN'];

/** Rows in every table a certificate login may write to, to show a refusal wrote nothing there. */
async function recorded(runtime: Runtime) {
  const counts: Record<string, number> = {};
  for (const table of ['accounts', 'account_sources', 'account_proofings', 'enterprise_certificates', 'session_factors']) {
    counts[table] = Number((await runtime.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);
  }
  return counts;
}

async function auditSince(runtime: Runtime, afterId: number) {
  await runtime.audit.flush();
  const { rows } = await runtime.db.query<{ id: string; event: string; result: string; detail: Record<string, unknown> }>(
    'SELECT id, event, result, detail FROM audit_events WHERE id > $1 ORDER BY id', [afterId]);
  return rows;
}

async function lastAuditId(runtime: Runtime) {
  await runtime.audit.flush();
  return Number((await runtime.db.query<{ id: string | null }>('SELECT max(id) AS id FROM audit_events')).rows[0].id ?? 0);
}

t.test('behind a trusted proxy (CERT_PROXY_HEADER, CERT_PROXY_ADDRESSES)', async (t) => {
  const { runtime, issuer, port } = await startTestServer(t, {
    env: { CERT_PROXY_HEADER: 'X-SSL-Client-Cert', CERT_PROXY_ADDRESSES: '10.0.0.7, 127.0.0.1' },
  });
  const target = { host: '127.0.0.1', port };
  const pki = createTestPki(t);
  const ca = await registeredCa(t, runtime, pki, 'Proxy CA');
  const rp = await certificatePortal(runtime, issuer, 'proxy-portal', { minLevel: 'L3' });

  t.test('the forwarded certificate and chain sign in at the CA\'s level (hwk + pin)', async (t) => {
    const citizen = await buildCitizen(runtime);
    const leaf = ca.leaf(citizen.idNumber, citizen.name);
    const ua = createUserAgent(issuer);
    const { uid, verifier, link } = await rp.start(ua);
    t.equal(link, `/interaction/${uid}/certificate/proxy`, 'the certificate page links to the proxied route');
    const auditFrom = await lastAuditId(runtime);

    const done = await throughProxy(ua, target, uid, { 'x-ssl-client-cert': escapedPem(leaf, ca.issuing) });
    t.equal(done.status, 303);
    t.ok(done.redirectedTo?.startsWith(RP_CALLBACK), alertOf(done.html) ?? 'back to the relying party');
    const claims = (await rp.tokens(done.redirectedTo!, verifier)).claims()!;
    t.equal(claims.sub, citizen.account.id);
    t.equal(claims.acr, `${issuer}/acr/L3`);
    t.same(claims.amr, ['hwk', 'pin']);
    const success = (await auditSince(runtime, auditFrom)).find((r) => r.event === 'login.certificate');
    t.equal(success?.result, 'success');
    t.equal(success?.detail.proof, 'proxy_client_certificate');
    t.equal(success?.detail.interaction, uid);
  });

  const refusals: [string, Record<string, string | string[]>, CertificateRefusal][] = [
    ['no header', {}, 'empty_chain'],
    ['an empty header', { 'x-ssl-client-cert': '' }, 'empty_chain'],
    ['text that is not PEM', { 'x-ssl-client-cert': 'garbage' }, 'malformed_certificate'],
    ['broken URL encoding', { 'x-ssl-client-cert': '%E0%A4%A' }, 'malformed_certificate'],
    ['a PEM block that is not a certificate', { 'x-ssl-client-cert': encodeURIComponent('-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n') }, 'malformed_certificate'],
  ];
  for (const [label, headers, refusal] of refusals) {
    t.test(`${label}: refused with ${refusal}, nothing recorded but the audit entry`, async (t) => {
      const ua = createUserAgent(issuer);
      const { uid } = await rp.start(ua);
      const before = await recorded(runtime);
      const auditFrom = await lastAuditId(runtime);
      const answer = await throughProxy(ua, target, uid, headers);
      t.equal(answer.status, 400);
      t.equal(alertOf(answer.html), zh(refusal));
      t.equal(answer.redirectedTo, undefined);
      t.same(await recorded(runtime), before, 'nothing written');
      const entries = await auditSince(runtime, auditFrom);
      t.same(entries.map((e) => `${e.event}:${e.result}:${String(e.detail.reason)}`), [`login.certificate:failure:${refusal}`], 'only the audit entry');
      t.equal(entries[0]?.detail.proof, 'proxy_client_certificate');
    });
  }

  t.test('a header sent twice (a proxy that appends instead of replacing) is refused, whichever copy is valid', async (t) => {
    const person = buildUnregisteredIdNumber();
    const forged = pki.root({ name: 'Forged Root', keyType: 'rsa' }).leaf({ keyType: 'rsa', idNumber: person, policies: [POLICY_MEDIUM] });
    const ua = createUserAgent(issuer);
    const { uid } = await rp.start(ua);
    const before = await recorded(runtime);
    const answer = await throughProxy(ua, target, uid, { 'x-ssl-client-cert': [escapedPem(forged), escapedPem(ca.leaf(person))] });
    t.equal(answer.status, 400);
    t.equal(alertOf(answer.html), zh('malformed_certificate'));
    t.equal(answer.redirectedTo, undefined);
    t.same(await recorded(runtime), before, 'nothing written');
  });
});

t.test('a request that does not come from a configured proxy address is refused, whatever it claims', async (t) => {
  // TRUST_PROXY on: request.ip follows X-Forwarded-For, which must still not count for the certificate header.
  const { runtime, issuer, port } = await startTestServer(t, {
    env: { CERT_PROXY_HEADER: 'x-ssl-client-cert', CERT_PROXY_ADDRESSES: '10.9.9.9', TRUST_PROXY: 'true' },
  });
  const pki = createTestPki(t);
  const ca = await registeredCa(t, runtime, pki, 'Spoofed CA');
  const rp = await certificatePortal(runtime, issuer, 'spoof-portal', { minLevel: 'L3' });
  const leaf = ca.leaf(buildUnregisteredIdNumber());
  const claims: [string, Record<string, string>][] = [
    ['plain', {}],
    ['X-Forwarded-For', { 'x-forwarded-for': '10.9.9.9' }],
    ['X-Real-IP', { 'x-real-ip': '10.9.9.9' }],
    ['Forwarded', { forwarded: 'for=10.9.9.9' }],
  ];
  for (const [label, spoof] of claims) {
    t.test(label, async (t) => {
      const ua = createUserAgent(issuer);
      const { uid } = await rp.start(ua);
      const before = await recorded(runtime);
      const auditFrom = await lastAuditId(runtime);
      const answer = await throughProxy(ua, { host: '127.0.0.1', port }, uid, { 'x-ssl-client-cert': escapedPem(leaf, ca.issuing), ...spoof });
      t.equal(answer.status, 403);
      t.equal(alertOf(answer.html), zh('proxy_not_allowed'));
      t.equal(answer.redirectedTo, undefined, 'no login');
      t.same(await recorded(runtime), before, 'no account, link or proofing created');
      const entries = await auditSince(runtime, auditFrom);
      t.same(entries.map((e) => `${e.event}:${e.result}:${String(e.detail.reason)}`), ['login.certificate:failure:proxy_not_allowed'], 'only the audit entry');
    });
  }
});

t.test('without CERT_PROXY_HEADER no header is read and the page offers no proxy link', async (t) => {
  const { runtime, issuer, port } = await startTestServer(t);
  const pki = createTestPki(t);
  const ca = await registeredCa(t, runtime, pki, 'Unproxied CA');
  const rp = await certificatePortal(runtime, issuer, 'plain-portal', { minLevel: 'L3' });
  const ua = createUserAgent(issuer);
  const { uid, link } = await rp.start(ua);
  t.equal(link, undefined, 'no link to a TLS listener or proxy');
  const before = await recorded(runtime);
  const answer = await throughProxy(ua, { host: '127.0.0.1', port }, uid, { 'x-ssl-client-cert': escapedPem(ca.leaf(buildUnregisteredIdNumber()), ca.issuing) });
  t.equal(answer.status, 403);
  t.equal(alertOf(answer.html), zh('proxy_not_allowed'));
  t.same(await recorded(runtime), before);
});

t.test('proxy addresses are compared as addresses: IPv4-mapped peers and other IPv6 spellings match', async (t) => {
  // Dual-stack: an IPv4 client then appears as ::ffff:127.0.0.1. freePort() probes IPv4 only, and parallel test files
  // take ports too, so a port taken meanwhile is retried with another.
  const listenDualStack = async (attempt = 1): Promise<{ runtime: Runtime; issuer: string; port: number }> => {
    const port = await freePort();
    const issuer = `http://localhost:${port}`;
    const { runtime, app } = await createTestApp(t, {
      env: { ISSUER: issuer, PORT: String(port), CERT_PROXY_HEADER: 'x-ssl-client-cert', CERT_PROXY_ADDRESSES: '127.0.0.1,0:0:0:0:0:0:0:1' },
    });
    try {
      await app.listen({ port, host: '::' });
      return { runtime, issuer, port };
    } catch (error) {
      if ((error as { code?: string }).code !== 'EADDRINUSE' || attempt >= 5) throw error;
      return listenDualStack(attempt + 1);
    }
  };
  const { runtime, issuer, port } = await listenDualStack();
  const pki = createTestPki(t);
  const ca = await registeredCa(t, runtime, pki, 'Dual-stack CA');
  const rp = await certificatePortal(runtime, issuer, 'dual-stack-portal', { minLevel: 'L3' });
  for (const host of ['127.0.0.1', '::1']) {
    t.test(`from ${host}`, async (t) => {
      const citizen = await buildCitizen(runtime);
      const ua = createUserAgent(issuer);
      const { uid, verifier } = await rp.start(ua);
      const done = await throughProxy(ua, { host, port }, uid, { 'x-ssl-client-cert': escapedPem(ca.leaf(citizen.idNumber, citizen.name), ca.issuing) });
      t.ok(done.redirectedTo?.startsWith(RP_CALLBACK), alertOf(done.html) ?? 'back to the relying party');
      t.equal((await rp.tokens(done.redirectedTo!, verifier)).claims()!.sub, citizen.account.id);
    });
  }
});
