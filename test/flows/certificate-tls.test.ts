import t from 'tap';
import { execFile } from 'node:child_process';
import { request as httpsRequest } from 'node:https';
import * as client from 'openid-client';
import { startCertificateTlsListener } from '../../src/authn/certificate/tls-listener.ts';
import { createRateLimiter } from '../../src/cache/rate-limiter.ts';
import { CERTIFICATE_ERROR_MESSAGES } from '../../src/authn/certificate/errors.ts';
import { startTestServer } from '../helpers/app.ts';
import { buildCitizen, buildUnregisteredIdNumber } from '../helpers/builders.ts';
import { certificatePortal, registerCa } from '../helpers/certificates.ts';
import { RP_CALLBACK } from '../helpers/oidc.ts';
import { serveFiles } from '../helpers/revocation-fixtures.ts';
import { freePort } from '../helpers/runtime.ts';
import { createTestPki, type TestCa, type TestKeyHolder, type TestPki } from '../helpers/test-pki.ts';
import { createUserAgent } from '../helpers/user-agent.ts';

const POLICY_MEDIUM = '1.2.156.99999.1.3';
type Runtime = Awaited<ReturnType<typeof startTestServer>>['runtime'];
type UserAgent = ReturnType<typeof createUserAgent>;

/** The issuer app configured with a TLS listener URL, and our listener on that port with a `localhost` server certificate. */
async function startWithListener(t: { teardown(fn: () => unknown): void }, pki: TestPki, beforeListening?: (runtime: Runtime) => Promise<unknown>) {
  const serverRoot = pki.root({ name: 'TLS Server Root', keyType: 'rsa' });
  const serverCert = serverRoot.leaf({
    name: 'localhost', keyType: 'rsa', keyUsage: ['digitalSignature', 'keyEncipherment'], extendedKeyUsage: ['serverAuth'],
    extraExtensions: ['subjectAltName = DNS:localhost'],
  });
  const tlsPort = await freePort();
  const server = await startTestServer(t, {
    env: {
      CERT_TLS_PORT: String(tlsPort), CERT_TLS_HOST: '127.0.0.1', CERT_TLS_URL: `https://localhost:${tlsPort}`,
      CERT_TLS_KEY_FILE: serverCert.keyFile, CERT_TLS_CERT_FILE: serverCert.certFile,
    },
  });
  await beforeListening?.(server.runtime);
  const real = server.runtime.certificates!.presented;
  const parked: string[] = [];
  // The real hand-over, counted: "nothing parked" is then a fact rather than a guess.
  const presented = { ...real, park: async (uid: string, chain: readonly Uint8Array[]) => {
    const token = await real.park(uid, chain);
    parked.push(uid);
    return token;
  } };
  const listener = await startCertificateTlsListener({
    host: '127.0.0.1', port: tlsPort, keyFile: serverCert.keyFile, certFile: serverCert.certFile,
    issuer: server.issuer, presented, trust: server.runtime.certificates!.trust,
    limiter: createRateLimiter(server.runtime.hot), perIpPerMinute: 1000, maxChainLength: server.runtime.config.certificates.maxChainLength,
  });
  t.teardown(() => listener.close());
  return { ...server, tlsPort, serverCa: serverRoot.certPem, serverCaFile: serverRoot.certFile, parked };
}

type TlsAnswer = { status: number; location?: string; cacheControl?: string; body: string };

/** One HTTPS request to the listener, presenting `holder`'s certificate (and `extra` chain certificates) when given. */
function presentOverTls(url: string, serverCa: string, holder?: TestKeyHolder, extra: readonly TestCa[] = []): Promise<TlsAnswer> {
  return new Promise((resolve, reject) => {
    const request = httpsRequest(url, {
      ca: serverCa, agent: false,
      ...(holder ? { key: holder.keyPem, cert: [holder.certPem, ...extra.map((c) => c.certPem)].join('') } : {}),
    }, (response) => {
      let body = '';
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => { body += chunk; });
      response.on('end', () => resolve({
        status: response.statusCode ?? 0, location: response.headers.location, cacheControl: response.headers['cache-control'], body,
      }));
    });
    request.on('error', reject);
    request.end();
  });
}


const count = async (runtime: Runtime, table: string) => Number((await runtime.db.query<{ n: string }>(`SELECT count(*) AS n FROM ${table}`)).rows[0].n);

async function certificateAudit(runtime: Runtime) {
  await runtime.audit.flush();
  const { rows } = await runtime.db.query<{ result: string; detail: Record<string, unknown> }>(
    `SELECT result, detail FROM audit_events WHERE event = 'login.certificate' ORDER BY id`);
  return rows;
}

