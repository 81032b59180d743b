/** Node names: safe as a file-name part on every share, unique ignoring case (SMB is case-insensitive). */
export const NODE_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$/;

export function isValidNodeName(name: string): boolean {
  return NODE_NAME_PATTERN.test(name);
}

/** How two node names are compared: SMB file names ignore case. */
export function nodeKey(name: string): string {
  return name.toLowerCase();
}

export const DEFAULT_SELF_NAME = "clawbridge";
