import { createHash, randomBytes } from 'node:crypto';
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify';
import formbody from '@fastify/formbody';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';

type Teardown = { teardown(fn: () => unknown): void };

/** Who signs in at the fake upstream for a given client id; `idNumber` undefined leaves the claim out. */
export type FakePerson = { sub: string; idNumber?: string; name?: string };

/**
 * A scripted identity provider for what a real one never does: its behaviour is chosen by the client id.
 * OIDC clients: `good`; `wrong-iss`, `wrong-aud`, `wrong-key` (a token signed by a key not in its JWKS);
 * anything else behaves like `good`. Plain OAuth 2.0 lives under /oauth with a nested userinfo document.
 * Every authorization is approved at once for the person set for that client; PKCE and the client secret
 * (`<client id>-secret`) are checked at the token endpoint.
 */
export async function startFakeUpstream(t: Teardown) {
  const signing = await generateKeyPair('RS256');
  const stranger = await generateKeyPair('RS256');
  const publicJwk = { ...(await exportJWK(signing.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const people = new Map<string, FakePerson>();
  const codes = new Map<string, { clientId: string; redirectUri: string; challenge: string; nonce?: string; person: FakePerson }>();
  const tokens = new Map<string, FakePerson>();
  const tokenRequests: { clientId: string; auth: 'basic' | 'post' }[] = [];

  const app = Fastify();
  await app.register(formbody);
  // Known once listening; the handlers read it per request.
  let base = '';

  app.get('/.well-known/openid-configuration', async () => ({
    issuer: base,
    authorization_endpoint: `${base}/authorize`,
    token_endpoint: `${base}/token`,
    userinfo_endpoint: `${base}/userinfo`,
    jwks_uri: `${base}/jwks`,
    response_types_supported: ['code'],
    subject_types_supported: ['public'],
    id_token_signing_alg_values_supported: ['RS256'],
    code_challenge_methods_supported: ['S256'],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
  }));
  app.get('/jwks', async () => ({ keys: [publicJwk] }));

  const authorize = async (request: FastifyRequest, reply: FastifyReply) => {
    const q = request.query as Record<string, string>;
    const person = people.get(q.client_id);
    if (!person || q.code_challenge_method !== 'S256' || !q.code_challenge) return reply.status(400).send({ error: 'invalid_request' });
    const code = randomBytes(16).toString('base64url');
    codes.set(code, { clientId: q.client_id, redirectUri: q.redirect_uri, challenge: q.code_challenge, nonce: q.nonce, person });
    const back = new URL(q.redirect_uri);
    back.searchParams.set('code', code);
    back.searchParams.set('state', q.state);
    return reply.redirect(back.href, 303);
  };
  app.get('/authorize', authorize);
  app.get('/oauth/authorize', authorize);

  /** The client authenticated and the code redeemed with its PKCE verifier, or undefined. */
  function redeem(request: FastifyRequest) {
    const body = request.body as Record<string, string>;
    let clientId = body.client_id;
    let secret = body.client_secret;
    let auth: 'basic' | 'post' = 'post';
    const header = request.headers.authorization;
    if (header?.startsWith('Basic ')) {
      const [id, pass] = Buffer.from(header.slice(6), 'base64').toString().split(':');
      clientId = decodeURIComponent(id);
      secret = decodeURIComponent(pass);
      auth = 'basic';
    }
    const grant = codes.get(body.code);
    codes.delete(body.code);
    if (!grant || grant.clientId !== clientId || secret !== `${clientId}-secret` || grant.redirectUri !== body.redirect_uri) return undefined;
    if (createHash('sha256').update(body.code_verifier ?? '').digest('base64url') !== grant.challenge) return undefined;
    tokenRequests.push({ clientId, auth });
    return grant;
  }

  app.post('/token', async (request, reply) => {
    const grant = redeem(request);
    if (!grant) return reply.status(400).send({ error: 'invalid_grant' });
    const mode = grant.clientId;
    const now = Math.floor(Date.now() / 1000);
    const idToken = await new SignJWT({
      nonce: grant.nonce, acr: `${base}/acr/high`, auth_time: now - 5,
      ...(grant.person.idNumber !== undefined ? { id_number: grant.person.idNumber } : {}), name: grant.person.name,
    })
      .setProtectedHeader({ alg: 'RS256', kid: 'k1' })
      .setIssuer(mode === 'wrong-iss' ? 'https://impostor.example.gov.cn' : base)
      .setAudience(mode === 'wrong-aud' ? 'another-client' : grant.clientId)
      .setSubject(grant.person.sub)
      .setIssuedAt(now)
      .setExpirationTime(now + 300)
      .sign(mode === 'wrong-key' ? stranger.privateKey : signing.privateKey);
    const accessToken = randomBytes(16).toString('base64url');
    tokens.set(accessToken, grant.person);
    return { access_token: accessToken, token_type: 'Bearer', expires_in: 300, id_token: idToken };
  });

  app.post('/oauth/token', async (request, reply) => {
    const grant = redeem(request);
    if (!grant) return reply.status(400).send({ error: 'invalid_grant' });
    const accessToken = randomBytes(16).toString('base64url');
    tokens.set(accessToken, grant.person);
    return { access_token: accessToken, token_type: 'Bearer', expires_in: 300 };
  });

  const bearer = (request: FastifyRequest) => tokens.get((request.headers.authorization ?? '').replace(/^Bearer /, ''));
  app.get('/userinfo', async (request, reply) => {
    const person = bearer(request);
    if (!person) return reply.status(401).header('www-authenticate', 'Bearer error="invalid_token"').send();
    return { sub: person.sub, name: person.name, ...(person.idNumber !== undefined ? { id_number: person.idNumber } : {}) };
  });
  app.get('/oauth/userinfo', async (request, reply) => {
    const person = bearer(request);
    if (!person) return reply.status(401).send({ code: 40001, message: 'invalid token' });
    return { code: 0, data: { user_id: person.sub, real_name: person.name, ...(person.idNumber !== undefined ? { cert_no: person.idNumber } : {}) } };
  });

  await app.listen({ port: 0, host: '127.0.0.1' });
  t.teardown(() => app.close());
  base = `http://127.0.0.1:${(app.server.address() as { port: number }).port}`;
  return { base, people, tokenRequests };
}
