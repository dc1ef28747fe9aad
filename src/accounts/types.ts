export type AccountStatus = 'active' | 'frozen' | 'closed';

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
  createdAt: Date;
};

export type AccountRow = {
  id: string;
  kind: 'citizen';
  id_number_hash: string;
  id_number_enc: string;
  id_number_masked: string;
  name_enc: string;
  phone_hash: string | null;
  phone_enc: string | null;
  phone_masked: string | null;
  phone_verified_at: Date | null;
  password_hash: string | null;
  identity_verified_at: Date | null;
  status: AccountStatus;
  roles: string[];
  created_at: Date;
};

export type NewAccountRow = {
  idNumberHash: string;
  idNumberEnc: string;
  idNumberMasked: string;
  nameEnc: string;
  phoneHash: string;
  phoneEnc: string;
  phoneMasked: string;
  passwordHash: string;
  identityVerifiedBy: string;
  roles?: readonly string[];
};
