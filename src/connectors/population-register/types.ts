export type IdentityClaim = { name: string; idNumber: string };

/**
 * A change recorded by the population register that accounts must follow: a death, a corrected ID number, a
 * changed name. `id` is unique and stable, so applying a feed twice changes nothing.
 */
export type RegistryEvent =
  | { id: string; type: 'death'; idNumber: string; occurredAt: string }
  | { id: string; type: 'id_number_change'; idNumber: string; newIdNumber: string; occurredAt: string }
  | { id: string; type: 'name_change'; idNumber: string; newName: string; occurredAt: string };

/** Two-element check: does this name belong to this ID number. The answer never says which element is wrong. */
export type PopulationRegister = {
  name: string;
  verifyIdentity(input: IdentityClaim): Promise<{ match: boolean }>;
  /** The change feed after `cursor` (null: from the start); returns the next cursor. */
  events(cursor: string | null, limit: number): Promise<{ events: RegistryEvent[]; cursor: string | null }>;
};
