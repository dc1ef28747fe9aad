import type { LevelCatalog } from '../../assurance/levels.ts';
import type { VerifiedFactor } from '../../assurance/session-facts-repository.ts';
import type { AuditLog } from '../../audit/audit-log.ts';
import type { RateLimiter } from '../../cache/rate-limiter.ts';
import type { Database } from '../../db/database.ts';
import { createAccountRepository } from '../../accounts/repository.ts';
import { createLinkRepository } from '../../federation/link-repository.ts';
import { RecognitionRefused, type Recognition } from '../../federation/recognition.ts';
import { AppError, rateLimited } from '../../http/errors.ts';
import { Sm2VerifierUnavailableError } from '../../pki/sm2-verifier-pool.ts';
import type { DataProtector } from '../../identity/data-protection.ts';
import { maskIdNumber } from '../../identity/id-number.ts';
import { maskUscc } from '../../identity/uscc.ts';
import { extractIdentity, IdentityExtractionError } from '../../pki/identity-extraction.ts';
import { verifySignature } from '../../pki/signature.ts';
import type { ParsedCertificate } from '../../pki/types.ts';
import type { Amr, Verified } from '../types.ts';
import type { VerifiedChain, CertificateVerifier } from './certificate-verifier.ts';
import type { ChallengeStore } from './challenge-store.ts';
import type { EnterpriseCertificates } from './enterprise-certificates.ts';
import { CertificateLoginError, type CertificateRefusal } from './errors.ts';
import type { ProofOfPossession } from './types.ts';

export type CertificateContext = {
  ip: string;
  uid: string;
  clientId?: string;
  /** Set for a step-up: the certificate must belong to this account. */
  sessionAccountId?: string;
};

export type CertificateLoginResult = { verified: Verified; factor: VerifiedFactor; level: string; outcome: 'known' | 'linked' | 'created' };

/** Certificate links in upstream_links are named after the CA service: `ca:<trust service id>`. */
const CA_LINK_PREFIX = 'ca:';

const RECOGNITION_REFUSALS: Partial<Record<string, CertificateRefusal>> = {
  id_number_missing: 'identity_missing',
  id_number_invalid: 'identity_invalid',
  no_local_account: 'no_local_account',
  account_not_active: 'account_unavailable',
};

/**
 * CA-certificate login: proof of possession (a signed challenge, or a TLS handshake done by our listener or
 * a trusted proxy), the chain verified against the trust registry, the identity read with the CA's
 * extraction profile and validated, then the account found or created by (CA service, identifier) —
 * a person already verified by one CA is recognised, not verified again. Every outcome is audited;
 * a refusal records nothing else.
 */
