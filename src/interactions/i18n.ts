import { CERTIFICATE_ERROR_MESSAGES } from '../authn/certificate/errors.ts';
export type Locale = 'zh-CN' | 'en';
export const LOCALES: readonly Locale[] = ['zh-CN', 'en'];
export const DEFAULT_LOCALE: Locale = 'zh-CN';

/** First supported entry of ui_locales (OIDC Core §3.1.2.1), then an explicit choice, then the default. */
export function pickLocale(...candidates: (string | undefined)[]): Locale {
  for (const candidate of candidates) {
    for (const tag of (candidate ?? '').split(/[\s,]+/)) {
      const lower = tag.toLowerCase();
      if (lower.startsWith('zh')) return 'zh-CN';
      if (lower.startsWith('en')) return 'en';
    }
  }
  return DEFAULT_LOCALE;
}

const MESSAGES = {
  'app.title': { 'zh-CN': '政务服务统一身份认证', en: 'Government Services Unified Sign-in' },
  'lang.switch': { 'zh-CN': 'English', en: '中文' },
  'login.title': { 'zh-CN': '登录', en: 'Sign in' },
  'login.for': { 'zh-CN': '登录以继续使用「{client}」', en: 'Sign in to continue to “{client}”' },
  'login.tab.password': { 'zh-CN': '密码登录', en: 'Password' },
  'login.tab.sms': { 'zh-CN': '短信验证码登录', en: 'SMS code' },
  'login.tab.certificate': { 'zh-CN': '数字证书登录', en: 'Digital certificate' },
  'cert.title': { 'zh-CN': '数字证书登录', en: 'Sign in with a digital certificate' },
  'cert.intro': {
    'zh-CN': '插入 USB Key（或选择软证书），由证书助手对下方登录请求签名。支持各认可 CA 签发的 SM2 国密证书以及 RSA、ECDSA 证书。',
    en: 'Insert your USB key (or choose your software certificate) and let the certificate assistant sign the request below. SM2, RSA and ECDSA certificates of every recognised CA are accepted.',
  },
  'cert.sign': { 'zh-CN': '使用证书签名并登录', en: 'Sign with my certificate' },
  'cert.no_signer': {
    'zh-CN': '未检测到证书助手。请安装所在 CA 提供的证书助手（浏览器扩展或本地客户端）后刷新页面，或使用下方的手工方式。',
    en: 'No certificate assistant was found. Install the assistant your CA provides (browser extension or desktop client) and reload, or use the manual form below.',
  },
  'cert.manual': { 'zh-CN': '手工提交签名（自助终端与客户端集成使用）', en: 'Submit a signature manually (for kiosks and client integrations)' },
  'cert.challenge': { 'zh-CN': '登录请求（待签名原文）', en: 'Sign-in request (the text to sign)' },
  'cert.signature': { 'zh-CN': '签名值（Base64）', en: 'Signature (Base64)' },
  'cert.chain': { 'zh-CN': '证书链（签名证书在前，Base64 DER 或 PEM）', en: 'Certificate chain (signing certificate first, Base64 DER or PEM)' },
  'cert.submit': { 'zh-CN': '提交', en: 'Submit' },
  'cert.tls': { 'zh-CN': '使用浏览器中已安装的证书登录', en: 'Use a certificate installed in this browser' },
  'cert.stepup': { 'zh-CN': '使用数字证书', en: 'Use a digital certificate' },
  'cert.unmet': { 'zh-CN': '持有认可 CA 签发的数字证书？使用数字证书', en: 'Hold a certificate from a recognised CA? Use it' },
  'cert.failed': { 'zh-CN': '证书助手未完成签名（可能已取消或 PIN 错误），请重试。', en: 'The certificate assistant did not sign (cancelled or wrong PIN). Please try again.' },
  'login.identifier': { 'zh-CN': '身份证号码或手机号码', en: 'ID number or mobile number' },
  'login.identifier.hint': { 'zh-CN': '18 位公民身份号码，或 11 位手机号码', en: 'Your 18-character citizen ID number, or your 11-digit mobile number' },
  'login.password': { 'zh-CN': '密码', en: 'Password' },
  'login.submit': { 'zh-CN': '登录', en: 'Sign in' },
  'login.register': { 'zh-CN': '没有账号？注册', en: 'No account yet? Register' },
  'login.forgot': { 'zh-CN': '忘记密码？', en: 'Forgot your password?' },
  'login.cancel': { 'zh-CN': '取消并返回', en: 'Cancel and go back' },
  'sms.phone': { 'zh-CN': '手机号码', en: 'Mobile number' },
  'sms.phone.hint': { 'zh-CN': '仅支持中国大陆手机号码', en: 'Mainland China mobile numbers only' },
  'sms.send': { 'zh-CN': '获取验证码', en: 'Send code' },
  'sms.code': { 'zh-CN': '短信验证码', en: 'SMS code' },
  'sms.code.hint': { 'zh-CN': '6 位数字，5 分钟内有效', en: '6 digits, valid for 5 minutes' },
  'sms.sent': { 'zh-CN': '如果该号码已注册，验证码已发送至 {phone}。', en: 'If this number is registered, a code was sent to {phone}.' },
  'sms.sent.register': { 'zh-CN': '验证码已发送至 {phone}。', en: 'A code was sent to {phone}.' },
  'sms.resend': { 'zh-CN': '重新获取验证码', en: 'Send a new code' },
  'register.title': { 'zh-CN': '注册账号', en: 'Register' },
  'register.intro': { 'zh-CN': '请填写与身份证一致的姓名和身份证号码，我们将与人口信息库核对。', en: 'Enter your name and ID number exactly as on your ID card; they are checked with the population register.' },
  'register.name': { 'zh-CN': '姓名', en: 'Full name' },
  'register.idNumber': { 'zh-CN': '身份证号码', en: 'Citizen ID number' },
  'register.password': { 'zh-CN': '设置密码', en: 'Choose a password' },
  'register.password.hint': { 'zh-CN': '至少 8 个字符；不能包含身份证号码或手机号码，不能是常见密码', en: 'At least 8 characters; not containing your ID or mobile number; not a common password' },
  'register.passwordConfirm': { 'zh-CN': '再次输入密码', en: 'Repeat the password' },
  'register.next': { 'zh-CN': '下一步：验证手机', en: 'Next: verify mobile number' },
  'register.submit': { 'zh-CN': '完成注册并登录', en: 'Register and sign in' },
  'register.back': { 'zh-CN': '已有账号？登录', en: 'Already registered? Sign in' },
  'register.passwordMismatch': { 'zh-CN': '两次输入的密码不一致。', en: 'The two passwords do not match.' },
  'consent.title': { 'zh-CN': '授权确认', en: 'Authorise access' },
  'consent.intro': { 'zh-CN': '「{client}」请求获取您的以下信息：', en: '“{client}” asks for the following information:' },
  'consent.allow': { 'zh-CN': '同意', en: 'Allow' },
  'consent.deny': { 'zh-CN': '拒绝', en: 'Deny' },
  'scope.openid': { 'zh-CN': '您的账号标识', en: 'Your account identifier' },
  'scope.profile': { 'zh-CN': '姓名', en: 'Your name' },
  'scope.phone': { 'zh-CN': '手机号码', en: 'Your mobile number' },
  'scope.id_number': { 'zh-CN': '身份证号码', en: 'Your citizen ID number' },
  'scope.offline_access': { 'zh-CN': '在您离线时保持访问', en: 'Access while you are not signed in' },
  'stepup.title': { 'zh-CN': '需要进一步验证', en: 'Additional verification required' },
  'stepup.reason': { 'zh-CN': '「{client}」要求{level}，以保护您的信息。', en: '“{client}” requires {level} to protect your information.' },
  'stepup.done': { 'zh-CN': '您已完成：{methods}。', en: 'Already done: {methods}.' },
  'stepup.todo': { 'zh-CN': '还需完成：{methods}。', en: 'Still needed: {methods}.' },
  'stepup.password': { 'zh-CN': '请输入您的密码', en: 'Enter your password' },
  'stepup.sms.intro': { 'zh-CN': '验证码将发送至您绑定的手机 {phone}。', en: 'A code will be sent to your registered mobile {phone}.' },
  'stepup.confirm': { 'zh-CN': '确认', en: 'Confirm' },
  'stepup.switch': { 'zh-CN': '不是您本人？使用其他账号登录', en: 'Not you? Sign in with another account' },
  'unmet.title': { 'zh-CN': '无法达到所需的认证级别', en: 'This service needs a level your account cannot reach here' },
  'unmet.intro': { 'zh-CN': '「{client}」要求{level}。', en: '“{client}” requires {level}.' },
  'unmet.proofing': {
    'zh-CN': '您的账号需要更高等级的身份核验。请携带身份证到任一政务服务大厅现场核验，或使用认可 CA 签发的数字证书，之后即可办理该业务。',
    en: 'Your identity needs a stronger check. Bring your ID card to any government service hall for an in-person check, or use a certificate from a recognised CA; you can then use this service.',
  },
  'unmet.methods': {
    'zh-CN': '您的账号缺少该级别所需的验证方式（例如已验证的手机号码）。请到政务服务大厅办理，或在账号设置中补充。',
    en: 'Your account lacks a method this level needs (for example a verified mobile number). Please visit a service hall, or add it in your account settings.',
  },
  'unmet.back': { 'zh-CN': '返回「{client}」', en: 'Back to “{client}”' },
  'face.start': { 'zh-CN': '开始人脸识别', en: 'Start face verification' },
  'face.consent.title': { 'zh-CN': '人脸识别授权', en: 'Consent to face verification' },
  'face.consent.purpose': {
    'zh-CN': '为确认是您本人办理「{client}」的业务，我们将请人脸识别服务把您的实时影像与公安部门的权威证件照比对。',
    en: 'To confirm that it is really you using “{client}”, a face-verification service will compare a live capture of you with your authoritative ID portrait.',
  },
  'face.consent.data': {
    'zh-CN': '人脸信息属于敏感个人信息。本平台不接收、不保存您的人脸图像，只保存比对结果、相似度、服务商流水号和时间，作为核验凭证，随账号保存，账号注销后按留存规定删除。',
    en: 'Face data is sensitive personal information. This platform neither receives nor keeps images of your face; it keeps only the result, the similarity score, the vendor’s transaction number and the time, as evidence, for as long as the account exists and then as the retention rules require.',
  },
  'face.consent.alternative': {
    'zh-CN': '您可以不同意：也可以携带身份证到政务服务大厅现场核验，或使用认可 CA 签发的数字证书。',
    en: 'You may decline: you can instead have your identity checked in person at a service hall, or use a certificate from a recognised CA.',
  },
  'face.consent.agree': { 'zh-CN': '同意并开始人脸识别', en: 'I agree, start face verification' },
  'face.consent.decline': { 'zh-CN': '不同意', en: 'I do not agree' },
  'face.pending': { 'zh-CN': '人脸识别结果尚未返回，请稍候再查看。', en: 'The face verification result has not arrived yet. Please check again in a moment.' },
  'face.check': { 'zh-CN': '查看结果', en: 'Check the result' },
  'bank.title': { 'zh-CN': '银行卡核验', en: 'Bank-card verification' },
  'bank.intro': {
    'zh-CN': '请填写本人名下的银行卡号和该卡在银行预留的手机号码。我们只保存卡号前六位、后四位和不可逆摘要，不保存完整卡号。',
    en: 'Enter a bank card in your name and the mobile number the bank holds for it. Only the first six and last four digits and an irreversible digest are kept, never the full number.',
  },
  'bank.card': { 'zh-CN': '银行卡号', en: 'Card number' },
  'bank.phone': { 'zh-CN': '银行预留手机号码', en: 'Mobile number registered with the bank' },
  'bank.check': { 'zh-CN': '核验并发送验证码', en: 'Verify and send a code' },
  'bank.sent': { 'zh-CN': '卡片 {card} 核验通过，验证码已发送至银行预留手机 {phone}。', en: 'Card {card} verified; a code was sent to {phone}, the number the bank holds.' },
  'bank.start': { 'zh-CN': '使用银行卡核验', en: 'Verify with a bank card' },
  'list.separator': { 'zh-CN': '、', en: ', ' },
  'list.or': { 'zh-CN': ' 或 ', en: ' or ' },
  'error.title': { 'zh-CN': '出错了', en: 'Something went wrong' },
  'error.back': { 'zh-CN': '请返回原网站重新开始。', en: 'Please go back to the service and start again.' },
  'error.session': { 'zh-CN': '登录会话已过期或无效，请返回原网站重新开始。', en: 'This sign-in has expired or is not valid. Please go back to the service and start again.' },
  'error.csrf': { 'zh-CN': '页面已失效，请刷新后重试。', en: 'This page has expired. Please reload it and try again.' },
  'logout.title': { 'zh-CN': '退出登录', en: 'Sign out' },
  'logout.question': { 'zh-CN': '是否退出统一身份认证？退出后所有政务服务都需要重新登录。', en: 'Sign out of the unified sign-in? Every government service will ask you to sign in again.' },
  'logout.yes': { 'zh-CN': '退出登录', en: 'Yes, sign me out' },
  'logout.no': { 'zh-CN': '保持登录', en: 'No, stay signed in' },
  'logout.done': { 'zh-CN': '您已安全退出。', en: 'You have been signed out.' },
} as const satisfies Record<string, Record<Locale, string>>;

