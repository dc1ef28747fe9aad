import t from 'tap';
import { startTestServer } from '../helpers/app.ts';
import { buildUnregisteredIdNumber } from '../helpers/builders.ts';
import { certificatePortal, registerCa, signAndPost } from '../helpers/certificates.ts';
import { serveFiles } from '../helpers/revocation-fixtures.ts';
import { createTestPki } from '../helpers/test-pki.ts';
import { createUserAgent } from '../helpers/user-agent.ts';

const POLICY = '1.2.156.99999.5.3';
const ADMIN = { name: 'test-admin' };

t.test('another province\'s signed trust list, imported and enabled, lets its CA\'s certificates sign in here', async (t) => {
  const provinceA = await startTestServer(t);
  const provinceB = await startTestServer(t);
  const pki = createTestPki(t);
  const files = await serveFiles(t);
  const root = pki.root({ name: 'Province A CA Root', keyType: 'sm2' });
  files.set('/a.crl', root.crlDer({ nextUpdateHours: 1 }));
  await registerCa(provinceA.runtime, { name: 'Province A CA', anchors: [root], policyLevels: { [POLICY]: 'L3' }, revocationMode: 'crl', crlUrls: [files.url('/a.crl')] });
  const leaf = root.leaf({ name: '褚四', keyType: 'sm2', idNumber: buildUnregisteredIdNumber(), policies: [POLICY] });

  const rp = await certificatePortal(provinceB.runtime, provinceB.issuer, 'province-b-portal');
  const attempt = async () => {
    const ua = createUserAgent(provinceB.issuer);
    const { page, verifier } = await rp.start(ua);
    return { ...(await signAndPost(ua, page.html, leaf)), verifier };
  };
  const before = await attempt();
  t.equal(before.response.status, 401, 'unknown in province B at first');
  t.match(before.html, /不是由本平台认可的 CA 签发/);

  const jwks = await (await fetch(`${provinceA.issuer}/trust/jwks`)).json();
  const peer = await provinceB.runtime.trust.peers.create({ name: 'Province A', listUrl: `${provinceA.issuer}/trust/list`, jwks }, ADMIN);
  const imported = await provinceB.runtime.trust.peers.import(peer.id, {}, ADMIN);
  t.equal(imported.services, 1, 'the list was fetched, verified and stored as a separate source');
  const stillRefused = await attempt();
  t.equal(stillRefused.response.status, 401, 'imported but not enabled: still refused');

  await provinceB.runtime.trust.peers.setEnabled(peer.id, true, ADMIN);
  const accepted = await attempt();
  t.ok(accepted.redirectedTo, 'enabled: the certificate signs in');
  const claims = (await rp.tokens(accepted.redirectedTo!, accepted.verifier)).claims()!;
  t.equal(claims.acr, `${provinceB.issuer}/acr/L3`, 'at the level province A\'s list maps the policy to');

  await provinceB.runtime.trust.peers.setEnabled(peer.id, false, ADMIN);
  t.equal((await attempt()).response.status, 401, 'disabled again: refused on the next login');
});
