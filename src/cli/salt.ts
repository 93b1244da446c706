import { createSecret, parseSecret, verifyPassword } from '../accounts/secret.js';
import { EXIT, type CliContext } from './context.js';
import { readNewPassword, readPassword } from './read-password.js';

/** `keepd salt`: a password from stdin to a new salted secret on stdout. */
export async function saltCommand(ctx: CliContext): Promise<number> {
  const password = await readNewPassword();
  if (password === '') {
    ctx.stderr('keepd salt: refusing an empty password\n');
    return EXIT.usage;
  }
  ctx.stdout(`${await createSecret(password)}\n`);
  return EXIT.ok;
}

/** `keepd verify SECRET`: exit 0 when the password on stdin matches, 1 when not, 2 when SECRET is malformed. */
export async function verifyCommand(ctx: CliContext, secretText: string | undefined): Promise<number> {
  if (secretText === undefined) {
    ctx.stderr('keepd verify: give the secret to check, e.g. keepd verify HASH:SALT < password.txt\n');
    return EXIT.usage;
  }
  const secret = parseSecret(secretText.trim());
  if (!secret) {
    ctx.stderr(`keepd verify: malformed secret (${secretText.length} characters): expected 64 hex digits, a colon, 128 hex digits\n`);
    return EXIT.usage;
  }
  const matches = await verifyPassword(secret, await readPassword('Password: '));
  ctx.stdout(matches ? 'match\n' : 'no match\n');
  return matches ? EXIT.ok : EXIT.failed;
}
