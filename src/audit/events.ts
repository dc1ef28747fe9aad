export const AUDIT_EVENTS = [
  'account.registered',
  'account.registration_refused',
  'login.password',
  'login.sms',
  'login.locked',
  'sms.sent',
  'sms.refused',
  'otp.verify',
  'consent.granted',
  'consent.denied',
  'token.issued',
  'token.revoked',
  'token.refresh_reuse',
  'logout',
  'logout.backchannel',
  'admin.client.created',
  'admin.client.updated',
  'admin.client.deleted',
  'admin.policy.updated',
  'admin.policy.deleted',
  'login.step_up',
  'login.unmet',
  'face.started',
  'face.verify',
  'face.callback',
  'bank_card.verify',
  'admin.denied',
  'keys.rotated',
  'account.password_reset',
  'account.phone_changed',
  'account.deregistration_requested',
  'account.deregistration_cancelled',
  'account.closed',
  'account.exported',
  'account.session_ended',
  'account.imported',
  'account.linked_upstream',
  'account.linked_certificate',
  'consent.revoked',
  'login.legacy_upgraded',
  'login.upstream',
  'admin.account.searched',
  'admin.account.viewed',
  'admin.account.frozen',
  'admin.account.unfrozen',
  'admin.account.force_logout',
  'admin.account.deceased',
  'admin.account.proofing_reset',
  'admin.account.merged',
  'admin.account.phone_changed',
  'admin.account.roles_changed',
  'registry.event_applied',
] as const;

export type AuditEventName = (typeof AUDIT_EVENTS)[number];

/** `actor` is always a masked form (1101**********002X, 138****8000, a client id), never raw personal data. */
export type AuditEvent = {
  event: AuditEventName;
  result: 'success' | 'failure';
  actor?: string;
  accountId?: string;
  clientId?: string;
  ip?: string;
  detail?: Record<string, unknown>;
};
