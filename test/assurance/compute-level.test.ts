import t from 'tap';
import { computeLevel, planStepUp, type Factor, type SessionFacts } from '../../src/assurance/compute-level.ts';
import { createLevelCatalog, loadLevelCatalog, LevelConfigError, type MethodId } from '../../src/assurance/levels.ts';

const ISSUER = 'https://id.example.gov.cn';
const catalog = loadLevelCatalog(new URL('../../config/levels.json', import.meta.url).pathname, ISSUER);
const NOW = 1_800_000_000;
const ago = (seconds: number) => NOW - seconds;
const f = (method: MethodId, secondsAgo: number): Factor => ({ method, at: ago(secondsAgo) });
const facts = (proofing: string | null, factors: Factor[], extra: Partial<SessionFacts> = {}): SessionFacts =>
  ({ proofing, factors, lastSeen: null, now: NOW, ...extra });

t.test('level = min(proofing, authentication), with per-method freshness and per-level idle/absolute limits', async (t) => {
  const cases: [string, SessionFacts, string | undefined][] = [
    ['nothing done', facts('register_verified', []), undefined],
    ['password only', facts('self_asserted', [f('pwd', 10)]), 'L1'],
    ['SMS only', facts('register_verified', [f('sms', 10)]), 'L1'],
    ['password + SMS, self-asserted account', facts('self_asserted', [f('pwd', 10), f('sms', 5)]), 'L1'],
    ['password + SMS, register-verified account', facts('register_verified', [f('pwd', 10), f('sms', 5)]), 'L2'],
    ['+ fresh face, biometric proofing', facts('biometric_verified', [f('pwd', 100), f('sms', 90), f('face', 60)]), 'L3'],
    ['+ face, but account only register-verified', facts('register_verified', [f('pwd', 100), f('sms', 90), f('face', 60)]), 'L2'],
    ['face decays after 15 min: back to L2', facts('biometric_verified', [f('pwd', 1000), f('sms', 1000), f('face', 901)]), 'L2'],
    ['face at exactly 15 min still counts', facts('biometric_verified', [f('pwd', 1000), f('sms', 1000), f('face', 900)]), 'L3'],
    ['password older than 12 h does not count', facts('register_verified', [f('pwd', 43201), f('sms', 10)]), 'L1'],
    ['L3 idle limit (15 min) passed, L2 idle (30 min) not: L2',
      facts('biometric_verified', [f('pwd', 1300), f('sms', 1300), f('face', 800)], { lastSeen: ago(1000) }), 'L2'],
    ['idle beyond every level: nothing counts', facts('register_verified', [f('pwd', 4000)], { lastSeen: ago(3600) }), undefined],
    ['a method done after the idle gap counts', facts('register_verified', [f('pwd', 4000), f('sms', 5)], { lastSeen: ago(3600) }), 'L1'],
    ['max_age excludes older methods', facts('register_verified', [f('pwd', 600), f('sms', 10)], { maxAge: 300 }), 'L1'],
    ['certificate with in-person proofing: L4', facts('in_person', [f('hwk', 10)]), 'L4'],
    ['certificate on a register-verified account: the proofing limits it to L2', facts('register_verified', [f('hwk', 10)]), 'L2'],
    ['certificate whose CA maps to L3 counts up to L3 only', facts('in_person', [{ method: 'hwk', at: ago(10), maxLevel: 'L3' }]), 'L3'],
    ['certificate capped at L1 on a well-proofed account', facts('in_person', [{ method: 'swk', at: ago(10), maxLevel: 'L1' }]), 'L1'],
    ['a capped certificate does not lift password + SMS above L2',
      facts('in_person', [f('pwd', 10), f('sms', 10), { method: 'hwk', at: ago(10), maxLevel: 'L2' }]), 'L2'],
    ['certificate on a self-asserted account: L1', facts('self_asserted', [f('swk', 10)]), 'L1'],
    ['a factor from the future is ignored', facts('register_verified', [f('pwd', -60)]), undefined],
  ];
  for (const [label, input, expected] of cases) t.equal(computeLevel(catalog, input)?.id, expected, label);
});

