// Builds what deploys: viewer_request.js minified by terser (a root devDependency), the config
// placeholder kept exactly once for the CDK construct to fill. The CDK construct runs this at synth;
// run_vectors.mjs and check_runtime.mjs test its output as well as the source.
//
//   node functions/edge/build.mjs [source]            # the minified code on stdout ('-': source on stdin)
//   node functions/edge/build.mjs [source] --size     # sizes only: source and minified, in bytes
//
// Output stays within what cloudfront-js-2.0 documents: `ecma: 5` keeps terser from introducing
// newer syntax (shorthand properties, arrow conversions, spread); the source's own arrows and
// template literals pass through. `handler` (called by CloudFront) keeps its name, and so do `route`
// and `authorize`, so the vector runner can test them in the minified code too.

import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { minify } from 'terser';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const SOURCE_PATH = path.join(HERE, 'viewer_request.js');
export const TOKEN = '__VIPSFRONT_CONFIG__';
export const KEEP = ['handler', 'route', 'authorize'];

const OPTIONS = {
  module: true, // the file has ES module imports; top-level names are the file's own
  ecma: 5,
  compress: { ecma: 5, passes: 2, top_retain: KEEP },
  mangle: { reserved: KEEP },
  format: { ecma: 5, ascii_only: true, comments: false },
};

/** The minified code of `source` (viewer_request.js by default). */
export async function build(source = fs.readFileSync(SOURCE_PATH, 'utf8')) {
  const { code } = await minify(source, OPTIONS);
  const tokens = code.split(TOKEN).length - 1;
  if (tokens !== 1) throw new Error(`the minified function has the ${TOKEN} placeholder ${tokens} times, not once`);
  for (const name of KEEP) {
    if (!new RegExp(`\\bfunction ${name}\\(`).test(code)) throw new Error(`the minified function lost '${name}'`);
  }
  return code;
}

async function main(args) {
  const file = args.find((a) => !a.startsWith('--'));
  const source = fs.readFileSync(file === '-' ? 0 : file || SOURCE_PATH, 'utf8');
  const code = await build(source);
  if (args.includes('--size')) {
    console.log(`source: ${Buffer.byteLength(source)} bytes; minified: ${Buffer.byteLength(code)} bytes`);
  } else {
    process.stdout.write(code);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    await main(process.argv.slice(2));
  } catch (error) {
    console.error(`build.mjs: ${error.message}`);
    process.exitCode = 1;
  }
}
