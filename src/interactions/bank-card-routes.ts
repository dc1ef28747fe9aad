import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AccountService } from '../accounts/service.ts';
import type { BankCardVerification } from '../authn/bank-card/bank-card-verification.ts';
import { t } from './i18n.ts';
import type { Body, InteractionKit, Params } from './interaction-kit.ts';
import { bankCardCheckSchema, codeSchema, uidParams } from './schemas.ts';
import { isStepUp } from './step-up-routes.ts';
import { bankCardPage } from './views/bank-card.ts';
import { errorPage } from './views/pages.ts';

/** Bank-card step-up: card + reserved phone checked by the card network, then an SMS code to that phone. */
export async function registerBankCardRoutes(app: FastifyInstance, deps: { kit: InteractionKit; bankCard: BankCardVerification; accounts: AccountService }) {
  const { kit } = deps;

  async function stepUpAccount(request: FastifyRequest<{ Params: Params; Body: Body }>, reply: FastifyReply) {
    const loaded = await kit.loadForPost(request, reply);
    if (!loaded) return undefined;
    const account = isStepUp(loaded.details, false) ? await deps.accounts.findById(loaded.details.session!.accountId) : undefined;
    if (!account) {
      kit.sendPage(reply, 400, errorPage(loaded.ctx.locale, t(loaded.ctx.locale, 'error.session')));
      return undefined;
    }
    return { ...loaded, account };
  }

  await app.register(async (scope) => {
    scope.get<{ Params: Params }>('/:uid/bank', { schema: uidParams }, async (request, reply) => {
      const details = await kit.load(request, reply);
      if (!details) return reply;
      const ctx = await kit.pageContext(request, reply, details);
      if (!isStepUp(details, false)) return kit.sendPage(reply, 400, errorPage(ctx.locale, t(ctx.locale, 'error.session')));
      return kit.sendPage(reply, 200, bankCardPage(ctx));
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/bank/check', {
      schema: bankCardCheckSchema,
    }, async (request, reply) => {
      const loaded = await stepUpAccount(request, reply);
      if (!loaded) return reply;
      const { details, ctx, account } = loaded;
      try {
        const sent = await deps.bankCard.checkCard({
          uid: details.uid, account, cardNumber: request.body.card_number, phone: request.body.phone, ip: request.ip, clientId: String(details.params.client_id),
        });
        return kit.sendPage(reply, 200, bankCardPage(ctx, { step: 'code', sent }));
      } catch (error) {
        const { status, message } = kit.userFacing(error, ctx.locale);
        return kit.sendPage(reply, status, bankCardPage(ctx, { error: message, unavailable: (error as { code?: string }).code === 'bank_card_unavailable' }));
      }
    });

    scope.post<{ Params: Params; Body: Body }>('/:uid/bank/confirm', { schema: codeSchema }, async (request, reply) => {
      const loaded = await stepUpAccount(request, reply);
      if (!loaded) return reply;
      const { details, ctx, account } = loaded;
      try {
        const verified = await deps.bankCard.confirm({ uid: details.uid, account, code: request.body.code.trim(), ip: request.ip, clientId: String(details.params.client_id) });
        return await kit.finishLogin(request, reply, verified);
      } catch (error) {
        const { status, message } = kit.userFacing(error, ctx.locale);
        // A wrong code may be retried (the code itself is void after 5 tries); an expired one needs the card again.
        const code = (error as { code?: string }).code;
        return kit.sendPage(reply, status, bankCardPage(ctx, { step: code === 'invalid_code' ? 'code' : 'card', error: message }));
      }
    });
  }, { prefix: '/interaction' });
}
