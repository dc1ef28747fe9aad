import { randomBytes } from 'node:crypto';
import type { AdapterPayload } from 'oidc-provider';
import type { Database } from '../../db/database.ts';
import type { DataProtector } from '../../identity/data-protection.ts';
import { AppError, conflict, notFound } from '../../http/errors.ts';
import { createClientRepository } from './repository.ts';

export type ClientMetadata = Record<string, unknown> & { client_id: string; client_secret?: string };

/** Scopes a client gets unless an admin grants more; `id_number` is never a default. */
export const DEFAULT_CLIENT_SCOPE = 'openid profile phone offline_access';

const SECRET_CONTEXT = 'oidc_clients.client_secret';
const CACHE_MS = 2000;

/**
 * Relying-party registrations, managed by admins only (no open dynamic registration). Metadata is
 * validated by oidc-provider's own client schema (`validate`) so what we store is what it accepts.
 * Secrets are generated here, shown once, and stored encrypted.
 */
export function createClientService(deps: {
  db: Database;
  protector: DataProtector;
  validate: (metadata: Record<string, unknown>) => Promise<void>;
}) {
  const repo = createClientRepository(deps.db);
  // Each token request looks its client up; a short cache keeps that off the database. Changes made on
  // another node are seen within CACHE_MS.
  const cache = new Map<string, { at: number; value: AdapterPayload | undefined }>();

  const decryptSecret = (metadata: Record<string, unknown>): ClientMetadata => {
    const { client_secret_enc: enc, ...rest } = metadata as Record<string, unknown> & { client_secret_enc?: string };
    return { ...rest, ...(enc ? { client_secret: deps.protector.decrypt(enc, SECRET_CONTEXT) } : {}) } as ClientMetadata;
  };
  const encryptSecret = (metadata: ClientMetadata): Record<string, unknown> => {
    const { client_secret: secret, ...rest } = metadata;
    return { ...rest, ...(secret ? { client_secret_enc: deps.protector.encrypt(secret, SECRET_CONTEXT) } : {}) };
  };
  const publicView = (metadata: ClientMetadata) => {
    const { client_secret: _secret, ...rest } = metadata;
    return rest;
  };

  async function validate(metadata: ClientMetadata) {
    try {
      await deps.validate(metadata);
    } catch (error) {
      const e = error as { error?: string; error_description?: string; message?: string };
      throw new AppError('invalid_client_metadata', e.error_description ?? e.message ?? 'invalid client metadata', { status: 400 });
    }
  }

  return {
    async find(clientId: string): Promise<AdapterPayload | undefined> {
      const hit = cache.get(clientId);
      if (hit && Date.now() - hit.at < CACHE_MS) return hit.value;
      const row = await repo.find(clientId);
      const value = row ? (decryptSecret(row.metadata) as AdapterPayload) : undefined;
      cache.set(clientId, { at: Date.now(), value });
      return value;
    },

    async list() {
      return (await repo.list()).map((row) => ({ ...publicView(decryptSecret(row.metadata)), created_at: row.created_at, updated_at: row.updated_at }));
    },

    async get(clientId: string) {
      const row = await repo.find(clientId);
      if (!row) throw notFound(`No client "${clientId}".`);
      return publicView(decryptSecret(row.metadata));
    },

    /** Returns the metadata including the generated secret: the only time the secret is shown. */
    async create(input: Record<string, unknown>, options: { clientSecret?: string } = {}): Promise<ClientMetadata> {
      const clientId = typeof input.client_id === 'string' && input.client_id ? input.client_id : `rp-${randomBytes(9).toString('base64url')}`;
      const metadata: ClientMetadata = { scope: DEFAULT_CLIENT_SCOPE, ...input, client_id: clientId };
      if (metadata.token_endpoint_auth_method !== 'none' && metadata.token_endpoint_auth_method !== 'private_key_jwt') {
        metadata.client_secret = options.clientSecret ?? randomBytes(32).toString('base64url');
      }
      await validate(metadata);
      if (!(await repo.insert(clientId, encryptSecret(metadata)))) throw conflict(`A client "${clientId}" already exists.`);
      cache.delete(clientId);
      return metadata;
    },

    /** Replaces the metadata (the secret is kept unless `rotateSecret`). Returns the new secret when rotated. */
    async update(clientId: string, input: Record<string, unknown>, options: { rotateSecret?: boolean } = {}) {
      const row = await repo.find(clientId);
      if (!row) throw notFound(`No client "${clientId}".`);
      const current = decryptSecret(row.metadata);
      const metadata: ClientMetadata = { scope: DEFAULT_CLIENT_SCOPE, ...input, client_id: clientId };
      if (metadata.token_endpoint_auth_method !== 'none' && metadata.token_endpoint_auth_method !== 'private_key_jwt') {
        metadata.client_secret = options.rotateSecret || !current.client_secret ? randomBytes(32).toString('base64url') : current.client_secret;
      }
      await validate(metadata);
      await repo.update(clientId, encryptSecret(metadata));
      cache.delete(clientId);
      return { before: publicView(current), after: options.rotateSecret ? metadata : publicView(metadata) };
    },

    async delete(clientId: string) {
      if (!(await repo.delete(clientId))) throw notFound(`No client "${clientId}".`);
      cache.delete(clientId);
    },
  };
}

export type ClientService = ReturnType<typeof createClientService>;