const alertOf = (html: string) => /role="alert"[^>]*>([^<]*)</.exec(html)?.[1];
const zh = (refusal: keyof typeof CERTIFICATE_ERROR_MESSAGES) => CERTIFICATE_ERROR_MESSAGES[refusal]['zh-CN'];

t.test('TLS client certificates (RSA, then ECDSA P-256) sign in through the OIDC flow at the CA\'s mapped level', async (t) => {
  const pki = createTestPki(t);
  const { runtime, issuer, tlsPort, serverCa, parked } = await startWithListener(t, pki);
  const files = await serveFiles(t);
  const rp = await certificatePortal(runtime, issuer, 'tls-portal', { minLevel: 'L3' });

  // RSA: only the root is registered; the client sends the issuing CA along in the handshake.
  const rsaRoot = pki.root({ name: 'RSA Root', keyType: 'rsa' });
  const rsaIssuing = rsaRoot.intermediate({ name: 'RSA Issuing CA' });
  files.set('/rsa-root.crl', rsaRoot.crlDer({ nextUpdateHours: 1 }));
  files.set('/rsa-issuing.crl', rsaIssuing.crlDer({ nextUpdateHours: 1 }));
  const citizen = await buildCitizen(runtime);
  const rsaLeaf = rsaIssuing.leaf({
    name: citizen.name, keyType: 'rsa', idNumber: citizen.idNumber, policies: [POLICY_MEDIUM],
    extendedKeyUsage: ['clientAuth'], crlUrl: files.url('/rsa-issuing.crl'),
  });
  await registerCa(runtime, {
    name: 'RSA CA', anchors: [rsaRoot], policyLevels: { [POLICY_MEDIUM]: 'L3' }, keyProtection: 'software',
    revocationMode: 'crl', crlUrls: [files.url('/rsa-root.crl')],
  });

  // ECDSA P-256: root and issuing CA registered, a hardware key, and a person new to the platform.
  const ecRoot = pki.root({ name: 'ECDSA Root', keyType: 'ec' });
  const ecIssuing = ecRoot.intermediate({ name: 'ECDSA Issuing CA', pathLen: 0 });
  files.set('/ec-issuing.crl', ecIssuing.crlDer({ nextUpdateHours: 1 }));
  const newcomer = buildUnregisteredIdNumber();
  const ecLeaf = ecIssuing.leaf({ name: '李四', keyType: 'ec', idNumber: newcomer, policies: [POLICY_MEDIUM], crlUrl: files.url('/ec-issuing.crl') });
  await registerCa(runtime, {
    name: 'ECDSA CA', anchors: [ecRoot], intermediates: [ecIssuing], policyLevels: { [POLICY_MEDIUM]: 'L3' }, keyProtection: 'hardware', revocationMode: 'crl',
  });

  t.test('RSA, existing account: swk at L3', async (t) => {
    const ua = createUserAgent(issuer);
    const { uid, verifier, link } = await rp.start(ua);
    t.equal(link, `https://localhost:${tlsPort}/interaction/${uid}/certificate/tls`, 'the certificate page links to the TLS listener for this interaction');

    const answer = await presentOverTls(link!, serverCa, rsaLeaf, [rsaIssuing]);
    t.equal(answer.status, 303);
    t.equal(answer.cacheControl, 'no-store');
    t.match(answer.location, new RegExp(`^${issuer}/interaction/${uid}/certificate/tls-return\\?token=[A-Za-z0-9_-]{20,64}$`));

    const done = await ua.get(answer.location!);
    t.ok(done.redirectedTo?.startsWith(RP_CALLBACK), alertOf(done.html) ?? 'back to the relying party');
    const claims = (await rp.tokens(done.redirectedTo!, verifier)).claims()!;
    t.equal(claims.sub, citizen.account.id, 'the existing account');
    t.equal(claims.acr, `${issuer}/acr/L3`);
    t.same(claims.amr, ['swk']);
    const last = (await certificateAudit(runtime)).at(-1)!;
    t.equal(last.result, 'success');
    t.equal(last.detail.proof, 'tls_client_certificate');
    t.equal(last.detail.interaction, uid);
    t.ok(files.count('/rsa-issuing.crl') >= 1, 'the leaf\'s CRL was fetched');
  });

  t.test('ECDSA P-256, new person: an account proofed by the CA, hwk at L3', async (t) => {
    const accountsBefore = await count(runtime, 'accounts');
    const ua = createUserAgent(issuer);
    const { uid, verifier, link } = await rp.start(ua);
    const answer = await presentOverTls(link!, serverCa, ecLeaf);
    t.equal(answer.status, 303);
    const done = await ua.get(answer.location!);
    t.ok(done.redirectedTo?.startsWith(RP_CALLBACK), alertOf(done.html) ?? 'back to the relying party');
    const claims = (await rp.tokens(done.redirectedTo!, verifier)).claims()!;
    t.equal(claims.acr, `${issuer}/acr/L3`);
    t.same(claims.amr, ['hwk']);
    t.equal(await count(runtime, 'accounts'), accountsBefore + 1, 'one account created');
    t.equal((await runtime.accounts.findById(claims.sub))?.idNumber, newcomer, 'keyed on the ID number in the certificate');
    t.same(parked.at(-1), uid, 'parked for this interaction');
  });
});

