import { readFileSync } from 'node:fs';
import type { Runtime } from './runtime.ts';

/**
 * A development-only SM2 CA (root + issuing CA, files in config/demo-ca) and a USB-key certificate for the demo
 * citizen 张三, so certificate login can be tried without a real CA: `npm run sign-challenge` plays the USB key.
 * The CA's CRL is served by the demo routes, its nextUpdate ten years out. Never loaded in production.
 */
export const DEMO_CA_DIR = new URL('../../config/demo-ca/', import.meta.url).pathname;
export const DEMO_CA_POLICY = '1.2.156.99999.0.4';
const OPERATOR = { name: 'Demo Provincial CA (development only)', uscc: '91110000100000000R' };
const ACTOR = { name: 'demo-data' };

export const demoCaCrl = () => readFileSync(`${DEMO_CA_DIR}issuing.crl`);

export async function seedDemoCa(runtime: Runtime): Promise<void> {
  const { registry } = runtime.trust;
  const settings = {
    type: 'ca_individual',
    name: 'Demo SM2 individual CA',
    crlUrls: [`${runtime.config.issuer}/demo/ca/issuing.crl`],
    ocspUrls: [],
    policyLevels: { [DEMO_CA_POLICY]: 'L4' },
    keyUsages: ['digitalSignature', 'nonRepudiation'],
    extractionRules: [{ kind: 'citizen', source: { type: 'extension', oid: '1.2.156.10260.4.1.1', choiceTag: 0 } }],
    revocationMode: 'crl',
    softFailMaxLevel: null,
    keyProtection: 'hardware',
    pinRequired: true,
  };
  const existing = (await registry.listOperators()).find((o) => o.uscc === OPERATOR.uscc && o.source === 'local');
  if (!existing) {
    const operator = await registry.createOperator(OPERATOR, ACTOR);
    await registry.createService(operator.id, {
      ...settings,
      certificates: [
        { certificate: readFileSync(`${DEMO_CA_DIR}root.pem`, 'utf8'), role: 'anchor' },
        { certificate: readFileSync(`${DEMO_CA_DIR}issuing.pem`, 'utf8'), role: 'intermediate' },
      ],
    }, ACTOR);
    return;
  }
  // A restart on another PORT or ISSUER moves the CRL address.
  for (const service of existing.services) {
    if (service.crlUrls[0] !== settings.crlUrls[0]) await registry.updateService(service.id, settings, ACTOR);
  }
}
