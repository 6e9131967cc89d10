// Runs a builder vector file through vipsfront.mjs (and sign.mjs): tests/vectors/builders/urls.json by
// default (the URLs must equal the Python builder's byte for byte), or transform.json (unpic's transformer
// signature: cases with `operations`). Prints one line per failure and a closing "N passed, N failed" line;
// exits non-zero on any failure.   node clients/js/test/run_url_vectors.mjs [vector file]
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { createLoader, loader, sizes, srcset, transform, url, VipsfrontError } from '../vipsfront.mjs';
import { signer } from '../sign.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] || path.resolve(HERE, '..', '..', '..', 'tests', 'vectors', 'builders', 'urls.json');
const doc = JSON.parse(fs.readFileSync(file, 'utf8'));

function options({ base, sign, expires } = {}) {
  const out = {};
  if (base !== undefined) out.base = base;
  if (sign !== undefined) out.signer = signer(sign, doc.keys[sign]);
  if (expires !== undefined) out.expires = expires;
  return out;
}

function run(c) {
  if (c.operations !== undefined) return transform(c.src, c.operations, options(c.options));
  const a = c.args;
  switch (c.fn) {
    case 'url':
      return url(a.key, a.params, options(a.options));
    case 'srcset':
      return srcset(a.key, a.widths, a.params, options(a.options));
    case 'sizes':
      return sizes(a.rules, a.fallback);
    case 'loader': {
      const load = a.options ? createLoader(a.options) : loader;
      return load({ src: a.src, width: a.width, quality: a.quality ?? undefined });
    }
    default:
      throw new Error(`unknown fn ${c.fn}`);
  }
}

let passed = 0;
let failed = 0;
for (const c of doc.cases) {
  let got;
  try {
    got = run(c);
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
console.log(`${path.basename(file)}: ${passed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