t.test('TLS listener refusals', async (t) => {
  const pki = createTestPki(t);
  const { runtime, issuer, tlsPort, serverCa, parked } = await startWithListener(t, pki);
  const files = await serveFiles(t);
  const rp = await certificatePortal(runtime, issuer, 'tls-refusals', { minLevel: 'L3' });
  const root = pki.root({ name: 'Registered Root', keyType: 'rsa' });
  const issuing = root.intermediate({ name: 'Registered Issuing CA', pathLen: 0 });
  files.set('/issuing.crl', issuing.crlDer({ nextUpdateHours: 1 }));
  await registerCa(runtime, {
    name: 'Registered CA', anchors: [root], intermediates: [issuing], policyLevels: { [POLICY_MEDIUM]: 'L3' }, keyProtection: 'software', revocationMode: 'crl',
  });
  const leafFor = (idNumber: string) => issuing.leaf({ keyType: 'rsa', idNumber, policies: [POLICY_MEDIUM], crlUrl: files.url('/issuing.crl') });
  const stranger = pki.root({ name: 'Unregistered Root', keyType: 'rsa' }).leaf({ keyType: 'rsa', idNumber: buildUnregisteredIdNumber(), policies: [POLICY_MEDIUM] });

  t.test('no client certificate: back to the interaction, which says so and audits it (empty_chain)', async (t) => {
    const ua = createUserAgent(issuer);
    const { uid, link } = await rp.start(ua);
    const answer = await presentOverTls(link!, serverCa);
    t.equal(answer.status, 303);
    t.match(answer.location ?? '', new RegExp(`^${issuer}/interaction/${uid}/certificate/tls-return\\?token=`));
    const back = await ua.get(answer.location!);
    t.equal(back.response.status, 400);
    t.match(back.html, new RegExp(CERTIFICATE_ERROR_MESSAGES.empty_chain['zh-CN']));
    await runtime.audit.flush();
    const { rows } = await runtime.db.query<{ detail: { reason: string; proof: string } }>(
      "SELECT detail FROM audit_events WHERE event = 'login.certificate' ORDER BY id DESC LIMIT 1");
    t.same([rows[0].detail.reason, rows[0].detail.proof], ['empty_chain', 'tls_client_certificate']);
  });

  t.test('only GET /interaction/:uid/certificate/tls exists on the listener', async (t) => {
    const leaf = leafFor(buildUnregisteredIdNumber());
    const before = parked.length;
    for (const path of ['/', '/interaction/short/certificate/tls', '/interaction/abcdefghijklmnop/certificate/tls/x', '/interaction/abc%2Fdefghijklmn/certificate/tls']) {
      const answer = await presentOverTls(`https://localhost:${tlsPort}${path}`, serverCa, leaf);
      t.equal(answer.status, 404, path);
    }
    t.equal(parked.length, before, 'nothing parked');
  });

  t.test('a hand-over token works once: replayed, it is refused (challenge_unknown)', async (t) => {
    const ua = createUserAgent(issuer);
    const { uid, link } = await rp.start(ua);
    // The first use fails later (unregistered CA), so the interaction is still open for the replay.
    const answer = await presentOverTls(link!, serverCa, stranger);
    const first = await ua.get(answer.location!);
    t.equal(first.response.status, 401);
    t.equal(alertOf(first.html), zh('untrusted_ca'));
    const auditBefore = (await certificateAudit(runtime)).length;
    const replay = await ua.get(answer.location!);
    t.equal(replay.response.status, 400);
    t.equal(alertOf(replay.html), zh('challenge_unknown'));
    t.equal(replay.redirectedTo, undefined);
    t.match(replay.url, `/interaction/${uid}/certificate/tls-return`);
    const entries = (await certificateAudit(runtime)).slice(auditBefore);
    t.same(entries.map((e) => `${e.result}:${String(e.detail.reason)}:${String(e.detail.interaction)}`), [`failure:challenge_unknown:${uid}`], 'the replay is audited');
  });

  t.test('a token parked for one interaction is refused in another', async (t) => {
    const accountsBefore = await count(runtime, 'accounts');
    const victim = createUserAgent(issuer);
    const a = await rp.start(victim);
    const answer = await presentOverTls(a.link!, serverCa, leafFor(buildUnregisteredIdNumber()));
    const token = new URL(answer.location!).searchParams.get('token')!;
    const other = createUserAgent(issuer);
    const b = await rp.start(other);
    const auditBefore = (await certificateAudit(runtime)).length;
    const misused = await other.get(`/interaction/${b.uid}/certificate/tls-return?token=${token}`);
    t.equal(misused.response.status, 400);
    t.equal(alertOf(misused.html), zh('challenge_unknown'));
    t.equal(misused.redirectedTo, undefined, 'no login');
    t.equal(await count(runtime, 'accounts'), accountsBefore, 'no account created');
    const entries = (await certificateAudit(runtime)).slice(auditBefore);
    t.same(entries.map((e) => `${e.result}:${String(e.detail.reason)}:${String(e.detail.interaction)}`), [`failure:challenge_unknown:${b.uid}`], 'the misuse is audited');
  });

  t.test('a malformed token never reaches the hand-over', async (t) => {
    const ua = createUserAgent(issuer);
    const { uid } = await rp.start(ua);
    for (const token of ['short', 'x'.repeat(65), 'abc$defghijklmnopqrstuvwxyz']) {
      const answer = await ua.get(`/interaction/${uid}/certificate/tls-return?token=${encodeURIComponent(token)}`);
      t.equal(answer.response.status, 400, token);
      t.equal(answer.redirectedTo, undefined);
    }
  });

  t.test('a certificate from an unregistered CA: refused on the page, audited as untrusted_ca, no account', async (t) => {
    const accountsBefore = await count(runtime, 'accounts');
    const auditBefore = (await certificateAudit(runtime)).length;
    const ua = createUserAgent(issuer);
    const { uid, link } = await rp.start(ua);
    const answer = await presentOverTls(link!, serverCa, stranger);
    t.equal(answer.status, 303, 'the listener hands over whatever was presented; our validator decides');
    const page = await ua.get(answer.location!);
    t.equal(page.response.status, 401);
    t.equal(alertOf(page.html), zh('untrusted_ca'));
    t.match(page.html, /id="certificate-tls"/, 'the certificate page again, to try another certificate');
    t.equal(page.redirectedTo, undefined);
    const entries = (await certificateAudit(runtime)).slice(auditBefore);
    t.equal(entries.length, 1);
    t.equal(entries[0].result, 'failure');
    t.equal(entries[0].detail.reason, 'untrusted_ca');
    t.equal(entries[0].detail.proof, 'tls_client_certificate');
    t.equal(entries[0].detail.interaction, uid);
    t.equal(await count(runtime, 'accounts'), accountsBefore, 'no account created');
  });
});

