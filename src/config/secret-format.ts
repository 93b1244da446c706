/**
 * The text form of the product's salted secrets, `HEX(hash):HEX(salt)`: the configuration
 * validates it, accounts/secret.ts parses and derives it. Either case on input, upper on output.
 */
export const SECRET_PATTERN = /^[0-9A-Fa-f]{64}:[0-9A-Fa-f]{128}$/;
export const SECRET_FORMAT_HINT = 'a salted secret HASH:SALT (64 hex digits, a colon, 128 hex digits), as made by `keepd salt`';
