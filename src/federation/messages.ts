import type { Locale } from '../interactions/i18n.ts';

/** Why an upstream login was refused; the audit records the same code. */
export type UpstreamFailure =
  | 'unknown_upstream'
  | 'no_transaction'
  | 'state_mismatch'
  | 'upstream_refused'
  | 'upstream_unavailable'
  | 'token_invalid'
  | 'acr_not_mapped'
  | 'subject_missing'
  | 'id_number_missing'
  | 'id_number_invalid'
  | 'id_number_changed'
  | 'name_missing'
  | 'no_local_account'
  | 'account_not_active';

const MESSAGES = {
  'upstreams.heading': { 'zh-CN': '使用其他平台的账号登录', en: 'Sign in with an account from another platform' },
  'upstreams.signInWith': { 'zh-CN': '使用{name}账号登录', en: 'Sign in with {name}' },
  'upstream.back': { 'zh-CN': '返回，选择其他登录方式', en: 'Go back and choose another way to sign in' },
  'failure.unknown_upstream': { 'zh-CN': '该登录方式不存在或已停用。', en: 'This way of signing in does not exist or is no longer offered.' },
  'failure.no_transaction': {
    'zh-CN': '这次登录已过期或不是从本浏览器发起的，请返回原网站重新开始。',
    en: 'This sign-in has expired or was not started in this browser. Please go back to the service and start again.',
  },
  'failure.state_mismatch': {
    'zh-CN': '登录回调与本浏览器发起的登录不符，已拒绝。请返回原网站重新开始。',
    en: 'The sign-in response does not match the sign-in this browser started, so it was refused. Please go back to the service and start again.',
  },
  'failure.upstream_refused': { 'zh-CN': '{name}未完成登录（已取消或被拒绝）。', en: 'The sign-in at {name} was cancelled or refused.' },
  'failure.upstream_unavailable': { 'zh-CN': '暂时无法连接{name}，请稍后再试或选择其他登录方式。', en: '{name} cannot be reached at the moment. Please try again later or choose another way to sign in.' },
  'failure.token_invalid': {
    'zh-CN': '{name}返回的登录凭证未通过校验（签发方、接收方、签名或有效期不符），已拒绝。',
    en: 'The sign-in token from {name} failed validation (issuer, audience, signature or validity), so it was refused.',
  },
  'failure.acr_not_mapped': { 'zh-CN': '{name}的登录等级不被本平台认可。', en: 'The level of the sign-in at {name} is not one this service recognises.' },
  'failure.subject_missing': { 'zh-CN': '{name}未返回用户标识，无法登录。', en: '{name} did not return a user identifier, so you cannot be signed in.' },
  'failure.id_number_missing': {
    'zh-CN': '{name}未提供您的公民身份号码，无法与本平台账号对应。请在{name}完成实名认证，或使用其他方式登录。',
    en: '{name} did not provide your citizen ID number, so your account here cannot be found. Complete real-name verification at {name}, or sign in another way.',
  },
  'failure.id_number_invalid': {
    'zh-CN': '{name}提供的公民身份号码无效，无法登录。请联系{name}更正。',
    en: 'The citizen ID number provided by {name} is not valid, so you cannot be signed in. Please ask {name} to correct it.',
  },
  'failure.id_number_changed': {
    'zh-CN': '{name}为该账号提供的公民身份号码与之前不同，为保护您的账号已拒绝登录。请联系客服。',
    en: 'The citizen ID number {name} gives for this account differs from before; to protect your account the sign-in was refused. Please contact the help desk.',
  },
  'failure.name_missing': { 'zh-CN': '{name}未提供您的姓名，无法为您创建账号。', en: '{name} did not provide your name, so an account cannot be created for you.' },
  'failure.no_local_account': {
    'zh-CN': '本平台还没有与您的公民身份号码对应的账号。请先注册，再使用{name}登录。',
    en: 'There is no account here for your citizen ID number yet. Please register first, then sign in with {name}.',
  },
  'failure.account_not_active': {
    'zh-CN': '您在本平台的账号已冻结或注销，无法登录。请联系客服。',
    en: 'Your account here is frozen or closed, so you cannot be signed in. Please contact the help desk.',
  },
} as const satisfies Record<string, Record<Locale, string>>;

export type FederationMessageKey = keyof typeof MESSAGES;

export function fm(locale: Locale, key: FederationMessageKey, vars: Record<string, string> = {}): string {
  return MESSAGES[key][locale].replace(/\{(\w+)\}/g, (_, name: string) => vars[name] ?? `{${name}}`);
}
