// Server-side signing for vipsfront URLs (Node.js): HMAC-SHA256 of the string to sign, base64url,
// as `vipsfront.signing` computes it. Never ship a secret to a browser.
import { createHmac } from 'node:crypto';

/** A signer for `url(key, params, {signer})`: returns the `s` value `KEYID.SIGNATURE`. */
export function signer(keyId, secret) {
  if (!/^[A-Za-z0-9_-]{1,32}$/.test(keyId)) throw new Error('key id must match [A-Za-z0-9_-]{1,32}');
  if (String(secret).length < 16) throw new Error('a signing secret has 16 or more characters');
  return (message) => `${keyId}.${createHmac('sha256', secret).update(message).digest('base64url')}`;
}
