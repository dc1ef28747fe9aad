import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { LevelCatalog, Localized, MethodId } from '../assurance/levels.ts';

/**
 * What a login at an upstream counts for here. The upstream's authentication is not one of our local
 * factors, so the configuration names the local methods it stands for (e.g. a provincial L2 login counts
 * as password + SMS): a trust decision made per upstream and per acr value, never inferred.
 */
export type UpstreamGrant = { proofing: string; methods: readonly MethodId[] };

type UpstreamCommon = {
  id: string;
  displayName: Localized;
  clientId: string;
  clientSecret: string;
  scopes: readonly string[];
  /** Create a local account, without a password, when no account has the upstream's ID number. */
  createAccounts: boolean;
  /** The strongest proofing this upstream may ever grant, whatever its mapping says. */
  allowedProofing: string;
};

export type OidcUpstream = UpstreamCommon & {
  type: 'oidc';
  issuer: string;
  claims: { idNumber: string; name: string };
  /** Upstream acr value → what it counts for; an acr not listed is refused. */
  acr: Readonly<Record<string, UpstreamGrant>>;
  /** Sent as acr_values, to ask the upstream for a level. */
  acrValues?: readonly string[];
};

export type OAuth2Upstream = UpstreamCommon & {
  type: 'oauth2';
  /** Identifies the server to openid-client; defaults to the authorization endpoint's origin. */
  issuer: string;
  authorizationEndpoint: string;
  tokenEndpoint: string;
  userinfoEndpoint: string;
  tokenEndpointAuthMethod: 'client_secret_basic' | 'client_secret_post';
  /** Dotted paths into the userinfo JSON (e.g. `data.cert_no`). */
  userinfo: { subject: string; idNumber: string; name: string };
  /** Plain OAuth has no acr: every login counts the same. */
  grant: UpstreamGrant;
};

export type Upstream = OidcUpstream | OAuth2Upstream;

export class UpstreamConfigError extends Error {
  readonly problems: readonly string[];
  constructor(source: string, problems: readonly string[]) {
    super(`invalid upstream configuration (${source}):\n  - ${problems.join('\n  - ')}`);
    this.problems = problems;
  }
}

export type UpstreamConfigOptions = {
  catalog: LevelCatalog;
  /** http:// endpoints are refused unless allowed (development and tests only). */
  allowHttp: boolean;
  /** Where relative `clientSecretFile` paths start; the directory of the configuration file. */
  baseDir?: string;
};

const ID_PATTERN = /^[a-z0-9][a-z0-9-]{0,31}$/;
// A claim name (URIs included) or a dotted path into nested JSON.
const PATH_PATTERN = /^\S{1,200}$/;
const COMMON_KEYS = ['id', 'displayName', 'type', 'clientId', 'clientSecret', 'clientSecretFile', 'scopes', 'createAccounts', 'allowedProofing', '$comment'];
const OIDC_KEYS = [...COMMON_KEYS, 'issuer', 'claims', 'acr', 'acrValues'];
const OAUTH2_KEYS = [...COMMON_KEYS, 'issuer', 'authorizationEndpoint', 'tokenEndpoint', 'userinfoEndpoint', 'tokenEndpointAuthMethod', 'userinfo', 'grant'];

/** Reads and validates an upstreams file; every problem is reported at once, with where it is. */
export function loadUpstreams(file: string, options: Omit<UpstreamConfigOptions, 'baseDir'>): readonly Upstream[] {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (error) {
    throw new UpstreamConfigError(file, [`cannot read: ${(error as Error).message}`]);
  }
  return parseUpstreams(raw, { ...options, baseDir: dirname(resolve(file)) }, file);
}

export function parseUpstreams(raw: unknown, options: UpstreamConfigOptions, source = 'upstreams'): readonly Upstream[] {
  const problems: string[] = [];
  const list = (raw as { upstreams?: unknown } | null)?.upstreams;
  if (!Array.isArray(list)) throw new UpstreamConfigError(source, ['"upstreams" must be a list']);
  const upstreams: Upstream[] = [];
  const seen = new Set<string>();
  list.forEach((entry: unknown, index: number) => {
    const at = `upstreams[${index}]${isObject(entry) && typeof entry.id === 'string' ? ` ("${entry.id}")` : ''}`;
    const before = problems.length;
    const upstream = parseUpstream(entry, options, (message) => problems.push(`${at}: ${message}`));
    if (upstream && problems.length === before) {
      if (seen.has(upstream.id)) problems.push(`${at}: id "${upstream.id}" is used twice`);
      seen.add(upstream.id);
      upstreams.push(upstream);
    }
  });
  if (problems.length > 0) throw new UpstreamConfigError(source, problems);
  return Object.freeze(upstreams);
}

