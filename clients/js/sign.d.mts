import type { Signer } from './vipsfront.mjs';

/** A signer for `url(key, params, {signer})` (Node.js only). */
export function signer(keyId: string, secret: string): Signer;
