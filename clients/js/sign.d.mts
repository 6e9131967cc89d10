import type { Signer } from './vipsfront.mjs';

/** `secret` if it is a string or bytes of 16+ characters, else an Error (the rule of `vipsfront.signing`). */
export function checkSecret(secret: string | Uint8Array): string | Uint8Array;

/** A signer for `url(key, params, {signer})` (Node.js only). */
export function signer(keyId: string, secret: string | Uint8Array): Signer;
