export const PERMISSIONS = ['clients:read', 'clients:write', 'policies:read', 'policies:write', 'audit:read', 'sandbox:read'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/**
 * Separation of duties (GB/T 22239 三权分立): whoever changes relying parties or policies cannot read the
 * audit trail of it, and the auditor can read everything but change nothing.
 */
const GRANTS: Record<string, readonly Permission[]> = {
  // Machine clients (client credentials), by scope.
  'scope:admin': PERMISSIONS,
  'scope:admin:policy': ['clients:read', 'policies:read', 'policies:write'],
  'scope:admin:audit': ['clients:read', 'policies:read', 'audit:read'],
  // People (tokens of the admin console), by account role.
  'role:client_admin': ['clients:read', 'clients:write', 'policies:read'],
  'role:policy_admin': ['clients:read', 'policies:read', 'policies:write'],
  'role:auditor': ['clients:read', 'policies:read', 'audit:read'],
};

export const ADMIN_SCOPES = ['admin', 'admin:policy', 'admin:audit'] as const;
export const ADMIN_ROLES = ['client_admin', 'policy_admin', 'auditor'] as const;

export function permissionsFor(input: { scopes?: readonly string[]; roles?: readonly string[] }): Set<Permission> {
  const granted = new Set<Permission>();
  for (const scope of input.scopes ?? []) for (const p of GRANTS[`scope:${scope}`] ?? []) granted.add(p);
  for (const role of input.roles ?? []) for (const p of GRANTS[`role:${role}`] ?? []) granted.add(p);
  return granted;
}
