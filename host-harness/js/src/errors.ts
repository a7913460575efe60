/** Bad input: a missing file, a malformed scenario, an unknown plugin or action. The CLI exits 2. */
export class UsageError extends Error {}
