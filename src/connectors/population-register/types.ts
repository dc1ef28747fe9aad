export type IdentityClaim = { name: string; idNumber: string };

/** Two-element check: does this name belong to this ID number. The answer never says which element is wrong. */
export type PopulationRegister = {
  name: string;
  verifyIdentity(input: IdentityClaim): Promise<{ match: boolean }>;
};
