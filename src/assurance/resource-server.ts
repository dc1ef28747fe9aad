/**
 * For resource servers (the APIs behind a relying party): decide from an introspected access token whether
 * the person authenticated strongly and recently enough, and if not, answer with the RFC 9470 challenge so
 * the client starts a step-up at the provider with the right `acr_values` / `max_age`.
 *
 *   const token = await introspect(accessToken);           // POST <issuer>/token/introspection
 *   const verdict = checkUserAuthentication(token, { acceptableAcr: [`${issuer}/acr/L3`, `${issuer}/acr/L4`], maxAgeSeconds: 900 });
 *   if (!verdict.ok) return reply.status(401).header('www-authenticate', verdict.wwwAuthenticate).send();
 *
 * Self-contained on purpose (no imports), so a resource server can copy or vendor this one file.
 */
export type UserAuthenticationRequirement = {
  /** The acr values this resource accepts (e.g. the URIs of L3 and L4); the challenge asks for these. */
  acceptableAcr: readonly string[];
  /** Oldest acceptable authentication, in seconds. */
  maxAgeSeconds?: number;
};

export type IntrospectedToken = { active: boolean; acr?: string; auth_time?: number };

export type UserAuthenticationVerdict =
  | { ok: true }
  | { ok: false; status: 401; error: 'invalid_token' | 'insufficient_user_authentication'; wwwAuthenticate: string };

const quote = (value: string) => `"${value.replace(/["\\]/g, '\\$&')}"`;

/** `WWW-Authenticate: Bearer error="insufficient_user_authentication", …` (RFC 9470 §3). */
export function insufficientUserAuthentication(requirement: UserAuthenticationRequirement, description?: string): string {
  const parts = [
    'Bearer error="insufficient_user_authentication"',
    `error_description=${quote(description ?? 'A different authentication level is required')}`,
  ];
  if (requirement.acceptableAcr.length > 0) parts.push(`acr_values=${quote(requirement.acceptableAcr.join(' '))}`);
  if (requirement.maxAgeSeconds !== undefined) parts.push(`max_age=${quote(String(requirement.maxAgeSeconds))}`);
  return parts.join(', ');
}

export function checkUserAuthentication(
  token: IntrospectedToken,
  requirement: UserAuthenticationRequirement,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): UserAuthenticationVerdict {
  if (!token.active) {
    return { ok: false, status: 401, error: 'invalid_token', wwwAuthenticate: 'Bearer error="invalid_token"' };
  }
  if (!token.acr || !requirement.acceptableAcr.includes(token.acr)) {
    return {
      ok: false, status: 401, error: 'insufficient_user_authentication',
      wwwAuthenticate: insufficientUserAuthentication(requirement, 'A higher authentication level is required'),
    };
  }
  if (requirement.maxAgeSeconds !== undefined && (typeof token.auth_time !== 'number' || nowSeconds - token.auth_time > requirement.maxAgeSeconds)) {
    return {
      ok: false, status: 401, error: 'insufficient_user_authentication',
      wwwAuthenticate: insufficientUserAuthentication(requirement, 'More recent authentication is required'),
    };
  }
  return { ok: true };
}
