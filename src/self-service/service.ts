import { invalidPhone, weakPassword } from '../accounts/errors.ts';
import type { Account } from '../accounts/types.ts';
import type { AuditRecord } from '../audit/audit-log.ts';
import type { AuditEvent } from '../audit/events.ts';
import { hashPassword } from '../authn/password/hashing.ts';
import { checkPassword, loadCommonPasswords } from '../authn/password/policy.ts';
import type { Runtime } from '../bootstrap/runtime.ts';
import { AppError, invalidInput, notFound } from '../http/errors.ts';
import { maskPhone, normalizeMainlandMobile } from '../identity/phone.ts';
import { createSelfServiceRepository, type AccountDetailsRow, type AuditRow, type StoredSession } from './repository.ts';
import { DEFAULT_SELF_SERVICE_SETTINGS, type SelfServiceSettings } from './settings.ts';

/** The account page's own client id: its authorization is not listed as a consent the person could revoke. */
export const ACCOUNT_CLIENT_ID = 'account-portal';

export type ActionContext = { ip?: string };
export type StaffActor = { name: string; ip?: string };
export type PhoneChangeMethod = 'old_sms' | 'face' | 'bank';

export type SessionView = {
  uid: string;
  signedInAt: Date | null;
  lastUsedAt: Date | null;
  expiresAt: Date | null;
  acr: string | null;
  amr: readonly string[];
  clients: readonly { id: string; name: string }[];
  /** The session this browser uses for the account page. */
  current: boolean;
};

export type ConsentView = { clientId: string; clientName: string; scopes: readonly string[]; grantedAt: Date | null; expiresAt: Date | null; offline: boolean };

export type ProofingView = {
  proofing: string; verifiedAt: Date | null; revoked: boolean; card?: string;
  /** Set when a CA certificate proved the identity: the CA operator's name. */
  certificateCa?: string;
};

export type AccountView = {
  account: Account;
  passwordChangedAt: Date | null;
  identityVerifiedBy: string | null;
  bestProofing: string | null;
  proofings: readonly ProofingView[];
};

export type ClosureResult = { closed: string[]; failed: { accountId: string; error: string }[] };

export const phoneTaken = () => new AppError('phone_taken', 'This mobile number is already bound to another account.', { status: 409 });
export const samePhone = () => new AppError('same_phone', 'This is already the bound mobile number.', { status: 400 });
const accountNotActive = () => new AppError('account_unavailable', 'This account cannot be changed at the moment.', { status: 409 });

const epochDate = (seconds: unknown) => (typeof seconds === 'number' && Number.isFinite(seconds) ? new Date(seconds * 1000) : null);
const asDate = (value: unknown) => (value ? new Date(value as string) : null);

// sv-SE formats as "2025-01-31 08:00", the form people read in messages.
const NOTICE_TIME = new Intl.DateTimeFormat('sv-SE', {
  timeZone: 'Asia/Shanghai', year: 'numeric', month: '2-digit', day: '2-digit', hour: '2-digit', minute: '2-digit', hour12: false,
});
const noticeTime = (date: Date) => NOTICE_TIME.format(date);

const NOTICE_PREFIX = '【政务服务统一身份认证】';
const NOTICE_SUFFIX = '如非本人操作，请立即联系政务服务大厅。';

type Revocable = { adapter: { revokeByGrantId(id: string): Promise<void>; destroy(id: string): Promise<void> } };
type BackchannelClient = { clientId: string; clientName?: string; backchannelLogoutUri?: string; backchannelLogout(accountId: string, sid: string): Promise<void> };

/**
 * What a person can do with their own account: see it, end sessions, revoke consents, change the phone,
 * reset the password, export, deregister; and the closure job. Every change is audited; changes to the
 * account row are audited in the same transaction.
 */
