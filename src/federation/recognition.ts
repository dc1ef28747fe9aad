import type { LevelCatalog } from '../assurance/levels.ts';
import type { ProofingRepository } from '../assurance/proofing-repository.ts';
import type { AuditLog } from '../audit/audit-log.ts';
import type { AuditEventName } from '../audit/events.ts';
import type { Database } from '../db/database.ts';
import type { DataProtector } from '../identity/data-protection.ts';
import { maskIdNumber, validateIdNumber } from '../identity/id-number.ts';
import { createLinkRepository } from './link-repository.ts';
import type { UpstreamFailure } from './messages.ts';
import { grantFor, type Upstream, type UpstreamGrant } from './upstream-config.ts';

/** What an upstream said about the person, after its token or userinfo response was validated. */
export type UpstreamIdentity = { subject: string; idNumber?: unknown; name?: unknown; acr?: string };

export type Recognised = {
  accountId: string;
  idNumberMasked: string;
  /** known: the subject was linked before; linked: an existing account, linked now; created: a new account. */
  outcome: 'known' | 'linked' | 'created';
  grant: UpstreamGrant;
  proofingRecorded: boolean;
};

export class RecognitionRefused extends Error {
  readonly reason: UpstreamFailure;
  readonly actor?: string;
  readonly accountId?: string;
  readonly detail: Record<string, unknown>;
  constructor(reason: UpstreamFailure, context: { actor?: string; accountId?: string; detail?: Record<string, unknown> } = {}) {
    super(`upstream login refused: ${reason}`);
    this.reason = reason;
    this.actor = context.actor;
    this.accountId = context.accountId;
    this.detail = context.detail ?? {};
  }
}

const REGISTER_VERIFIED = 'register_verified';

export type RecognitionSource = {
  link: string;
  createAccounts: boolean;
  proofing: string;
  evidence: Record<string, unknown>;
  verifiedBy: string;
  linkEvent: Extract<AuditEventName, 'account.linked_upstream' | 'account.linked_certificate'>;
};

/** `abc123456789` → `abc1****`: enough to tell subjects apart in an investigation, not to reuse one. */
export function maskSubject(subject: string): string {
  return `${Array.from(subject).slice(0, 4).join('')}****`;
}

function cleanName(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  const name = value.normalize('NFKC').trim().replace(/\s+/g, ' ');
  return name.length > 0 && name.length <= 50 && !/\p{Cc}/u.test(name) ? name : undefined;
}

/**
 * Finds the local account an upstream login stands for: by the link of that upstream subject, else by the
 * ID number (linking it), else a new account when the upstream may create them. A new account, its
 * link, proofing and audit commit together or not at all; a refusal writes nothing.
 */
