import type { FastifyRequest } from 'fastify';
import * as client from 'openid-client';
import type { LoginTransaction, RelyingParty } from '../oidc/relying-party.ts';

export type FinishedLogin =
  | { kind: 'ok'; claims: client.IDToken; idToken: string }
  /** The provider or its answer turned the login down; `code` is the OAuth or client error code, if any. */
  | { kind: 'rejected'; code: string | undefined; error: unknown }
  | { kind: 'unavailable'; error: unknown };

/** Redeems the code a portal's callback received for the ID token of the login. */
export async function finishLogin(relyingParty: RelyingParty, request: FastifyRequest, transaction: LoginTransaction): Promise<FinishedLogin> {
  let config: client.Configuration;
  try {
    config = await relyingParty.getConfiguration();
  } catch (error) {
    return { kind: 'unavailable', error };
  }
  try {
    const { claims, idToken } = await relyingParty.redeemCode(config, request, transaction);
    return { kind: 'ok', claims, idToken };
  } catch (error) {
    if (error instanceof client.AuthorizationResponseError || error instanceof client.ResponseBodyError || error instanceof client.ClientError) {
      return { kind: 'rejected', code: error instanceof client.ClientError ? error.code : error.error, error };
    }
    return { kind: 'unavailable', error };
  }
}
