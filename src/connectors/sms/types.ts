export type SmsTemplate = 'otp_login' | 'otp_register' | 'notice';

export type SmsMessage = {
  /** E.164 mainland mobile number, `+861XXXXXXXXXX`. */
  to: string;
  template: SmsTemplate;
  params: Record<string, string>;
  /** The full text as delivered; the gateway checks it against the template. */
  text: string;
};

export type SmsGateway = {
  name: string;
  send(message: SmsMessage): Promise<{ messageId: string }>;
};
