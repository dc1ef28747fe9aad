import { readFileSync } from 'node:fs';
import Fastify, { type FastifyInstance } from 'fastify';
import cookie from '@fastify/cookie';
import formbody from '@fastify/formbody';
import { registerAdminRoutes } from './admin/routes.ts';
import type { Verified } from './authn/types.ts';
import { upstreamChoices } from './federation/pages.ts';
import { registerFederationRoutes } from './federation/routes.ts';
import { registerConsoleRoutes } from './console/routes.ts';
import { registerSelfServiceRoutes } from './self-service/routes.ts';
import { createSelfService } from './self-service/service.ts';
import type { Runtime } from './bootstrap/runtime.ts';
import { registerDemoRoutes } from './demo/routes.ts';
import { loggerOptions } from './http/logging.ts';
import { sendProblem } from './http/problem.ts';
import { createInteractionKit } from './interactions/interaction-kit.ts';
import { registerInteractionRoutes } from './interactions/routes.ts';
import { createStepUp } from './interactions/step-up-routes.ts';
import { registerFaceRoutes } from './interactions/face-routes.ts';
import { registerBankCardRoutes } from './interactions/bank-card-routes.ts';
import { mountProvider } from './oidc/mount.ts';
import { registerCertificateRoutes } from './interactions/certificate-routes.ts';
import { registerTrustRoutes } from './trust/trust-registry.ts';

const APP_CSS = readFileSync(new URL('./interactions/assets/app.css', import.meta.url));

export type AppOptions = { logger?: boolean | object };