export function createCertificateLogin(deps: {
  db: Database;
  verifier: CertificateVerifier;
  challenges: ChallengeStore;
  recognition: Recognition;
  enterprise: EnterpriseCertificates;
  protector: DataProtector;
  catalog: LevelCatalog;
  audit: AuditLog;
  limiter: RateLimiter;
  perIpPerMinute: number;
  createAccounts: boolean;
  clock: () => Date;
}) {
  const { catalog, protector } = deps;

  async function limit(ip: string) {
    const decision = await deps.limiter.hit({ name: 'cert-login-ip', limit: deps.perIpPerMinute, windowSeconds: 60 }, ip);
    if (!decision.allowed) throw rateLimited(decision.retryAfterSeconds);
  }

  async function refuse(error: unknown, context: CertificateContext, extra: Record<string, unknown>): Promise<never> {
    const refusal = error instanceof CertificateLoginError ? error.refusal : error instanceof Error && 'code' in error ? String(error.code) : 'error';
    await deps.audit.record({
      event: 'login.certificate', result: 'failure', ip: context.ip, clientId: context.clientId,
      actor: typeof extra.actor === 'string' ? extra.actor : undefined,
      detail: { interaction: context.uid, ...extra, ...(error instanceof CertificateLoginError ? error.detail : {}), reason: refusal },
    });
    // The SM2 worker pool failing (crashed, saturated) is an outage to retry later, not the person's mistake.
    if (error instanceof Sm2VerifierUnavailableError) throw new AppError('service_unavailable', 'Certificate verification is unavailable; try again shortly.', { status: 503 });
    throw error;
  }

  function identityOf(verified: VerifiedChain) {
    try {
      return extractIdentity(verified.leaf, verified.service.extraction, { today: deps.clock() });
    } catch (error) {
      if (error instanceof IdentityExtractionError) {
        throw new CertificateLoginError(error.code === 'identity_missing' ? 'identity_missing' : 'identity_invalid', error.message);
      }
      throw error;
    }
  }

  async function complete(chain: readonly ParsedCertificate[], proof: ProofOfPossession, context: CertificateContext): Promise<CertificateLoginResult> {
    const leaf = chain[0];
    const certificateDetail = { certificate: leaf.fingerprint.slice(0, 16), proof };
    let actor: string | undefined;
    try {
      const verified = await deps.verifier.verify(chain);
      const identity = identityOf(verified);
      const { service } = verified;
      const at = deps.clock();
      const method = service.keyProtection === 'hardware' ? 'hwk' as const : 'swk' as const;
      const serviceDetail = { ca: service.id, level: verified.level, policy: verified.policy, revocation: verified.revocation };

      if (!identity.citizenId) {
        // Only an organisation code: kept for the enterprise-accounts work, but no person to sign in.
        if (identity.uscc) {
          actor = maskUscc(identity.uscc);
          const first = await deps.enterprise.record({ certificate: leaf, serviceId: service.id, uscc: identity.uscc, at });
          await deps.audit.record({ event: 'enterprise_certificate.recorded', result: 'success', actor, ip: context.ip, clientId: context.clientId, detail: { ...certificateDetail, ...serviceDetail, first } });
          throw new CertificateLoginError('enterprise_login_unavailable', 'Organisation accounts are not open yet; the certificate was recorded.');
        }
        throw new CertificateLoginError('identity_missing', 'The certificate names no person.');
      }
      actor = maskIdNumber(identity.citizenId);
      const idNumberHash = protector.lookupHash('id_number', identity.citizenId);

      if (context.sessionAccountId) {
        const sessionAccount = await createAccountRepository(deps.db).findById(context.sessionAccountId);
        if (sessionAccount?.id_number_hash !== idNumberHash) {
          throw new CertificateLoginError('certificate_other_person', 'The certificate names another person than the signed-in account.');
        }
      }

      const level = catalog.level(verified.level)!;
      let recognised: Awaited<ReturnType<Recognition['recogniseAs']>>;
      try {
        recognised = await deps.recognition.recogniseAs({
          link: `${CA_LINK_PREFIX}${service.id}`,
          createAccounts: deps.createAccounts,
          proofing: level.proofing,
          evidence: { method: 'ca_certificate', ca: service.id, operator: service.operatorName, certificate: leaf.fingerprint, policy: verified.policy, level: level.id },
          verifiedBy: `ca:${service.id}`,
          linkEvent: 'account.linked_certificate',
        }, { subject: idNumberHash, idNumber: identity.citizenId, name: identity.name }, { ip: context.ip, clientId: context.clientId });
      } catch (error) {
        if (error instanceof RecognitionRefused) {
          throw new CertificateLoginError(RECOGNITION_REFUSALS[error.reason] ?? 'account_unavailable', `The certificate cannot sign in: ${error.reason}.`, { recognition: error.reason });
        }
        throw error;
      }

      if (identity.uscc) await deps.enterprise.record({ certificate: leaf, serviceId: service.id, uscc: identity.uscc, holderAccountId: recognised.accountId, at });

      const amr: Amr[] = [method];
      const extraAmr = service.pinRequired ? ['pin'] : [];
      await deps.audit.record({
        event: 'login.certificate', result: 'success', actor, accountId: recognised.accountId, ip: context.ip, clientId: context.clientId,
        detail: { interaction: context.uid, ...certificateDetail, ...serviceDetail, outcome: recognised.outcome, proofingRecorded: recognised.proofingRecorded, stepUp: Boolean(context.sessionAccountId) },
      });
      return {
        verified: { accountId: recognised.accountId, method, amr: [...amr, ...extraAmr] as Amr[] },
        factor: { method, maxLevel: level.id, ...(extraAmr.length ? { amr: extraAmr } : {}) },
        level: level.id,
        outcome: recognised.outcome,
      };
    } catch (error) {
      return refuse(error, context, { ...certificateDetail, actor });
    }
  }

  return {
    challenge: (uid: string) => deps.challenges.issue(uid),

    /** Whether the account ever signed in with a certificate (linked to a CA service). */
    async hasCertificate(accountId: string): Promise<boolean> {
      return createLinkRepository(deps.db).hasLinkWithPrefix(accountId, CA_LINK_PREFIX);
    },

    /** Signed challenge: the chain (leaf first) in DER or PEM, the signature over the challenge text in UTF-8. */
    async loginWithSignature(input: { challenge: string; signature: Uint8Array; chain: readonly (Uint8Array | string)[] }, context: CertificateContext): Promise<CertificateLoginResult> {
      // Forms turn the challenge's line breaks into CRLF; the signed text is the one with LF, as issued.
      const challenge = input.challenge.replace(/\r\n/g, '\n');
      let chain: ParsedCertificate[];
      try {
        await limit(context.ip);
        // The challenge is used up first: a replayed or second attempt with it fails whatever else it carries.
        await deps.challenges.consume(context.uid, challenge);
        chain = deps.verifier.parse(input.chain);
        const ok = await verifySignature({ certificate: chain[0], message: new TextEncoder().encode(challenge), signature: input.signature });
        if (!ok) throw new CertificateLoginError('bad_signature', 'The signature does not verify with the certificate\'s key.');
      } catch (error) {
        return refuse(error, context, { proof: 'signed_challenge' });
      }
      return complete(chain, 'signed_challenge', context);
    },

    /** A certificate whose key the TLS handshake proved (our listener, or a trusted proxy that terminated TLS). */
    async loginWithPresentedCertificate(input: {
      /** Obtaining the chain (the hand-over token, the proxy header) can itself be refused: audited like the rest. */
      chain: () => readonly (Uint8Array | string)[] | Promise<readonly (Uint8Array | string)[]>;
      proof: Exclude<ProofOfPossession, 'signed_challenge'>;
    }, context: CertificateContext): Promise<CertificateLoginResult> {
      let chain: ParsedCertificate[];
      try {
        await limit(context.ip);
        chain = deps.verifier.parse(await input.chain());
      } catch (error) {
        return refuse(error, context, { proof: input.proof });
      }
      return complete(chain, input.proof, context);
    },
  };
}

export type CertificateLogin = ReturnType<typeof createCertificateLogin>;
