import { ConfigError, loadConfig } from './config/load-config.ts';
import { buildApp } from './app.ts';
import { DEMO_ADMIN_CLIENT, DEMO_CITIZENS, DEMO_PASSWORD, seedDemoData } from './bootstrap/demo-data.ts';
import { createRuntime } from './bootstrap/runtime.ts';
import { ensureConsoleClient } from './console/routes.ts';
import { ensureAccountClient } from './self-service/routes.ts';
import { createSelfService, scheduleClosures } from './self-service/service.ts';
import { startCertificateTlsListener } from './authn/certificate/tls-listener.ts';
import { createRateLimiter } from './cache/rate-limiter.ts';

async function main() {
  let config;
  try {
    config = loadConfig(process.env);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`Refusing to start: ${error.message}`);
      process.exit(1);
    }
    throw error;
  }

  const runtime = await createRuntime(config, {
    log: (level, message, detail) => console[level === 'info' ? 'log' : level](message, detail instanceof Error ? detail.message : (detail ?? '')),
  });
  if (config.mode === 'production' && runtime.signingKeyOrigins.has('development')) {
    console.error('Refusing to start: active signing keys were generated with the development data key; run `npm run rotate-keys` with production keys.');
    await runtime.close();
    process.exit(1);
  }
  await ensureConsoleClient(runtime, config.issuer);
  await ensureAccountClient(runtime, config.issuer);
  const stopClosures = scheduleClosures(createSelfService(runtime, config.selfService), (message, detail) => console.warn(message, detail ?? ''));
  if (config.demoData) await seedDemoData(runtime);

  const app = await buildApp(runtime);
  await app.listen({ port: config.port, host: config.host });
  const tls = config.certificates.tls;
  const tlsListener = tls && runtime.certificates ? await startCertificateTlsListener({
    host: tls.host, port: tls.port, keyFile: tls.keyFile, certFile: tls.certFile, issuer: config.issuer,
    presented: runtime.certificates.presented, trust: runtime.certificates.trust, limiter: createRateLimiter(runtime.hot),
    perIpPerMinute: config.certificates.perIpPerMinute, maxChainLength: config.certificates.maxChainLength,
  }) : undefined;

  const lines = [
    '',
    `Identity server (${config.mode}) listening on http://${config.host}:${config.port}`,
    `  issuer:      ${config.issuer}`,
    `  discovery:   ${config.issuer}/.well-known/openid-configuration`,
    `  database:    ${runtime.embeddedPostgres ? `embedded PostgreSQL (PGlite) in ${config.dataDir}pglite` : 'DATABASE_URL'}`,
    `  hot state:   ${runtime.hot.kind === 'redis' ? 'Redis (REDIS_URL)' : 'PostgreSQL (no REDIS_URL)'}`,
    `  your account:  ${config.issuer}/account/   (sessions, consents, phone, export, deregistration; /account/reset for a forgotten password)`,
    `  admin console: ${config.issuer}/console/   (accounts with an admin role, signed in at ${config.adminConsoleLevel} or higher)`,
    `  trust list:    ${config.issuer}/trust/list   (signed list of recognised CAs; keys at /trust/jwks)`,
  ];
  if (tlsListener) lines.push(`  certificate TLS listener: ${tls!.publicUrl} (port ${tlsListener.port}, asks for a TLS client certificate)`);
  if (config.demoData) {
    lines.push(
      `  demo portal: ${config.issuer}/demo/   (client demo-portal / demo-portal-secret)`,
      `  demo citizens (password ${DEMO_PASSWORD}):`,
      ...DEMO_CITIZENS.map((c) => `    ${c.name}  ID ${c.idNumber}  mobile ${c.phone.slice(3)}`),
    );
  }
  if (runtime.sandboxSms) {
    lines.push(
      '  sandbox SMS: messages are printed below as [sandbox-sms] lines, and listed by the admin API:',
      `    TOKEN=$(curl -s -u ${DEMO_ADMIN_CLIENT.clientId}:${DEMO_ADMIN_CLIENT.clientSecret} -d grant_type=client_credentials -d scope=admin ${config.issuer}/token | sed 's/.*"access_token":"\\([^"]*\\)".*/\\1/')`,
      `    curl -H "Authorization: Bearer $TOKEN" ${config.issuer}/admin/sandbox/sms`,
    );
  }
  console.log(lines.join('\n') + '\n');

  const shutdown = async (signal: string) => {
    app.log.info({ signal }, 'shutting down');
    stopClosures();
    await tlsListener?.close();
    await app.close();
    await runtime.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown('SIGINT'));
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
}

await main();
