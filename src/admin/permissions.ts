export const PERMISSIONS = ['clients:read', 'clients:write', 'policies:read', 'policies:write', 'accounts:read', 'accounts:write', 'audit:read', 'sandbox:read', 'trust:read', 'trust:write'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * Separation of duties (GB/T 22239 三权分立): whoever changes relying parties or policies cannot read the
 * audit trail of it, and the auditor can read everything but change nothing.
 */
const GRANTS: Record<string, readonly Permission[]> = {
  // Machine clients (client credentials), by scope.
  'scope:admin': PERMISSIONS,
  'scope:admin:policy': ['clients:read', 'policies:read', 'policies:write'],
  'scope:admin:audit': ['clients:read', 'policies:read', 'accounts:read', 'audit:read', 'trust:read'],
  'scope:admin:accounts': ['accounts:read', 'accounts:write'],
  'scope:admin:trust': ['trust:read', 'trust:write'],
  // People (tokens of the admin console), by account role.
  'role:client_admin': ['clients:read', 'clients:write', 'policies:read'],
  'role:policy_admin': ['clients:read', 'policies:read', 'policies:write'],
  'role:auditor': ['clients:read', 'policies:read', 'audit:read'],
  // MLPS three-role separation for accounts: the operator acts, the security auditor only reads, the system
  // admin configures the platform (relying parties, policies) but touches no account.
  'role:account_operator': ['accounts:read', 'accounts:write'],
  'role:security_auditor': ['accounts:read', 'audit:read', 'clients:read', 'policies:read', 'trust:read'],
  'role:system_admin': ['clients:read', 'clients:write', 'policies:read', 'policies:write', 'trust:read', 'trust:write'],
  // The CA trust registry (recognised CAs, partner submissions, peer lists); reads no audit trail.
  'role:trust_admin': ['trust:read', 'trust:write'],
};

export const ADMIN_SCOPES = ['admin', 'admin:policy', 'admin:audit', 'admin:accounts', 'admin:trust'] as const;
export const ADMIN_ROLES = ['client_admin', 'policy_admin', 'auditor', 'account_operator', 'security_auditor', 'system_admin', 'trust_admin'] as const;

export function permissionsFor(input: { scopes?: readonly string[]; roles?: readonly string[] }): Set<Permission> {
  const granted = new Set<Permission>();
  for (const scope of input.scopes ?? []) for (const p of GRANTS[`scope:${scope}`] ?? []) granted.add(p);
  for (const role of input.roles ?? []) for (const p of GRANTS[`role:${role}`] ?? []) granted.add(p);
  return granted;
}