function parseUpstream(entry: unknown, options: UpstreamConfigOptions, fail: (message: string) => void): Upstream | undefined {
  if (!isObject(entry)) {
    fail('must be an object');
    return undefined;
  }
  const { catalog } = options;
  const type = entry.type;
  if (type !== 'oidc' && type !== 'oauth2') {
    fail(`"type" must be "oidc" or "oauth2", got ${JSON.stringify(type)}`);
    return undefined;
  }
  for (const key of Object.keys(entry)) {
    if (!(type === 'oidc' ? OIDC_KEYS : OAUTH2_KEYS).includes(key)) fail(`unknown key "${key}" for type ${type}`);
  }

  const text = (key: string, value: unknown = entry[key]): string => {
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    fail(`"${key}" must be a non-empty string`);
    return '';
  };
  const url = (key: string, value: unknown = entry[key]): string => {
    const href = text(key, value);
    if (!href) return '';
    let parsed: URL;
    try {
      parsed = new URL(href);
    } catch {
      fail(`"${key}" is not a URL: "${href}"`);
      return '';
    }
    if (parsed.protocol !== 'https:' && !(options.allowHttp && parsed.protocol === 'http:')) {
      fail(`"${key}" must be an https:// URL${options.allowHttp ? ' (or http://)' : ''}, got "${href}"`);
    }
    if (parsed.search || parsed.hash) fail(`"${key}" must not have a query or fragment`);
    return href;
  };
  const claimPath = (key: string, value: unknown): string => {
    const path = text(key, value);
    if (path && !PATH_PATTERN.test(path)) fail(`"${key}" must be a claim name or a dotted path such as data.cert_no, got "${path}"`);
    return path;
  };
  const proofingId = (key: string, value: unknown): string => {
    const id = text(key, value);
    if (id && catalog.proofingRank(id) === 0) fail(`"${key}": unknown proofing "${id}"; known: ${catalog.proofing.map((p) => p.id).join(', ')}`);
    return id;
  };

  const id = text('id');
  if (id && !ID_PATTERN.test(id)) fail(`"id" must be lower-case letters, digits and hyphens (at most 32), got "${id}"`);

  const displayName = { 'zh-CN': '', en: '' };
  if (!isObject(entry.displayName)) fail('"displayName" must be an object with "zh-CN" and "en"');
  else {
    displayName['zh-CN'] = text('displayName.zh-CN', entry.displayName['zh-CN']);
    displayName.en = text('displayName.en', entry.displayName.en);
  }

  const clientId = text('clientId');
  let clientSecret = '';
  if ((entry.clientSecret === undefined) === (entry.clientSecretFile === undefined)) {
    fail('exactly one of "clientSecret" and "clientSecretFile" is required');
  } else if (entry.clientSecret !== undefined) {
    clientSecret = text('clientSecret');
  } else {
    const path = resolve(options.baseDir ?? process.cwd(), text('clientSecretFile'));
    try {
      clientSecret = readFileSync(path, 'utf8').trim();
      if (!clientSecret) fail(`"clientSecretFile" ${path} is empty`);
    } catch (error) {
      fail(`"clientSecretFile" cannot be read: ${(error as Error).message}`);
    }
  }

  let scopes: string[] = [];
  if (!Array.isArray(entry.scopes) || entry.scopes.length === 0 || entry.scopes.some((s) => typeof s !== 'string' || !/^[\x21\x23-\x5B\x5D-\x7E]+$/.test(s))) {
    fail('"scopes" must be a non-empty list of scope names');
  } else {
    scopes = entry.scopes as string[];
  }
  if (type === 'oidc' && scopes.length > 0 && !scopes.includes('openid')) fail('"scopes" of an oidc upstream must include "openid"');

  if (typeof entry.createAccounts !== 'boolean') fail('"createAccounts" must be true or false');
  const allowedProofing = proofingId('allowedProofing', entry.allowedProofing);

  const grant = (key: string, value: unknown): UpstreamGrant => {
    if (!isObject(value)) {
      fail(`"${key}" must be an object with "proofing" and "methods"`);
      return { proofing: '', methods: [] };
    }
    for (const k of Object.keys(value)) if (k !== 'proofing' && k !== 'methods' && k !== '$comment') fail(`"${key}": unknown key "${k}"`);
    const proofing = proofingId(`${key}.proofing`, value.proofing);
    // Linking is by the upstream's ID number: an upstream that has not proofed it could claim anyone's account.
    if (proofing && catalog.proofingRank(proofing) === 1) fail(`"${key}.proofing" must be stronger than "${proofing}": accounts are linked by the ID number the upstream asserts`);
    if (proofing && allowedProofing && catalog.proofingRank(proofing) > catalog.proofingRank(allowedProofing)) {
      fail(`"${key}.proofing" "${proofing}" is stronger than "allowedProofing" "${allowedProofing}"`);
    }
    const methods = value.methods;
    if (!Array.isArray(methods) || methods.length === 0) {
      fail(`"${key}.methods" must be a non-empty list of method ids (${Object.keys(catalog.methods).join(', ')})`);
      return { proofing, methods: [] };
    }
    for (const m of methods) if (typeof m !== 'string' || !(m in catalog.methods)) fail(`"${key}.methods": unknown method ${JSON.stringify(m)}; known: ${Object.keys(catalog.methods).join(', ')}`);
    if (new Set(methods).size !== methods.length) fail(`"${key}.methods" lists a method twice`);
    return Object.freeze({ proofing, methods: Object.freeze([...methods] as MethodId[]) });
  };

  const common = {
    id, displayName: Object.freeze(displayName), clientId, clientSecret, scopes: Object.freeze(scopes),
    createAccounts: entry.createAccounts === true, allowedProofing,
  };

  if (type === 'oidc') {
    const issuer = url('issuer');
    const claims = isObject(entry.claims) ? entry.claims : {};
    if (!isObject(entry.claims)) fail('"claims" must be an object with "idNumber" and "name" (claim names)');
    const acr: Record<string, UpstreamGrant> = {};
    if (!isObject(entry.acr) || Object.keys(entry.acr).filter((k) => k !== '$comment').length === 0) {
      fail('"acr" must map at least one upstream acr value to { "proofing", "methods" }');
    } else {
      for (const [value, mapping] of Object.entries(entry.acr)) if (value !== '$comment') acr[value] = grant(`acr["${value}"]`, mapping);
    }
    let acrValues: string[] | undefined;
    if (entry.acrValues !== undefined) {
      if (!Array.isArray(entry.acrValues) || entry.acrValues.some((v) => typeof v !== 'string' || !(v in acr))) {
        fail('"acrValues" must be a list of acr values that "acr" maps');
      } else {
        acrValues = entry.acrValues as string[];
      }
    }
    return {
      ...common, type, issuer,
      claims: Object.freeze({ idNumber: claimPath('claims.idNumber', claims.idNumber), name: claimPath('claims.name', claims.name) }),
      acr: Object.freeze(acr), acrValues: acrValues && Object.freeze(acrValues),
    };
  }

  const authorizationEndpoint = url('authorizationEndpoint');
  const userinfo = isObject(entry.userinfo) ? entry.userinfo : {};
  if (!isObject(entry.userinfo)) fail('"userinfo" must be an object with "subject", "idNumber" and "name" (paths into the userinfo response)');
  const authMethod = entry.tokenEndpointAuthMethod ?? 'client_secret_basic';
  if (authMethod !== 'client_secret_basic' && authMethod !== 'client_secret_post') fail('"tokenEndpointAuthMethod" must be "client_secret_basic" or "client_secret_post"');
  let issuer = '';
  if (entry.issuer !== undefined) issuer = url('issuer');
  else if (authorizationEndpoint) issuer = new URL(authorizationEndpoint).origin;
  return {
    ...common, type, issuer, authorizationEndpoint,
    tokenEndpoint: url('tokenEndpoint'),
    userinfoEndpoint: url('userinfoEndpoint'),
    tokenEndpointAuthMethod: authMethod as OAuth2Upstream['tokenEndpointAuthMethod'],
    userinfo: Object.freeze({
      subject: claimPath('userinfo.subject', userinfo.subject),
      idNumber: claimPath('userinfo.idNumber', userinfo.idNumber),
      name: claimPath('userinfo.name', userinfo.name),
    }),
    grant: grant('grant', entry.grant),
  };
}

/** What a login counts for: the mapping, with its proofing held to the upstream's cap. */
export function grantFor(upstream: Upstream, acr: string | undefined, catalog: LevelCatalog): UpstreamGrant | undefined {
  let mapped: UpstreamGrant | undefined;
  if (upstream.type === 'oauth2') mapped = upstream.grant;
  else if (acr !== undefined && Object.hasOwn(upstream.acr, acr)) mapped = upstream.acr[acr];
  if (!mapped) return undefined;
  const capped = catalog.proofingRank(mapped.proofing) > catalog.proofingRank(upstream.allowedProofing) ? upstream.allowedProofing : mapped.proofing;
  return { proofing: capped, methods: mapped.methods };
}

/** A value at a dotted path of a JSON object (`data.cert_no`); a top-level name may itself contain dots. */
export function valueAt(source: unknown, path: string): unknown {
  if (isObject(source) && Object.hasOwn(source, path)) return source[path];
  let current: unknown = source;
  for (const part of path.split('.')) {
    if (!isObject(current) || !Object.hasOwn(current, part)) return undefined;
    current = current[part];
  }
  return current;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
