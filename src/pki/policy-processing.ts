import * as asn1js from 'asn1js';
import * as pkijs from 'pkijs';
import type { ParsedCertificate } from './types.ts';

/**
 * RFC 5280 §6.1 certificate-policy processing (valid_policy_tree, policy mapping, policyConstraints,
 * inhibitAnyPolicy). pkijs has its own approximation of this; ours is the one whose answer we report, because the
 * login binds assurance levels to the policies it returns.
 */

export const ANY_POLICY = '2.5.29.32.0';

const POLICY_MAPPINGS = '2.5.29.33';
const POLICY_CONSTRAINTS = '2.5.29.36';
const INHIBIT_ANY_POLICY = '2.5.29.54';

type PolicyNode = { policy: string; expected: Set<string>; parent?: PolicyNode; children: PolicyNode[]; depth: number };

export type PolicyInputs = {
  /** user-initial-policy-set; undefined or containing anyPolicy means any policy. */
  acceptablePolicies?: readonly string[];
  requireExplicitPolicy?: boolean;
  inhibitPolicyMapping?: boolean;
  inhibitAnyPolicy?: boolean;
};

export type PolicyOutcome = { ok: true; policies: string[] } | { ok: false; message: string };

type PolicyFields = {
  subject: string;
  policies: string[];
  mappings: [issuerDomainPolicy: string, subjectDomainPolicy: string][];
  requireExplicitPolicy?: number;
  inhibitPolicyMapping?: number;
  inhibitAnyPolicy?: number;
  selfIssued: boolean;
};

function policyFields(cert: ParsedCertificate): PolicyFields {
  const fields: PolicyFields = { subject: cert.subject, policies: cert.policies, mappings: [], selfIssued: cert.selfIssued };
  for (const extension of cert.pkijs.extensions ?? []) {
    const value = extension.parsedValue as unknown;
    if (extension.extnID === POLICY_MAPPINGS && value instanceof pkijs.PolicyMappings) {
      fields.mappings = value.mappings.map((m) => [m.issuerDomainPolicy, m.subjectDomainPolicy]);
    } else if (extension.extnID === POLICY_CONSTRAINTS && value instanceof pkijs.PolicyConstraints) {
      fields.requireExplicitPolicy = value.requireExplicitPolicy;
      fields.inhibitPolicyMapping = value.inhibitPolicyMapping;
    } else if (extension.extnID === INHIBIT_ANY_POLICY && value instanceof asn1js.Integer) {
      fields.inhibitAnyPolicy = value.valueBlock.valueDec;
    }
  }
  return fields;
}

class PolicyTree {
  levels: PolicyNode[][];

  constructor() {
    this.levels = [[{ policy: ANY_POLICY, expected: new Set([ANY_POLICY]), children: [], depth: 0 }]];
  }

  get empty(): boolean {
    return this.levels[0].length === 0;
  }

  add(parent: PolicyNode, policy: string, expected: Iterable<string>): void {
    const node: PolicyNode = { policy, expected: new Set(expected), parent, children: [], depth: parent.depth + 1 };
    parent.children.push(node);
    (this.levels[node.depth] ??= []).push(node);
  }

  delete(node: PolicyNode): void {
    for (const child of [...node.children]) this.delete(child);
    this.levels[node.depth] = this.levels[node.depth].filter((n) => n !== node);
    if (node.parent) node.parent.children = node.parent.children.filter((n) => n !== node);
  }

  /** Deletes childless nodes above `depth`, bottom-up (an empty root level means a NULL tree). */
  prune(depth: number): void {
    for (let d = depth - 1; d >= 0; d--) {
      for (const node of [...(this.levels[d] ?? [])]) if (node.children.length === 0) this.delete(node);
    }
  }

  all(): PolicyNode[] {
    return this.levels.flat();
  }
}

/**
 * Runs RFC 5280 policy processing over `path` (trust anchor first; the anchor itself is not processed).
 * Returns the valid policies in the trust anchor's domain: the valid_policy of every surviving node whose parent is
 * anyPolicy (RFC 5280 §6.1.5 (g)(iii) valid_policy_node_set), after intersection with the acceptable policies.
 */
