/**
 * The `typ` header of each token kind we sign (RFC 8725 §3.11: explicit typing). Verifiers
 * require the exact value, so a token of one kind can never be replayed as another.
 */
export const CAPABILITY_TYP = 'tessera-cap+jwt';
export const CALL_CREDENTIAL_TYP = 'tessera-call+jwt';
export const PROOF_TYP = 'tessera-pop+jwt';
export const TREE_HEAD_TYP = 'tessera-tree-head+jws';
