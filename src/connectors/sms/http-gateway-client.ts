import { ConnectorError } from '../errors.ts';
import { assertConnectorUrl, postSigned } from '../signed-http.ts';
import type { SmsGateway } from './types.ts';

export const SMS_SEND_PATH = '/v1/sms/send';

/** Client of the SMS gateway's signed HTTP API (protocol in signed-http.ts). `name` doubles as the ConnectorError connector. */
export function createHttpSmsGateway(options: {
  url: string;
  appId: string;
  secret: string;
  timeoutMs: number;
  name?: string;
}): SmsGateway {
  assertConnectorUrl(options.url);
  const name = options.name ?? 'sms-gateway';
  return {
    name,
    async send(message) {
      const answer = await postSigned({
        url: options.url,
        path: SMS_SEND_PATH,
        appId: options.appId,
        secret: options.secret,
        body: { to: message.to, template: message.template, params: message.params, text: message.text },
        timeoutMs: options.timeoutMs,
        connector: name,
      });
      const messageId = (answer as { messageId?: unknown } | null)?.messageId;
      if (typeof messageId !== 'string' || messageId === '') throw new ConnectorError(name, 'bad_response', { status: 200 });
      return { messageId };
    },
  };
}