export function processPolicies(path: readonly ParsedCertificate[], inputs: PolicyInputs): PolicyOutcome {
  const certs = path.slice(1).map(policyFields);
  const n = certs.length;
  let explicitPolicy = inputs.requireExplicitPolicy ? 0 : n + 1;
  let inhibitAnyPolicy = inputs.inhibitAnyPolicy ? 0 : n + 1;
  let policyMapping = inputs.inhibitPolicyMapping ? 0 : n + 1;
  let tree: PolicyTree | null = new PolicyTree();
  const fail = (message: string): PolicyOutcome => ({ ok: false, message });

  for (let i = 1; i <= n; i++) {
    const cert = certs[i - 1];
    // §6.1.3 (d), (e)
    if (tree && cert.policies.length > 0) {
      const parents = tree.levels[i - 1];
      tree.levels[i] = [];
      for (const policy of cert.policies) {
        if (policy === ANY_POLICY) continue;
        const matching = parents.filter((p) => p.expected.has(policy));
        for (const parent of matching.length ? matching : parents.filter((p) => p.policy === ANY_POLICY)) tree.add(parent, policy, [policy]);
      }
      if (cert.policies.includes(ANY_POLICY) && (inhibitAnyPolicy > 0 || (i < n && cert.selfIssued))) {
        for (const parent of parents) {
          for (const value of parent.expected) {
            if (!parent.children.some((c) => c.policy === value)) tree.add(parent, value, [value]);
          }
        }
      }
      tree.prune(i);
      if (tree.empty) tree = null;
    } else {
      tree = null;
    }
    // §6.1.3 (f)
    if (explicitPolicy <= 0 && !tree) return fail(`no acceptable certificate policy remains at "${cert.subject}" and an explicit policy is required`);
    if (i === n) break;

    // §6.1.4 (a), (b)
    if (cert.mappings.some(([a, b]) => a === ANY_POLICY || b === ANY_POLICY)) {
      return fail(`"${cert.subject}" maps anyPolicy, which RFC 5280 forbids`);
    }
    if (tree && cert.mappings.length) {
      const bySource = new Map<string, string[]>();
      for (const [from, to] of cert.mappings) bySource.set(from, [...(bySource.get(from) ?? []), to]);
      for (const [from, targets] of bySource) {
        const nodes = (tree.levels[i] ?? []).filter((node) => node.policy === from);
        if (policyMapping > 0) {
          if (nodes.length) {
            for (const node of nodes) node.expected = new Set(targets);
          } else {
            const anyNode = (tree.levels[i] ?? []).find((node) => node.policy === ANY_POLICY);
            if (anyNode?.parent && inhibitAnyPolicy > 0) tree.add(anyNode.parent, from, targets);
          }
        } else {
          for (const node of nodes) tree.delete(node);
          tree.prune(i);
          if (tree.empty) {
            tree = null;
            break;
          }
        }
      }
    }
    // §6.1.4 (h), (i), (j)
    if (!cert.selfIssued) {
      if (explicitPolicy > 0) explicitPolicy--;
      if (policyMapping > 0) policyMapping--;
      if (inhibitAnyPolicy > 0) inhibitAnyPolicy--;
    }
    if (cert.requireExplicitPolicy !== undefined && cert.requireExplicitPolicy < explicitPolicy) explicitPolicy = cert.requireExplicitPolicy;
    if (cert.inhibitPolicyMapping !== undefined && cert.inhibitPolicyMapping < policyMapping) policyMapping = cert.inhibitPolicyMapping;
    if (cert.inhibitAnyPolicy !== undefined && cert.inhibitAnyPolicy < inhibitAnyPolicy) inhibitAnyPolicy = cert.inhibitAnyPolicy;
  }

  // §6.1.5 (a), (b)
  if (explicitPolicy > 0) explicitPolicy--;
  if (certs[n - 1]?.requireExplicitPolicy === 0) explicitPolicy = 0;

  // §6.1.5 (g)
  const userSet = inputs.acceptablePolicies;
  if (tree && userSet && !userSet.includes(ANY_POLICY)) {
    const nodeSet = tree.all().filter((node) => node.parent?.policy === ANY_POLICY);
    for (const node of nodeSet) if (node.policy !== ANY_POLICY && !userSet.includes(node.policy)) tree.delete(node);
    const anyLeaf = (tree.levels[n] ?? []).find((node) => node.policy === ANY_POLICY);
    if (anyLeaf?.parent) {
      for (const policy of userSet) {
        if (!nodeSet.some((node) => node.policy === policy)) tree.add(anyLeaf.parent, policy, [policy]);
      }
      tree.delete(anyLeaf);
    }
    tree.prune(n);
    if (tree.empty) tree = null;
  }

  if (explicitPolicy <= 0 && !tree) {
    return fail(userSet
      ? `the path is valid for none of the acceptable policies (${userSet.join(', ')})`
      : 'no valid certificate policy remains and an explicit policy is required');
  }
  if (!tree) return { ok: true, policies: [] };
  const policies = new Set<string>();
  for (const node of tree.all()) {
    if (node.parent?.policy === ANY_POLICY && node.policy !== ANY_POLICY) policies.add(node.policy);
    if (node.depth === n && node.policy === ANY_POLICY) policies.add(ANY_POLICY); // anyPolicy all the way down
  }
  return { ok: true, policies: [...policies].sort() };
}