export function createSelfService(runtime: Runtime, settings: SelfServiceSettings = DEFAULT_SELF_SERVICE_SETTINGS) {
  const repo = createSelfServiceRepository(runtime.db);
  const { protector, provider, audit } = runtime;
  let commonPasswords: ReadonlySet<string> | undefined;

  const findClient = async (clientId: string) => (await provider.Client.find(clientId)) as unknown as BackchannelClient | undefined;
  const clientName = async (clientId: string) => (await findClient(clientId))?.clientName || clientId;

  async function revokeGrant(grantId: string) {
    const models = [provider.AccessToken, provider.AuthorizationCode, provider.RefreshToken] as unknown as Revocable[];
    await Promise.all(models.map((model) => model.adapter.revokeByGrantId(grantId)));
    await (provider.Grant as unknown as Revocable).adapter.destroy(grantId);
  }

  async function backchannel(accountId: string, clientId: string, sid: string | undefined, reason: string): Promise<boolean> {
    const client = await findClient(clientId);
    if (!client?.backchannelLogoutUri || !sid) return false;
    try {
      await client.backchannelLogout(accountId, sid);
      await audit.record({ event: 'logout.backchannel', result: 'success', accountId, clientId, detail: { sid, reason } });
      return true;
    } catch (error) {
      await audit.record({ event: 'logout.backchannel', result: 'failure', accountId, clientId, detail: { sid, reason, error: (error as Error).message } });
      return false;
    }
  }

  /** Like a logout at the provider: relying parties are told, grants not kept across logouts (offline_access) go. */
  async function endStoredSession(accountId: string, row: { id: string; payload: StoredSession }, reason: string) {
    let notified = 0;
    const clients: string[] = [];
    for (const [clientId, { sid, grantId, persistsLogout }] of Object.entries(row.payload.authorizations ?? {})) {
      clients.push(clientId);
      if (await backchannel(accountId, clientId, sid, reason)) notified++;
      if (grantId && !persistsLogout) await revokeGrant(grantId);
    }
    return { notified, clients };
  }

  function currentSid(payload: StoredSession, sid: string | undefined) {
    return Boolean(sid) && payload.authorizations?.[ACCOUNT_CLIENT_ID]?.sid === sid;
  }

  async function endSession(accountId: string, uid: string, ctx: ActionContext & { actor?: string; reason?: string }) {
    const row = await repo.sessionByUid(accountId, uid);
    if (!row) return { ended: false, notified: 0 };
    const reason = ctx.reason ?? 'ended_by_person';
    const { notified, clients } = await endStoredSession(accountId, row, reason);
    await runtime.db.transaction(async (tx) => {
      await repo.deleteSession(tx, row.id, uid);
      await audit.recordWithin(tx, {
        event: 'account.session_ended', result: 'success', accountId, actor: ctx.actor, ip: ctx.ip,
        detail: { sessionUid: uid, clients, notified, reason },
      });
    });
    return { ended: true, notified };
  }

  async function sendNotice(accountId: string, phone: string, purpose: string, text: string, params: Record<string, string>) {
    const base = { accountId, actor: maskPhone(phone), detail: { purpose } } as const;
    try {
      await runtime.smsGateway.send({ to: phone, template: 'notice', params, text: `${NOTICE_PREFIX}${text}` });
      await audit.record({ ...base, event: 'sms.sent', result: 'success' });
      return true;
    } catch (error) {
      await audit.record({ ...base, event: 'sms.refused', result: 'failure', detail: { purpose, reason: 'gateway_error', error: (error as Error).message } });
      return false;
    }
  }

  async function loadAccount(accountId: string): Promise<Account> {
    const account = await runtime.accounts.findById(accountId);
    if (!account) throw notFound('No such account.');
    return account;
  }

  function passwordViolations(account: Account, password: string) {
    commonPasswords ??= loadCommonPasswords(runtime.config.password.commonPasswordsFile);
    return checkPassword(password, {
      minLength: runtime.config.password.minLength, idNumber: account.idNumber, phone: account.phone ?? undefined, commonPasswords,
    });
  }

  async function changePhone(accountId: string, input: string, event: AuditEvent & { detail: Record<string, unknown> }, allowed: readonly string[]) {
    const parsed = normalizeMainlandMobile(input);
    if (!parsed.ok) throw invalidPhone();
    const phone = parsed.phone;
    const hash = protector.lookupHash('phone', phone);
    const before = await runtime.db.transaction(async (tx) => {
      const row = await repo.accountDetails(accountId, tx, true);
      if (!row) throw notFound('No such account.');
      if (!allowed.includes(row.status)) throw accountNotActive();
      if (row.phone_hash === hash) throw samePhone();
      const changed = await repo.setPhone(tx, accountId, { hash, enc: protector.encrypt(phone, 'accounts.phone'), masked: maskPhone(phone) });
      if (!changed) throw phoneTaken();
      await audit.recordWithin(tx, { ...event, accountId, detail: { ...event.detail, before: row.phone_masked, after: maskPhone(phone) } });
      return { masked: row.phone_masked, phone: row.phone_enc ? protector.decrypt(row.phone_enc, 'accounts.phone') : null };
    });
    return { before, phone };
  }

  async function noticePhoneChange(accountId: string, before: string | null, after: string) {
    const time = noticeTime(runtime.clock());
    if (before) await sendNotice(accountId, before, 'notice_phone_changed', `您账号绑定的手机号码已于${time}更换为${maskPhone(after)}，本号码不再用于登录。${NOTICE_SUFFIX}`, { time, phone: maskPhone(after) });
    await sendNotice(accountId, after, 'notice_phone_bound', `本手机号码已于${time}绑定到您的政务服务账号。${NOTICE_SUFFIX}`, { time });
  }

  async function viewAccount(accountId: string): Promise<AccountView | undefined> {
    const row: AccountDetailsRow | undefined = await repo.accountDetails(accountId);
    if (!row) return undefined;
    const [bestProofing, proofings] = await Promise.all([runtime.proofing.best(accountId), repo.proofings(accountId)]);
    return {
      account: runtime.accounts.toAccount(row),
      passwordChangedAt: row.password_changed_at,
      identityVerifiedBy: row.identity_verified_by,
      bestProofing,
      proofings: proofings.map((p) => {
        const evidence = (p.evidence ?? {}) as { bin?: unknown; last4?: unknown; method?: unknown; operator?: unknown };
        return {
          proofing: String(p.proofing),
          verifiedAt: asDate(p.verified_at),
          revoked: Boolean(p.revoked_at),
          card: typeof evidence.bin === 'string' && typeof evidence.last4 === 'string' ? `${evidence.bin}******${evidence.last4}` : undefined,
          certificateCa: evidence.method === 'ca_certificate' && typeof evidence.operator === 'string' ? evidence.operator : undefined,
        };
      }),
    };
  }

  async function sessions(accountId: string, sid?: string): Promise<SessionView[]> {
    const rows = await repo.sessions(accountId);
    return Promise.all(rows.map(async ({ payload, expires_at, last_seen_at }) => {
      const saved = epochDate(payload.iat);
      const lastUsedAt = [saved, last_seen_at].filter((d): d is Date => d !== null).sort((a, b) => b.getTime() - a.getTime())[0] ?? null;
      return {
        uid: payload.uid,
        signedInAt: epochDate(payload.loginTs),
        lastUsedAt,
        expiresAt: expires_at,
        acr: payload.acr ?? null,
        amr: payload.amr ?? [],
        clients: await Promise.all(Object.keys(payload.authorizations ?? {}).map(async (id) => ({ id, name: await clientName(id) }))),
        current: currentSid(payload, sid),
      };
    }));
  }

  /** Every session but the one this browser uses: after proving identity without the old phone. */
  async function endOtherSessions(accountId: string, sid: string | undefined, ctx: ActionContext & { actor?: string }) {
    let ended = 0;
    for (const row of await repo.sessions(accountId)) {
      if (currentSid(row.payload, sid)) continue;
      if ((await endSession(accountId, row.payload.uid, { ...ctx, reason: 'phone_changed_without_old_number' })).ended) ended++;
    }
    return ended;
  }

  /** One entry per relying party: a new login makes a new grant, but for the person it is one consent. */
  async function consents(accountId: string): Promise<ConsentView[]> {
    const byClient = new Map<string, ConsentView>();
    for (const { payload, expires_at } of await repo.grants(accountId)) {
      if (payload.clientId === ACCOUNT_CLIENT_ID) continue;
      const scopes = (payload.openid?.scope ?? '').split(' ').filter(Boolean);
      const grantedAt = epochDate(payload.iat);
      const existing = byClient.get(payload.clientId);
      if (existing) {
        existing.scopes = [...new Set([...existing.scopes, ...scopes])];
        if (grantedAt && (!existing.grantedAt || grantedAt < existing.grantedAt)) existing.grantedAt = grantedAt;
        if (!existing.expiresAt || (expires_at && expires_at > existing.expiresAt)) existing.expiresAt = expires_at;
        existing.offline ||= scopes.includes('offline_access');
      } else {
        byClient.set(payload.clientId, {
          clientId: payload.clientId, clientName: await clientName(payload.clientId), scopes, grantedAt, expiresAt: expires_at, offline: scopes.includes('offline_access'),
        });
      }
    }
    return [...byClient.values()];
  }

  return {
    settings,
    view: viewAccount,
    sessions,
    /** Whether the provider session an account-page login belongs to still exists (logout, reset or closure end it). */
    providerSessionAlive: (accountId: string, sid: string) => repo.sessionWithSid(accountId, ACCOUNT_CLIENT_ID, sid),
    endSession,
    consents,

    /** Deletes every grant of the relying party with its tokens; the relying party's sessions are ended by back-channel logout. */
    async revokeConsent(accountId: string, clientId: string, ctx: ActionContext & { actor?: string }) {
      const grantIds = clientId === ACCOUNT_CLIENT_ID ? [] : await repo.grantIds(accountId, clientId);
      if (grantIds.length === 0) return { revoked: 0, notified: 0 };
      let notified = 0;
      for (const row of await repo.sessions(accountId)) {
        const authorization = row.payload.authorizations?.[clientId];
        if (authorization?.grantId && grantIds.includes(authorization.grantId) && (await backchannel(accountId, clientId, authorization.sid, 'consent_revoked'))) notified++;
      }
      for (const grantId of grantIds) await revokeGrant(grantId);
      await audit.record({ event: 'consent.revoked', result: 'success', accountId, clientId, actor: ctx.actor, ip: ctx.ip, detail: { grants: grantIds.length, notified } });
      return { revoked: grantIds.length, notified };
    },

    /** The latest events of the account's audit trail, with the relying parties' names. */
    async securityEvents(accountId: string, limit = 50): Promise<(AuditRecord & { clientName?: string })[]> {
      const events = await audit.list({ accountId, limit });
      const ids = [...new Set(events.map((e) => e.clientId).filter((id): id is string => Boolean(id)))];
      const names = new Map(await Promise.all(ids.map(async (id) => [id, await clientName(id)] as const)));
      return events.map((e) => (e.clientId ? { ...e, clientName: names.get(e.clientId) } : e));
    },

    /** Everything kept about the person, decrypted: it is their own (PIPL art. 45). */
    async exportData(accountId: string, ctx: ActionContext) {
      const view = await viewAccount(accountId);
      if (!view) throw notFound('No such account.');
      const { account } = view;
      const [sessionList, consentList, proofings, sources] = await Promise.all([
        sessions(accountId), consents(accountId), repo.proofings(accountId), repo.sources(accountId),
      ]);
      await audit.record({
        event: 'account.exported', result: 'success', accountId, actor: account.idNumberMasked, ip: ctx.ip,
        detail: { sessions: sessionList.length, consents: consentList.length, proofings: proofings.length, sources: sources.length },
      });
      // Read after recording, so the export contains its own record.
      const trail: AuditRow[] = await repo.auditTrail(accountId);
      return {
        format: 'gov-idp-account-export/1',
        exportedAt: runtime.clock().toISOString(),
        account: {
          id: account.id,
          kind: account.kind,
          name: account.name,
          idNumber: account.idNumber,
          phone: account.phone,
          phoneVerified: account.phoneVerified,
          status: account.status,
          closesAt: account.closesAt,
          roles: account.roles,
          createdAt: account.createdAt,
          identityVerifiedAt: account.identityVerifiedAt,
          identityVerifiedBy: view.identityVerifiedBy,
          password: { set: Boolean(account.passwordHash), changedAt: view.passwordChangedAt, mustReset: account.mustResetPassword },
          bestProofing: view.bestProofing,
        },
        proofings,
        sessions: sessionList.map(({ current: _current, ...session }) => session),
        consents: consentList,
        sources,
        auditTrail: trail.map((e) => ({
          id: e.id, occurredAt: e.occurred_at, event: e.event, result: e.result, actor: e.actor, clientId: e.client_id, ip: e.ip, detail: e.detail,
        })),
      };
    },

    /** A new password after a password reset (same rules as registration); every session of the account ends. */
    async resetPassword(accountId: string, password: string, ctx: ActionContext & { secondFactor?: string }) {
      const account = await loadAccount(accountId);
      const violations = passwordViolations(account, password);
      if (violations.length > 0) {
        await audit.record({ event: 'account.password_reset', result: 'failure', accountId, actor: account.idNumberMasked, ip: ctx.ip, detail: { reason: 'weak_password', violations } });
        throw weakPassword(violations);
      }
      const hash = await hashPassword(password);
      await runtime.db.transaction(async (tx) => {
        const row = await repo.accountDetails(accountId, tx, true);
        if (row?.status !== 'active' && row?.status !== 'closing') throw accountNotActive();
        await repo.setPassword(tx, accountId, hash);
        await audit.recordWithin(tx, {
          event: 'account.password_reset', result: 'success', accountId, actor: account.idNumberMasked, ip: ctx.ip,
          detail: { secondFactor: ctx.secondFactor ?? null, legacyHashCleared: Boolean(row.legacy_password_hash) },
        });
      });
      const ended = await runtime.endAllSessions(accountId, 'password_reset', account.idNumberMasked);
      if (account.phone) {
        const time = noticeTime(runtime.clock());
        await sendNotice(accountId, account.phone, 'notice_password_reset', `您的登录密码已于${time}重置，所有设备已退出登录。${NOTICE_SUFFIX}`, { time });
      }
      return ended;
    },

    /** The person's own change, after proving the old number (or, without it, face or bank card) and the new one. */
    async changePhone(accountId: string, newPhone: string, ctx: ActionContext & { method: PhoneChangeMethod; sid?: string }) {
      const account = await loadAccount(accountId);
      const { before, phone } = await changePhone(accountId, newPhone, {
        event: 'account.phone_changed', result: 'success', actor: account.idNumberMasked, ip: ctx.ip, detail: { method: ctx.method },
      }, ['active']);
      // Without the old number someone else may hold it, with sessions opened by SMS: only this browser stays.
      const ended = ctx.method === 'old_sms' ? 0 : await endOtherSessions(accountId, ctx.sid, { ip: ctx.ip, actor: account.idNumberMasked });
      await noticePhoneChange(accountId, before.phone, phone);
      return { before: before.masked, after: maskPhone(phone), endedSessions: ended };
    },

    /**
     * The in-person path for a lost number, recorded by staff at a service hall after checking the ID card
     * (for the admin API). Every session ends, since whoever holds the old number may have signed in with it.
     */
    async changePhoneByStaff(accountId: string, newPhone: string, staff: StaffActor, reason: string) {
      if (typeof reason !== 'string' || reason.trim().length < 2) throw invalidInput('A reason is required for every account action.', { field: 'reason' });
      const why = reason.trim().slice(0, 500);
      const { before, phone } = await changePhone(accountId, newPhone, {
        event: 'admin.account.phone_changed', result: 'success', actor: staff.name, ip: staff.ip, detail: { reason: why, path: 'in_person' },
      }, ['active', 'frozen', 'closing']);
      await runtime.endAllSessions(accountId, 'phone_changed_in_person', staff.name);
      await noticePhoneChange(accountId, before.phone, phone);
      return { before: before.masked, after: maskPhone(phone) };
    },

    /** Starts the cooling-off period; signs the account out everywhere, so that only a new login can cancel it. */
    async requestDeregistration(accountId: string, ctx: ActionContext): Promise<{ closesAt: Date }> {
      const account = await loadAccount(accountId);
      const closesAt = new Date(runtime.clock().getTime() + settings.coolingOffDays * 86400_000);
      await runtime.db.transaction(async (tx) => {
        if (!(await repo.markClosing(tx, accountId, closesAt))) throw accountNotActive();
        await audit.recordWithin(tx, {
          event: 'account.deregistration_requested', result: 'success', accountId, actor: account.idNumberMasked, ip: ctx.ip,
          detail: { closesAt: closesAt.toISOString(), coolingOffDays: settings.coolingOffDays },
        });
      });
      await runtime.endAllSessions(accountId, 'deregistration_requested', account.idNumberMasked);
      if (account.phone) {
        const time = noticeTime(runtime.clock());
        const closes = noticeTime(closesAt);
        await sendNotice(accountId, account.phone, 'notice_deregistration', `您已于${time}申请注销政务服务账号，账号将于${closes}注销；在此之前重新登录即可撤销申请。${NOTICE_SUFFIX}`, { time, closes });
      }
      return { closesAt };
    },

    /**
     * For the login hook: a successful login during the cooling-off period cancels the deregistration.
     * One UPDATE that matches nothing for every other account. True when it cancelled one.
     */
    async cancelDeregistrationOnLogin(accountId: string, now: Date = runtime.clock()): Promise<boolean> {
      const cancelled = await repo.cancelClosing(runtime.db, accountId, now);
      if (!cancelled) return false;
      await audit.record({ event: 'account.deregistration_cancelled', result: 'success', accountId, detail: { by: 'login', closesAt: cancelled.toISOString() } });
      return true;
    },

    /**
     * Closes every account whose cooling-off period is over (idempotent; safe on several nodes at once).
     * Personal data goes in one transaction with its audit record; the ID number may register again.
     */
    async runClosures(now: Date = runtime.clock(), options: { limit?: number } = {}): Promise<ClosureResult> {
      const result: ClosureResult = { closed: [], failed: [] };
      for (const accountId of await repo.dueClosures(now, options.limit ?? 500)) {
        try {
          const closed = await runtime.db.transaction(async (tx) => {
            const row = await repo.lockDue(tx, accountId, now);
            if (!row) return undefined;
            const removed = await repo.anonymise(tx, accountId, settings.retention);
            await audit.recordWithin(tx, {
              event: 'account.closed', result: 'success', accountId, actor: 'system:closure',
              detail: { idNumberMasked: row.id_number_masked, closesAt: row.closes_at?.toISOString() ?? null, retention: settings.retention, removed },
            });
            return { phone: row.phone_enc ? protector.decrypt(row.phone_enc, 'accounts.phone') : null };
          });
          if (!closed) continue;
          await runtime.endAllSessions(accountId, 'account_closed', 'system:closure');
          if (closed.phone) {
            const time = noticeTime(runtime.clock());
            await sendNotice(accountId, closed.phone, 'notice_account_closed', `您的政务服务账号已于${time}注销，个人信息已按规定删除。`, { time });
          }
          result.closed.push(accountId);
        } catch (error) {
          result.failed.push({ accountId, error: (error as Error).message });
        }
      }
      return result;
    },
  };
}

export type SelfService = ReturnType<typeof createSelfService>;

/** Runs runClosures every `closureIntervalSeconds` (unref'd); returns the function that stops it. */
export function scheduleClosures(service: SelfService, log: (message: string, detail?: unknown) => void = () => {}): () => void {
  let running = false;
  const timer = setInterval(() => {
    if (running) return;
    running = true;
    service.runClosures()
      .then((result) => {
        if (result.closed.length || result.failed.length) log('account closures', { closed: result.closed.length, failed: result.failed });
      }, (error: unknown) => log('account closures failed', error))
      .finally(() => { running = false; });
  }, service.settings.closureIntervalSeconds * 1000);
  timer.unref();
  return () => clearInterval(timer);
}
