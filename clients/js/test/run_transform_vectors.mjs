// Runs tests/vectors/builders/transform.json through transform (unpic's transformer signature). Prints one
// line per failure and a closing "N passed, N failed" line; exits non-zero on any failure.
//   node clients/js/test/run_transform_vectors.mjs [vector file]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { transform, VipsfrontError } from '../vipsfront.mjs';
import { signer } from '../sign.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] || path.resolve(HERE, '..', '..', '..', 'tests', 'vectors', 'builders', 'transform.json');
const doc = JSON.parse(fs.readFileSync(file, 'utf8'));

function options({ base, sign, expires } = {}) {
  const out = {};
  if (base !== undefined) out.base = base;
  if (sign !== undefined) out.signer = signer(sign, doc.keys[sign]);
  if (expires !== undefined) out.expires = expires;
  return out;
}

let passed = 0;
let failed = 0;
for (const c of doc.cases) {
  let got;
  try {
    got = transform(c.src, c.operations, options(c.options));
  } catch (error) {
    if (!(error instanceof VipsfrontError)) throw error;
    got = { error: { param: error.param } };
  }
  if (JSON.stringify(got) === JSON.stringify(c.expect)) passed += 1;
  else {
    failed += 1;
    console.log(`FAIL ${c.name}\n    expected ${JSON.stringify(c.expect)}\n    got      ${JSON.stringify(got)}`);
  }
}
console.log(`transform vectors: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