export type MessageKey = keyof typeof MESSAGES;

export function t(locale: Locale, key: MessageKey, vars: Record<string, string> = {}): string {
  return MESSAGES[key][locale].replace(/\{(\w+)\}/g, (_, name: string) => vars[name] ?? '');
}

/** Messages for typed errors, by error code; a code without an entry falls back to the English message. */
export const ERROR_MESSAGES: Record<string, Record<Locale, string>> = {
  ...CERTIFICATE_ERROR_MESSAGES,
  invalid_credentials: { 'zh-CN': '账号或密码错误。', en: 'The account or password is incorrect.' },
  temporarily_locked: { 'zh-CN': '失败次数过多，该账号暂时无法登录，请稍后再试。', en: 'Too many failed attempts. Sign-in with this identifier is paused for a while.' },
  rate_limited: { 'zh-CN': '操作过于频繁，请稍后再试。', en: 'Too many attempts. Please wait before trying again.' },
  invalid_code: { 'zh-CN': '验证码错误。', en: 'The verification code is incorrect.' },
  expired_code: { 'zh-CN': '验证码已过期或已使用，请重新获取。', en: 'The verification code has expired or was already used. Request a new one.' },
  code_voided: { 'zh-CN': '验证码错误次数过多，已失效，请重新获取。', en: 'Too many wrong codes: this code is void. Request a new one.' },
  account_unavailable: { 'zh-CN': '该账号当前无法登录，请联系政务服务大厅。', en: 'This account cannot sign in at the moment. Please contact the service hall.' },
  invalid_phone: { 'zh-CN': '仅支持中国大陆手机号码（+86 1xxxxxxxxxx）。', en: 'Only mainland China mobile numbers (+86 1xxxxxxxxxx) are accepted.' },
  invalid_name: { 'zh-CN': '姓名应为 2 至 50 个字符，与身份证一致。', en: 'The name must be 2 to 50 characters, as on the ID card.' },
  identity_not_confirmed: { 'zh-CN': '姓名与身份证号码核验未通过。', en: 'The name and ID number could not be confirmed together.' },
  already_registered: { 'zh-CN': '该身份证号码或手机号码已注册，请直接登录。', en: 'An account already exists for this ID number or mobile number. Please sign in instead.' },
  sms_unavailable: { 'zh-CN': '短信服务暂不可用，请稍后再试。', en: 'The SMS service is unavailable. Please try again later.' },
  face_unavailable: { 'zh-CN': '人脸识别服务暂不可用，请稍后再试或使用其他方式。', en: 'The face-verification service is unavailable. Please try again later or use another method.' },
  face_not_matched: { 'zh-CN': '人脸识别未通过。', en: 'Face verification did not succeed.' },
  face_disabled: { 'zh-CN': '多次人脸识别未通过，已暂停该方式。请先用密码或短信验证码重新登录。', en: 'Face verification is paused for this account after repeated failures. Sign in again with your password or SMS code first.' },
  face_attempt_unknown: { 'zh-CN': '该人脸识别与本次登录不匹配，请重新开始。', en: 'This face verification does not belong to this sign-in. Please start again.' },
  face_budget_exhausted: { 'zh-CN': '今日人脸识别服务已达上限，请使用其他方式。', en: 'Face verification is not available any more today. Please use another method.' },
  invalid_card: { 'zh-CN': '银行卡号无效，请检查后重新输入。', en: 'The card number is not valid. Please check it.' },
  bank_card_not_verified: { 'zh-CN': '银行卡核验未通过。', en: 'The bank card could not be verified with your details.' },
  bank_card_unavailable: { 'zh-CN': '银行卡核验服务暂不可用，请稍后再试或使用其他方式。', en: 'The bank-card verification service is unavailable. Please try again later or use another method.' },
  register_expired: { 'zh-CN': '注册信息已过期，请重新填写。', en: 'Your registration details expired. Please start again.' },
  service_unavailable: { 'zh-CN': '核验服务暂不可用，请稍后再试。', en: 'The verification service is unavailable. Please try again later.' },
};
