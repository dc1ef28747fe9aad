import { AppError } from '../../http/errors.ts';

/** Why a certificate login was refused; the code is what the audit record and the relying party see. */
export type CertificateRefusal =
  | 'malformed_certificate' | 'chain_too_long' | 'empty_chain' | 'certificate_too_large'
  | 'untrusted_ca' | 'ca_suspended' | 'ca_withdrawn'
  | 'certificate_expired' | 'certificate_not_yet_valid' | 'invalid_chain' | 'unsupported_algorithm'
  | 'policy_not_recognised' | 'not_a_signing_certificate'
  | 'certificate_revoked' | 'revocation_unknown'
  | 'challenge_unknown' | 'challenge_mismatch' | 'bad_signature'
  | 'identity_missing' | 'identity_invalid'
  | 'certificate_other_person' | 'no_local_account' | 'enterprise_login_unavailable' | 'account_unavailable'
  | 'proxy_not_allowed';

const STATUS: Partial<Record<CertificateRefusal, number>> = {
  malformed_certificate: 400, chain_too_long: 400, empty_chain: 400, certificate_too_large: 400,
  challenge_unknown: 400, challenge_mismatch: 400,
  proxy_not_allowed: 403, account_unavailable: 403, enterprise_login_unavailable: 403,
};

export class CertificateLoginError extends AppError {
  readonly refusal: CertificateRefusal;
  constructor(refusal: CertificateRefusal, message: string, detail: Record<string, unknown> = {}) {
    super(refusal, message, { status: STATUS[refusal] ?? 401, detail });
    this.refusal = refusal;
  }
}

export const CERTIFICATE_ERROR_MESSAGES: Record<CertificateRefusal, { 'zh-CN': string; en: string }> = {
  malformed_certificate: { 'zh-CN': '证书格式无法识别。', en: 'The certificate could not be read.' },
  chain_too_long: { 'zh-CN': '证书链过长。', en: 'The certificate chain is too long.' },
  empty_chain: { 'zh-CN': '未收到证书。', en: 'No certificate was received.' },
  certificate_too_large: { 'zh-CN': '证书过大。', en: 'The certificate is too large.' },
  untrusted_ca: { 'zh-CN': '该证书不是由本平台认可的 CA 签发的。', en: 'This certificate was not issued by a CA this platform recognises.' },
  ca_suspended: { 'zh-CN': '签发该证书的 CA 已被暂停认可。', en: 'The CA that issued this certificate is suspended.' },
  ca_withdrawn: { 'zh-CN': '签发该证书的 CA 已被撤销认可。', en: 'The CA that issued this certificate is no longer recognised.' },
  certificate_expired: { 'zh-CN': '证书已过期。', en: 'The certificate has expired.' },
  certificate_not_yet_valid: { 'zh-CN': '证书尚未生效。', en: 'The certificate is not valid yet.' },
  invalid_chain: { 'zh-CN': '证书链校验未通过。', en: 'The certificate chain is not valid.' },
  unsupported_algorithm: { 'zh-CN': '证书使用了不被接受的算法。', en: 'The certificate uses an algorithm that is not accepted.' },
  policy_not_recognised: { 'zh-CN': '该证书的证书策略未被本平台认可。', en: 'The certificate policy of this certificate is not recognised.' },
  not_a_signing_certificate: { 'zh-CN': '请使用签名证书（而非加密证书）登录。', en: 'Use your signing certificate (not the encryption certificate) to sign in.' },
  certificate_revoked: { 'zh-CN': '证书已被吊销。', en: 'The certificate has been revoked.' },
  revocation_unknown: { 'zh-CN': '暂时无法确认证书状态，请稍后再试。', en: 'The certificate status could not be confirmed. Please try again later.' },
  challenge_unknown: { 'zh-CN': '签名请求已过期或已使用，请重新签名。', en: 'The signing request expired or was already used. Please sign again.' },
  challenge_mismatch: { 'zh-CN': '签名请求与本次登录不匹配。', en: 'The signing request does not belong to this sign-in.' },
  bad_signature: { 'zh-CN': '签名验证未通过。', en: 'The signature could not be verified.' },
  identity_missing: { 'zh-CN': '证书中没有可识别的身份证件号码。', en: 'The certificate carries no identity number this platform can read.' },
  identity_invalid: { 'zh-CN': '证书中的身份证件号码无效。', en: 'The identity number in the certificate is not valid.' },
  certificate_other_person: { 'zh-CN': '该证书属于其他人，与当前登录账号不一致。', en: 'This certificate belongs to someone other than the signed-in person.' },
  no_local_account: { 'zh-CN': '没有与该证书对应的账号。', en: 'No account matches this certificate.' },
  enterprise_login_unavailable: { 'zh-CN': '法人证书已记录，法人账号登录即将开放；请使用个人证书登录。', en: 'The organisation certificate was recorded; organisation accounts are not open yet. Please use a personal certificate.' },
  account_unavailable: { 'zh-CN': '该账号当前无法登录，请联系政务服务大厅。', en: 'This account cannot sign in at the moment. Please contact the service hall.' },
  proxy_not_allowed: { 'zh-CN': '请求不是来自受信任的代理。', en: 'The request did not come from a trusted proxy.' },
};
