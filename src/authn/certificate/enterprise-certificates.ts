import type { Queryable } from '../../db/database.ts';
import type { DataProtector } from '../../identity/data-protection.ts';
import { maskUscc } from '../../identity/uscc.ts';
import type { ParsedCertificate } from '../../pki/types.ts';

/** Records organisation certificates (by unified social credit code) for the enterprise-accounts work. */
export function createEnterpriseCertificates(deps: { db: Queryable; protector: DataProtector }) {
  const { protector } = deps;
  return {
    /** True when this certificate was seen for the first time. */
    async record(input: { certificate: ParsedCertificate; serviceId: string; uscc: string; holderAccountId?: string; at: Date }): Promise<boolean> {
      const { rows } = await deps.db.query<{ inserted: boolean }>(
        `INSERT INTO enterprise_certificates (certificate_fingerprint, trust_service_id, uscc_hash, uscc_enc, uscc_masked, subject_enc,
           holder_account_id, not_after, first_seen_at, last_seen_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)
         ON CONFLICT (certificate_fingerprint) DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at,
           holder_account_id = COALESCE(EXCLUDED.holder_account_id, enterprise_certificates.holder_account_id)
         RETURNING (xmax = 0) AS inserted`,
        [input.certificate.fingerprint, input.serviceId, protector.lookupHash('uscc', input.uscc),
          protector.encrypt(input.uscc, 'enterprise_certificates.uscc'), maskUscc(input.uscc),
          protector.encrypt(input.certificate.subject, 'enterprise_certificates.subject'),
          input.holderAccountId ?? null, input.certificate.notAfter, input.at]);
      return rows[0].inserted;
    },
    async findByUscc(uscc: string): Promise<{ fingerprint: string; serviceId: string; usccMasked: string; holderAccountId: string | null }[]> {
      const { rows } = await deps.db.query<{ certificate_fingerprint: string; trust_service_id: string; uscc_masked: string; holder_account_id: string | null }>(
        'SELECT certificate_fingerprint, trust_service_id, uscc_masked, holder_account_id FROM enterprise_certificates WHERE uscc_hash = $1 ORDER BY first_seen_at',
        [protector.lookupHash('uscc', uscc)]);
      return rows.map((r) => ({ fingerprint: r.certificate_fingerprint, serviceId: r.trust_service_id, usccMasked: r.uscc_masked, holderAccountId: r.holder_account_id }));
    },
  };
}

export type EnterpriseCertificates = ReturnType<typeof createEnterpriseCertificates>;
