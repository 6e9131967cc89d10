// The signing-secret rule of sign.mjs on the cases given as JSON on stdin ([{kind, value}], kind one of
// string, bytes (hex), number, null); prints [message or null] as JSON, for tests/unit/test_secret_rule.py.
import fs from 'node:fs';
import { checkSecret, signer } from '../sign.mjs';

const cases = JSON.parse(fs.readFileSync(0, 'utf8'));
const value = ({ kind, value }) => (kind === 'bytes' ? new Uint8Array(Buffer.from(value, 'hex')) : value);
const results = cases.map((c) => {
  try {
    checkSecret(value(c));
    signer('k1', value(c))('/a.jpg?w=1');
    return null;
  } catch (error) {
    return error.message;
  }
});
process.stdout.write(JSON.stringify(results));