/** Builds the HTTP application from a runtime without listening, so tests drive it with `inject`. */
export async function buildApp(runtime: Runtime, options: AppOptions = {}): Promise<FastifyInstance> {
  const { config } = runtime;
  const app = Fastify({
    logger: options.logger ?? loggerOptions(config.logLevel),
    trustProxy: config.trustProxy,
    bodyLimit: 64 * 1024,
    // Interaction ids and client ids are case-sensitive; keep routing exact.
    routerOptions: { caseSensitive: true, ignoreTrailingSlash: false },
    // Unknown fields are refused, not silently dropped: a typo in an admin request must not pass unnoticed.
    ajv: { customOptions: { removeAdditional: false, allErrors: false } },
  });

  app.setErrorHandler((error, request, reply) => sendProblem(request, reply, error));
  app.setNotFoundHandler((request, reply) => sendProblem(request, reply, Object.assign(new Error('Not found'), { statusCode: 404, code: 'not_found' })));

  await app.register(cookie, { secret: [...config.cookieSecrets] });
  await app.register(formbody, { bodyLimit: 16 * 1024 });

  app.get('/healthz', async (_request, reply) => {
    const checks: Record<string, string> = {};
    await Promise.all([
      runtime.db.query('SELECT 1').then(() => { checks.postgres = 'ok'; }, () => { checks.postgres = 'unavailable'; }),
      runtime.hot.ping().then(() => { checks[runtime.hot.kind === 'redis' ? 'redis' : 'hot_state'] = 'ok'; },
        () => { checks[runtime.hot.kind === 'redis' ? 'redis' : 'hot_state'] = 'unavailable'; }),
    ]);
    const healthy = Object.values(checks).every((v) => v === 'ok');
    return reply.status(healthy ? 200 : 503).header('cache-control', 'no-store').send({ status: healthy ? 'ok' : 'unavailable', checks });
  });

  app.get('/assets/app.css', async (_request, reply) =>
    reply.type('text/css; charset=utf-8').header('cache-control', 'public, max-age=3600').send(APP_CSS));

  // Browsers ask for it on every page; answer without content rather than a problem document.
  app.get('/favicon.ico', async (_request, reply) => reply.status(204).header('cache-control', 'public, max-age=86400').send());

  const { face, certificates } = runtime;
  const selfService = createSelfService(runtime, config.selfService);
  const kit = createInteractionKit({
    provider: runtime.provider, csrf: runtime.csrf, clock: runtime.clock,
    upstreamChoices: runtime.upstreams.length > 0 ? (locale, uid) => upstreamChoices(runtime.upstreams, locale, uid) : undefined,
    certificateLogin: Boolean(certificates),
    onVerified: async (verified) => {
      if (face && verified.method !== 'face') await face.clearFailures(verified.accountId);
      // Signing in during the cooling-off period cancels a deregistration.
      await selfService.cancelDeregistrationOnLogin(verified.accountId);
    },
  });
  const stepUp = createStepUp({
    provider: runtime.provider, kit, catalog: runtime.catalog, assurance: runtime.assurance, accounts: runtime.accounts,
    password: runtime.password, sms: runtime.sms, audit: runtime.audit,
    extraMethods: async (account) => [
      ...(face && (await face.isAvailable(account.id)) ? ['face' as const] : []),
      ...(runtime.bankCard ? ['bank' as const] : []),
      // The plan counts on a certificate only for people who used one before; the pages offer it to everyone.
      ...(certificates && (await certificates.login.hasCertificate(account.id)) ? ['hwk' as const, 'swk' as const] : []),
    ],
    certificateLogin: Boolean(certificates),
  });
  await stepUp.register(app);
  if (face) await registerFaceRoutes(app, { kit, stepUp, face, accounts: runtime.accounts, catalog: runtime.catalog });
  if (runtime.bankCard) await registerBankCardRoutes(app, { kit, bankCard: runtime.bankCard, accounts: runtime.accounts });
  if (certificates) {
    await registerCertificateRoutes(app, {
      kit, login: certificates.login, presented: certificates.presented, tlsUrl: config.certificates.tls?.publicUrl, proxy: Boolean(config.certificates.proxy),
    });
  }
  await registerTrustRoutes(app, runtime.trust);
  await registerInteractionRoutes(app, {
    provider: runtime.provider,
    issuer: config.issuer,
    accounts: runtime.accounts,
    password: runtime.password,
    sms: runtime.sms,
    otp: runtime.otp,
    audit: runtime.audit,
    hot: runtime.hot,
    protector: runtime.protector,
    kit,
    stepUp,
    pendingRegistrationSeconds: config.otp.ttlSeconds * 2,
  });

  if (runtime.upstreams.length > 0) {
    await registerFederationRoutes(app, {
      issuer: config.issuer, upstreams: runtime.upstreams, provider: runtime.provider, kit, hot: runtime.hot, db: runtime.db,
      protector: runtime.protector, proofing: runtime.proofing, catalog: runtime.catalog, audit: runtime.audit, clock: runtime.clock,
      finishLogin: (request, reply, login) => kit.finishLogin(request, reply,
        { accountId: login.accountId, method: login.methods[0], amr: login.amr as Verified['amr'] }, { methods: login.methods, at: login.authTime }),
    });
  }

  await registerAdminRoutes(app, {
    provider: runtime.provider, clients: runtime.clients, audit: runtime.audit, accounts: runtime.accounts, catalog: runtime.catalog,
    policies: runtime.policies, consoleLevel: config.adminConsoleLevel, sandboxSms: runtime.sandboxSms,
    accountAdmin: runtime.accountAdmin, registry: runtime.registrySync, trust: runtime.trust,
    changePhoneByStaff: (accountId, phone, actor, reason) => selfService.changePhoneByStaff(accountId, phone, actor, reason),
  });

  if (config.demoData) {
    await registerDemoRoutes(app, {
      issuer: config.issuer, clientId: 'demo-portal', clientSecret: 'demo-portal-secret', cookieSecret: config.cookieSecrets[0],
    });
  }

  await registerSelfServiceRoutes(app, { runtime, issuer: config.issuer, cookieSecret: config.cookieSecrets[0], service: selfService });
  await registerConsoleRoutes(app, { runtime, issuer: config.issuer, cookieSecret: config.cookieSecrets[0], minLevel: config.adminConsoleLevel });

  await mountProvider(app, runtime.provider);
  return app;
}
