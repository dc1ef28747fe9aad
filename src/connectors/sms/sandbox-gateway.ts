import { randomUUID } from 'node:crypto';
import { invalidRequest, isPlainObject, startSignedSandbox } from '../sandbox-server.ts';
import type { SandboxReply } from '../sandbox-server.ts';
import { SMS_SEND_PATH } from './http-gateway-client.ts';
import type { SmsTemplate } from './types.ts';

export type SandboxSmsRecord = Readonly<{
  messageId: string;
  to: string;
  template: SmsTemplate;
  params: Readonly<Record<string, string>>;
  text: string;
  /** ISO 8601 */
  receivedAt: string;
}>;

export type SandboxSmsGateway = {
  url: string;
  /** Newest first. */
  outbox(): readonly SandboxSmsRecord[];
  latestTo(phone: string): SandboxSmsRecord | undefined;
  close(): Promise<void>;
};

const MAINLAND_MOBILE_E164 = /^\+861[3-9]\d{9}$/;
const TEMPLATES: readonly SmsTemplate[] = ['otp_login', 'otp_register', 'notice'];
const BODY_KEYS = new Set(['to', 'template', 'params', 'text']);
const PARAM_KEY = /^[A-Za-z][A-Za-z0-9_]{0,31}$/;
const MAX_PARAMS = 20;
const MAX_PARAM_LENGTH = 100;
const MAX_TEXT_LENGTH = 500;
const OTP_CODE = /^\d{4,8}$/;

type Validated = { ok: true; to: string; template: SmsTemplate; params: Record<string, string>; text: string } | { ok: false; reply: SandboxReply };

// Descriptions name the rule, never the submitted value.
function validate(body: unknown): Validated {
  const refuse = (description: string): Validated => ({ ok: false, reply: invalidRequest(description) });
  if (!isPlainObject(body)) return refuse('the body must be a JSON object');
  for (const key of Object.keys(body)) if (!BODY_KEYS.has(key)) return refuse(`unknown field "${key.slice(0, 32)}"`);

  const { to, template, params, text } = body;
  if (typeof to !== 'string' || !MAINLAND_MOBILE_E164.test(to)) {
    return refuse('to must be a mainland China mobile number in E.164 form (+861XXXXXXXXXX)');
  }
  if (typeof template !== 'string' || !TEMPLATES.includes(template as SmsTemplate)) {
    return refuse(`template must be one of ${TEMPLATES.join(', ')}`);
  }
  if (!isPlainObject(params)) return refuse('params must be an object of strings');
  const entries = Object.entries(params);
  if (entries.length > MAX_PARAMS) return refuse(`params may hold at most ${MAX_PARAMS} entries`);
  for (const [key, value] of entries) {
    if (!PARAM_KEY.test(key) || typeof value !== 'string' || value.length > MAX_PARAM_LENGTH) {
      return refuse(`params must map short identifiers to strings of at most ${MAX_PARAM_LENGTH} characters`);
    }
  }
  if (typeof text !== 'string' || text.trim() === '') return refuse('text must be a non-empty string');
  if (Array.from(text).length > MAX_TEXT_LENGTH) return refuse(`text must be at most ${MAX_TEXT_LENGTH} characters`);
  if (template !== 'notice') {
    const code = params.code;
    if (typeof code !== 'string' || !OTP_CODE.test(code)) return refuse('an otp template needs params.code of 4 to 8 digits');
    if (!text.includes(code)) return refuse('the text of an otp message must contain params.code');
  }
  return { ok: true, to, template: template as SmsTemplate, params: { ...(params as Record<string, string>) }, text };
}

/**
 * Development stand-in for the SMS gateway: same endpoint, same signature checks, same validation as the real
 * gateway would apply. Messages are kept in a bounded in-memory outbox and written to `log` (default stderr) so a
 * developer can read the code; it never sends anything.
 */
export async function startSandboxSmsGateway(options: {
  appId: string;
  secret: string;
  host?: string;
  port?: number;
  log?: (line: string) => void;
  outboxLimit?: number;
}): Promise<SandboxSmsGateway> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const outboxLimit = options.outboxLimit ?? 1000;
  if (!Number.isInteger(outboxLimit) || outboxLimit < 1) throw new Error('outboxLimit must be a positive integer');
  // Oldest first internally; the public view is reversed.
  const stored: SandboxSmsRecord[] = [];

  const server = await startSignedSandbox({
    appId: options.appId,
    secret: options.secret,
    host: options.host,
    port: options.port,
    routes: [
      {
        path: SMS_SEND_PATH,
        handle(body) {
          const message = validate(body);
          if (!message.ok) return message.reply;
          const record: SandboxSmsRecord = Object.freeze({
            messageId: `sandbox-${randomUUID()}`,
            to: message.to,
            template: message.template,
            params: Object.freeze(message.params),
            text: message.text,
            receivedAt: new Date().toISOString(),
          });
          stored.push(record);
          if (stored.length > outboxLimit) stored.splice(0, stored.length - outboxLimit);
          // JSON.stringify escapes newlines and control characters, so the text cannot forge log lines.
          log(`[sandbox-sms] to=${record.to} template=${record.template} text=${JSON.stringify(record.text)}`);
          return { status: 200, body: { messageId: record.messageId } };
        },
      },
    ],
  });

  return {
    url: server.url,
    outbox: () => stored.toReversed(),
    latestTo: (phone) => stored.findLast((record) => record.to === phone),
    close: server.close,
  };
}
