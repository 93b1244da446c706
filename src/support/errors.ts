/** The `code` of a Node system error (ENOENT, EADDRINUSE...), or '' for anything else. */
export function errorCode(error: unknown): string {
  if (typeof error !== 'object' || error === null || !('code' in error)) return '';
  return typeof error.code === 'string' || typeof error.code === 'number' ? String(error.code) : '';
}

/** Why a file or directory could not be read, for an admin. */
export function describeFsError(error: unknown): string {
  switch (errorCode(error)) {
    case 'ENOENT':
      return 'it does not exist';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied; make it readable by the user keepd runs as';
    case 'EISDIR':
      return 'it is a directory, not a file';
    case 'ENOTDIR':
      return 'it is not a directory';
    default:
      return error instanceof Error ? error.message : String(error);
  }
}
