// Builds what deploys: viewer_request.js minified by terser (a root devDependency), the config
// placeholder kept exactly once for the CDK construct to fill. The CDK construct runs this at synth;
// run_vectors.mjs and check_runtime.mjs test its output as well as the source.
//
//   node functions/edge/build.mjs [--dialect NAME] [--prefixed]          # the minified code on stdout
//   node functions/edge/build.mjs [--dialect NAME] [--prefixed] --size   # sizes only, in bytes
//   node functions/edge/build.mjs --info [--size]          # info_request.js, the /_vf/info/* function
//   node functions/edge/build.mjs - [--size]               # any source, on stdin
//
// One function per cache behaviour: the native build is viewer_request.js as it stands; `--prefixed`
// (a native function under a path prefix, config `prefix`) strips the prefix; a dialect's build
// (`--dialect imgix`, always prefixed) names the dialect on the file's DIALECT line and appends that
// dialect's parser (dialects/*.js, listed in PARTS). terser folds the constants and drops what the build
// cannot reach: in a dialect's build the native query form and the canonical path form, presets
// expansion, client hints and signatures. The /_vf/info/* behaviour has its own small function,
// info_request.js (`--info`), which keeps `handler` and `rewrite`.
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
export const INFO_SOURCE_PATH = path.join(HERE, 'info_request.js');
export const INFO_KEEP = ['handler', 'rewrite'];
export const DIALECT_LINE = "var DIALECT = 'native', PREFIXED = false, translate = null;";
/** Each dialect's parser files (dialects/NAME.js), in order; `native` is the file as it stands. */
export const PARTS = {
  native: [],
  imgix: ['base', 'imgix'],
  'aws-sample': ['base', 'aws_sample'],
  thumbor: ['base', 'thumbor_path', 'thumbor'],
  imagor: ['base', 'thumbor_path', 'thumbor'],
  dit: ['base', 'thumbor_path', 'dit'],
};

/** terser's options; `keep`: the top-level names that keep their name. */
const options = (keep) => ({
  module: true, // the file has ES module imports; top-level names are the file's own
  ecma: 5,
  compress: { ecma: 5, passes: 2, top_retain: keep },
  mangle: { reserved: keep },
  format: { ecma: 5, ascii_only: true, comments: false },
});

/** The source of `dialect`'s function (under a path prefix when `prefixed`): viewer_request.js, and for
 * a dialect its name and parser. */
export function assemble(dialect = 'native', prefixed = dialect !== 'native') {
  if (!Object.hasOwn(PARTS, dialect)) throw new Error(`no dialect '${dialect}' (one of: ${Object.keys(PARTS).join(', ')})`);
  const source = fs.readFileSync(SOURCE_PATH, 'utf8');
  if (dialect === 'native' && !prefixed) return source;
  if (source.split(DIALECT_LINE).length !== 2) throw new Error(`viewer_request.js must have the line ${DIALECT_LINE} once`);
  const line = `var DIALECT = ${JSON.stringify(dialect)}, PREFIXED = ${prefixed}${dialect === 'native' ? ', translate = null' : ''};`;
  const parsers = PARTS[dialect].map((part) => fs.readFileSync(path.join(HERE, 'dialects', `${part}.js`), 'utf8'));
  return [source.replace(DIALECT_LINE, () => line), ...parsers].join('\n');
}

/** The minified code of `source` (the native function by default), `keep` keeping their names. */
export async function build(source = assemble(), keep = KEEP) {
  const { code } = await minify(source, options(keep));
  const tokens = code.split(TOKEN).length - 1;
  if (tokens !== 1) throw new Error(`the minified function has the ${TOKEN} placeholder ${tokens} times, not once`);
  for (const name of keep) {
    if (!new RegExp(`\\bfunction ${name}\\(`).test(code)) throw new Error(`the minified function lost '${name}'`);
  }
  return code;
}

async function main(args) {
  const at = args.indexOf('--dialect');
  const dialect = at < 0 ? 'native' : args[at + 1];
  const info = args.includes('--info');
  if (info && at >= 0) throw new Error('--info is its own function: no --dialect');
  const source = args.includes('-')
    ? fs.readFileSync(0, 'utf8')
    : info
      ? fs.readFileSync(INFO_SOURCE_PATH, 'utf8')
      : assemble(dialect, dialect !== 'native' || args.includes('--prefixed'));
  const code = await build(source, info ? INFO_KEEP : KEEP);
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
