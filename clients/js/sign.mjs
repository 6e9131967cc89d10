// Server-side signing for vipsfront URLs (Node.js): HMAC-SHA256 of the string to sign, base64url,
// as `vipsfront.url.signing` computes it. Never ship a secret to a browser.
import { createHmac } from 'node:crypto';

const MIN_SECRET_CHARS = 16;

/** `secret` if it is a string or bytes of 16+ characters (as `vipsfront.url.signing.check_secret`), else an Error. */
export function checkSecret(secret) {
  const text = typeof secret === 'string';
  if (!text && !(secret instanceof Uint8Array)) {
    const kind = secret === null ? 'null' : Array.isArray(secret) ? 'array' : typeof secret;
    throw new Error(`a signing secret must be a string or bytes, not ${kind}`);
  }
  const length = text ? [...secret].length : secret.length; // characters (code points) or bytes
  if (length < MIN_SECRET_CHARS)
    throw new Error(`a signing secret must have ${MIN_SECRET_CHARS} or more characters (this one has ${length})`);
  return secret;
}

/** A signer for `url(key, params, {signer})`: returns the `s` value `KEYID.SIGNATURE`. */
export function signer(keyId, secret) {
  if (typeof keyId !== 'string' || !/^[A-Za-z0-9_-]{1,32}$/.test(keyId))
    throw new Error('a signing key id must match [A-Za-z0-9_-]{1,32}');
  checkSecret(secret);
  return (message) => `${keyId}.${createHmac('sha256', secret).update(message).digest('base64url')}`;
}