export function createRecognition(deps: {
  db: Database;
  protector: DataProtector;
  proofing: ProofingRepository;
  catalog: LevelCatalog;
  audit: AuditLog;
  clock: () => Date;
}) {
  const { catalog, protector } = deps;

  /**
   * The same for any source that vouches for an ID number at a proofing: `source.link` names the link row
   * (an upstream id, or `ca:<trust service>` for certificates) and `source.verifiedBy` the account's
   * identity_verified_by when it is created.
   */
  async function recogniseAs(source: RecognitionSource, identity: UpstreamIdentity, context: { ip: string; clientId?: string }): Promise<Omit<Recognised, 'grant'>> {
    if (identity.idNumber === undefined || identity.idNumber === null || identity.idNumber === '') throw new RecognitionRefused('id_number_missing');
    // A JSON number cannot hold 18 digits exactly, nor the check character X.
    if (typeof identity.idNumber !== 'string') throw new RecognitionRefused('id_number_invalid', { detail: { idNumberReason: 'format' } });
    const checked = validateIdNumber(identity.idNumber);
    if (!checked.ok) throw new RecognitionRefused('id_number_invalid', { actor: maskIdNumber(identity.idNumber.trim()), detail: { idNumberReason: checked.reason } });
    const idNumber = checked.idNumber;
    const actor = maskIdNumber(idNumber);
    const idNumberHash = protector.lookupHash('id_number', idNumber);
    const subjectMasked = maskSubject(identity.subject);
    const now = deps.clock();
    const { evidence } = source;
    const grant = { proofing: source.proofing };
    const upstream = { id: source.link, createAccounts: source.createAccounts };

    const resolved = await deps.db.transaction(async (tx) => {
      const links = createLinkRepository(tx);
      let outcome: Recognised['outcome'] = 'known';
      let link = await links.findLink(upstream.id, identity.subject);
      // A closed or merged account gave its ID number up; the link to it no longer means anything.
      if (link && link.idNumberHash === null) {
        await links.deleteLink(upstream.id, identity.subject);
        link = undefined;
      }
      if (link && link.idNumberHash !== idNumberHash) {
        throw new RecognitionRefused('id_number_changed', { actor, accountId: link.accountId, detail: { subject: subjectMasked } });
      }

      let accountId = link?.accountId;
      let status = link?.status;
      if (!link) {
        const existing = await links.findAccountByIdNumberHash(idNumberHash);
        if (existing) {
          accountId = existing.id;
          status = existing.status;
          outcome = 'linked';
        } else {
          if (!upstream.createAccounts) throw new RecognitionRefused('no_local_account', { actor });
          const name = cleanName(identity.name);
          if (!name) throw new RecognitionRefused('name_missing', { actor });
          const verifiedBy = catalog.proofingRank(grant.proofing) >= catalog.proofingRank(REGISTER_VERIFIED) ? source.verifiedBy : null;
          accountId = await links.insertAccount({
            idNumberHash,
            idNumberEnc: protector.encrypt(idNumber, 'accounts.id_number'),
            idNumberMasked: actor,
            nameEnc: protector.encrypt(name, 'accounts.name'),
            nameHash: protector.lookupHash('name', name),
            verifiedBy,
          });
          if (accountId) {
            status = 'active';
            outcome = 'created';
            await deps.audit.recordWithin(tx, {
              event: 'account.registered', result: 'success', actor, accountId, clientId: context.clientId, ip: context.ip,
              detail: { identityVerifiedBy: verifiedBy, upstream: upstream.id },
            });
          } else {
            // Another login created it a moment ago: INSERT waited for that commit, so a new read sees it.
            const created = await links.findAccountByIdNumberHash(idNumberHash);
            if (!created) throw new Error('account insert conflicted but no account has that ID number');
            accountId = created.id;
            status = created.status;
            outcome = 'linked';
          }
        }
      }
      if (status !== 'active') throw new RecognitionRefused('account_not_active', { actor, accountId, detail: { status } });

      if (outcome !== 'known') {
        const inserted = await links.insertLink(upstream.id, identity.subject, accountId!, now);
        if (inserted) await deps.audit.recordWithin(tx, {
          event: source.linkEvent, result: 'success', actor, accountId, clientId: context.clientId, ip: context.ip,
          detail: { upstream: upstream.id, subject: subjectMasked, created: outcome === 'created' },
        });
      }

      // A new account's proofing is part of creating it; an existing account's is raised below.
      if (outcome === 'created') await deps.proofing.record(tx, accountId!, grant.proofing, evidence, now);
      return { accountId: accountId!, outcome };
    });

    const { accountId, outcome } = resolved;
    // Outside the transaction: best() reads through its own connection (the embedded database has only one).
    let proofingRecorded = outcome === 'created';
    if (!proofingRecorded && catalog.proofingRank(grant.proofing) > catalog.proofingRank(await deps.proofing.best(accountId))) {
      await deps.proofing.record(deps.db, accountId, grant.proofing, evidence, now);
      proofingRecorded = true;
    }
    return { accountId, idNumberMasked: actor, outcome, proofingRecorded };
  }

  async function recognise(upstream: Upstream, identity: UpstreamIdentity, context: { ip: string; clientId?: string }): Promise<Recognised> {
    const grant = grantFor(upstream, identity.acr, catalog);
    if (!grant) throw new RecognitionRefused('acr_not_mapped', { detail: { acr: identity.acr ?? null } });
    const evidence = { upstream: upstream.id, subject: identity.subject, ...(identity.acr !== undefined ? { acr: identity.acr } : {}) };
    const recognised = await recogniseAs({
      link: upstream.id, createAccounts: upstream.createAccounts, proofing: grant.proofing, evidence,
      verifiedBy: `upstream:${upstream.id}`, linkEvent: 'account.linked_upstream',
    }, identity, context);
    return { ...recognised, grant };
  }

  return { recognise, recogniseAs };
}

export type Recognition = ReturnType<typeof createRecognition>;