t.test('step-up plans ask only for what is missing', async (t) => {
  const L2 = catalog.level('L2')!;
  const L3 = catalog.level('L3')!;
  const L4 = catalog.level('L4')!;
  const all = new Set<MethodId>(['pwd', 'sms', 'face']);
  t.same(planStepUp(catalog, L2, facts('register_verified', [f('pwd', 10)]), all), { kind: 'step_up', missing: ['sms'], next: ['sms'] });
  t.same(planStepUp(catalog, L2, facts('register_verified', [f('sms', 10)]), all), { kind: 'step_up', missing: ['pwd'], next: ['pwd'] });
  t.same(planStepUp(catalog, L2, facts('register_verified', [f('pwd', 10), f('sms', 10)]), all), { kind: 'satisfied' });
  t.same(planStepUp(catalog, L3, facts('register_verified', [f('pwd', 10), f('sms', 10)]), all), { kind: 'step_up', missing: ['face'], next: ['face'] },
    'face both proves and authenticates');
  t.same(planStepUp(catalog, L3, facts('register_verified', [f('pwd', 10)]), all), { kind: 'step_up', missing: ['sms', 'face'], next: ['sms'] });
  t.same(planStepUp(catalog, L3, facts('biometric_verified', [f('pwd', 10), f('sms', 10), f('face', 1000)]), all), { kind: 'step_up', missing: ['face'], next: ['face'] },
    'a stale face match is asked again');
  t.same(planStepUp(catalog, L3, facts('register_verified', [f('pwd', 10), f('sms', 10)]), new Set<MethodId>(['pwd', 'sms'])),
    { kind: 'unmet', reason: 'proofing' }, 'no face service: L3 cannot be reached');
  t.same(planStepUp(catalog, L2, facts('register_verified', [f('pwd', 10)]), new Set<MethodId>(['pwd'])),
    { kind: 'unmet', reason: 'methods' }, 'no verified phone: L2 cannot be reached');
  t.same(planStepUp(catalog, L4, facts('register_verified', [f('pwd', 10)]), all), { kind: 'unmet', reason: 'proofing' }, 'L4 needs a service hall or a certificate');
  const withCertificates = new Set<MethodId>(['pwd', 'sms', 'face', 'hwk', 'swk']);
  t.same(planStepUp(catalog, L4, facts('register_verified', [f('pwd', 10)]), withCertificates), { kind: 'step_up', missing: ['hwk'], next: ['hwk', 'swk'] },
    'a certificate both proves and authenticates for L4');
  t.same(planStepUp(catalog, L4, facts('in_person', [{ method: 'hwk', at: ago(10), maxLevel: 'L3' }]), withCertificates),
    { kind: 'step_up', missing: ['hwk'], next: ['hwk', 'swk'] }, 'a certificate capped below L4 does not count for L4');
  t.same(planStepUp(catalog, L3, facts('register_verified', [f('pwd', 10), f('sms', 10)]), withCertificates),
    { kind: 'step_up', missing: ['face'], next: ['face', 'hwk', 'swk'] }, 'face or a certificate, side by side');
  t.same(planStepUp(catalog, L2, facts('self_asserted', [f('pwd', 10)]), all), { kind: 'unmet', reason: 'proofing' });
});

t.test('acr values and amr', async (t) => {
  t.equal(catalog.acrFor(catalog.level('L3')!, 'uri'), `${ISSUER}/acr/L3`);
  t.equal(catalog.acrFor(catalog.level('L3')!, 'eidas'), 'http://eidas.europa.eu/LoA/high');
  t.equal(catalog.acrFor(catalog.level('L4')!, 'eidas'), `${ISSUER}/acr/L4`, 'no eIDAS value: our URI');
  t.equal(catalog.levelForAcr('http://eidas.europa.eu/LoA/substantial')?.id, 'L2');
  t.equal(catalog.levelForAcr(`${ISSUER}/acr/L1`)?.id, 'L1');
  t.equal(catalog.levelForAcr('urn:unknown'), undefined);
  t.same(catalog.amrFor(['pwd']), ['pwd']);
  t.same(catalog.amrFor(['pwd', 'sms']), ['pwd', 'sms', 'otp', 'mfa']);
  t.same(catalog.acrValues().slice(0, 2), [`${ISSUER}/acr/L1`, 'http://eidas.europa.eu/LoA/low']);
});

t.test('a broken level table stops start-up with the reason', async (t) => {
  const base = JSON.parse(JSON.stringify({
    proofing: [{ id: 'p', name: { 'zh-CN': 'p', en: 'p' } }],
    methods: { pwd: { amr: ['pwd'], freshnessSeconds: 60, name: { 'zh-CN': 'p', en: 'p' } } },
    levels: [{ id: 'L1', name: {}, description: {}, proofing: 'p', methods: [['pwd']], idleSeconds: 60, absoluteSeconds: 60 }],
  }));
  t.ok(createLevelCatalog(base, ISSUER));
  const broken = (mutate: (c: typeof base) => void) => {
    const copy = JSON.parse(JSON.stringify(base));
    mutate(copy);
    return () => createLevelCatalog(copy, ISSUER);
  };
  t.throws(broken((c) => { c.levels[0].methods = [['retina']]; }), new LevelConfigError('level configuration: level L1 names unknown method "retina"'));
  t.throws(broken((c) => { c.levels[0].proofing = 'x'; }), { message: /unknown proofing "x"/ });
  t.throws(broken((c) => { c.levels.push({ ...c.levels[0] }); }), { message: /unique/ });
  t.throws(broken((c) => { c.methods.pwd.freshnessSeconds = 0; }), { message: /freshnessSeconds/ });
  t.throws(broken((c) => { c.levels[0].idleSeconds = -1; }), { message: /idleSeconds/ });
});

t.test('the weaker bank-card variant of L3 counts only where enabled', async (t) => {
  const withBank = loadLevelCatalog(new URL('../../config/levels.json', import.meta.url).pathname, ISSUER, { variants: ['bankCardForL3'] });
  const bankSession = facts('bank_verified', [f('pwd', 10), f('sms', 10), f('bank', 10)]);
  t.equal(computeLevel(withBank, bankSession)?.id, 'L3', 'enabled: bank card reaches L3');
  t.equal(computeLevel(catalog, bankSession)?.id, 'L2', 'not enabled: the same session stays at L2');
  t.equal(computeLevel(withBank, facts('bank_verified', [f('pwd', 10), f('sms', 10), f('bank', 901)]))?.id, 'L2', 'the bank factor decays like face');
  const noFace = new Set<MethodId>(['pwd', 'sms', 'bank']);
  const l2Session = facts('register_verified', [f('pwd', 10), f('sms', 10)]);
  t.same(planStepUp(withBank, withBank.level('L3')!, l2Session, noFace), { kind: 'step_up', missing: ['bank'], next: ['bank'] });
  t.same(planStepUp(catalog, catalog.level('L3')!, l2Session, noFace), { kind: 'unmet', reason: 'proofing' });
  t.same(planStepUp(withBank, withBank.level('L3')!, l2Session, new Set<MethodId>(['pwd', 'sms', 'bank', 'face'])), { kind: 'step_up', missing: ['face'], next: ['face', 'bank'] },
    'face and bank card are offered side by side, face first');
});
