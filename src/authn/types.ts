import type { MethodId } from '../assurance/levels.ts';

/** RFC 8176 authentication method reference values used by our authenticators. */
export type Amr = 'pwd' | 'sms' | 'otp' | 'mfa' | 'face' | 'bank' | 'hwk' | 'swk';

/** Authentication methods are the level table's method ids, so the level policy can count them. */
export type AuthMethod = MethodId;

export type AttemptContext = {
  ip: string;
  /** The login (interaction) in progress; OTPs and attempts are bound to it. */
  interactionId: string;
  clientId?: string;
};

export type Verified = { accountId: string; method: AuthMethod; amr: readonly Amr[] };

export type Authenticator<Input> = {
  method: AuthMethod;
  amr: readonly Amr[];
  isEnrolled(accountId: string): Promise<boolean>;
  verify(input: Input, ctx: AttemptContext): Promise<Verified>;
};
