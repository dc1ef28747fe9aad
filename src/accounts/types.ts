export type AccountStatus = 'active' | 'frozen' | 'closing' | 'closed' | 'deceased' | 'merged';

/** A natural person's account with personal data decrypted; lives only in memory, never logged. */
export type Account = {
  id: string;
  kind: 'citizen';
  idNumber: string;
  idNumberMasked: string;
  name: string;
  phone: string | null;
  phoneMasked: string | null;
  phoneVerified: boolean;
  passwordHash: string | null;
  status: AccountStatus;
  roles: readonly string[];
  identityVerifiedAt: Date | null;
  statusReason: string | null;
  closesAt: Date | null;
  mergedInto: string | null;
  mustResetPassword: boolean;
  /** A hash imported from a legacy system, verified and replaced by argon2id at the first login. */
  legacyPasswordHash: string | null;
  legacyPasswordAlgorithm: string | null;
  createdAt: Date;
};

export type AccountRow = {
  id: string;
  kind: 'citizen';
  id_number_hash: string | null;
  id_number_enc: string | null;
  id_number_masked: string;
  name_enc: string | null;
  phone_hash: string | null;
  phone_enc: string | null;
  phone_masked: string | null;
  phone_verified_at: Date | null;
  password_hash: string | null;
  identity_verified_at: Date | null;
  status: AccountStatus;
  roles: string[];
  status_reason: string | null;
  closes_at: Date | null;
  merged_into: string | null;
  must_reset_password: boolean;
  legacy_password_hash: string | null;
  legacy_password_algorithm: string | null;
  created_at: Date;
};

export type NewAccountRow = {
  idNumberHash: string;
  idNumberEnc: string;
  idNumberMasked: string;
  nameEnc: string;
  nameHash: string;
  phoneHash: string;
  phoneEnc: string;
  phoneMasked: string;
  passwordHash: string;
  identityVerifiedBy: string;
  roles?: readonly string[];
};