t.test('the handshake names the registered RSA and ECDSA CAs for the browser\'s certificate picker, not the SM2 ones', async (t) => {
  const pki = createTestPki(t);
  const rsaRoot = pki.root({ name: 'Picker RSA Root', keyType: 'rsa' });
  const ecRoot = pki.root({ name: 'Picker ECDSA Root', keyType: 'ec' });
  const sm2Root = pki.root({ name: 'Picker SM2 Root', keyType: 'sm2' });
  const { tlsPort, serverCaFile } = await startWithListener(t, pki, async (runtime) => {
    await registerCa(runtime, { name: 'Picker RSA CA', anchors: [rsaRoot], policyLevels: { [POLICY_MEDIUM]: 'L3' } });
    await registerCa(runtime, { name: 'Picker ECDSA CA', anchors: [ecRoot], policyLevels: { [POLICY_MEDIUM]: 'L3' } });
    await registerCa(runtime, { name: 'Picker SM2 CA', anchors: [sm2Root], policyLevels: { [POLICY_MEDIUM]: 'L3' } });
  });
  // Asynchronously: the listener answers from this process's event loop. s_client leaves when its stdin closes.
  const output = await new Promise<string>((resolve, reject) => {
    const child = execFile('openssl', ['s_client', '-connect', `127.0.0.1:${tlsPort}`, '-servername', 'localhost', '-CAfile', serverCaFile, '-verify_return_error'],
      { timeout: 30_000 }, (error, stdout, stderr) => (error ? reject(new Error(`${error.message}\n${stderr}`)) : resolve(stdout)));
    child.stdin!.end();
  });
  const names = /Acceptable client certificate CA names\n([\s\S]*?)\n(?:Requested|Client Certificate Types|---)/.exec(output)?.[1] ?? '';
  t.match(output, /Verify return code: 0 \(ok\)/, 'the listener\'s own certificate verifies for localhost');
  t.match(names, /CN = Picker RSA Root/);
  t.match(names, /CN = Picker ECDSA Root/);
  t.notMatch(names, /SM2/, 'Node\'s TLS cannot use SM2 client certificates');
});
