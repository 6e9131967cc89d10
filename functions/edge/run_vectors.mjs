// Runs every case in tests/vectors/*.json through viewer_request.js under node, the way CloudFront would
// run it, and every case in tests/vectors/dialects/*.json through the function of the cache behaviour
// CloudFront would pick for its path (`behaviour`: the native build for */_vf/*, else the longest
// prefix's dialect build, else the default's), the twin through the native build to the same URI: the config placeholder replaced as the CDK construct does, `cloudfront` and `crypto` provided to
// the file's imports, strict mode. Each case goes through the pure `route` + `authorize` (compared field
// by field) and through `handler` end to end, with and without `rawQueryString()`, client hints as
// request headers. Then a few handler-only checks. All of it twice: on the source and on its minified
// build (build.mjs), which is what deploys. Prints failures and a summary; exits non-zero on any failure.
//
//   node functions/edge/run_vectors.mjs [vector files or directories; default tests/vectors and
//                                        tests/vectors/dialects]
// tests/vectors/info/*.json (by default, or a directory named `info`) go through info_request.js, the
// /_vf/info/* behaviour's function: `rewrite` (key and uri, or the error) and `handler`, source and build.
// A file whose config has `dialects` (path prefix -> dialect) runs each case through its behaviour's build.
//
// A case may carry "fallback": false when CloudFront's parsed querystring object cannot represent its
// query (order across duplicated names, empty pieces): the object-only handler run is then skipped.
// A case with "hints" ({"width", "dpr"}: Sec-CH-Width / Sec-CH-DPR values) sends them; without, none.

import crypto from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import vm from 'node:vm';
import * as acorn from 'acorn';
import { assemble, build, INFO_KEEP, INFO_SOURCE_PATH, TOKEN } from './build.mjs';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const VECTORS = path.resolve(HERE, '..', '..', 'tests', 'vectors');
const SOURCE = assemble();
const MINIFIED = await build(SOURCE);
const BUDGET = 9728; // the CDK construct's size guard, CODE_BUDGET_BYTES (bytes, config included)
const VARIANTS = [
  ['source', SOURCE],
  ['minified', MINIFIED],
];
const INFO_SOURCE = fs.readFileSync(INFO_SOURCE_PATH, 'utf8');
const INFO_VARIANTS = [
  ['source', INFO_SOURCE],
  ['minified', await build(INFO_SOURCE, INFO_KEEP)],
];
const CANONICAL = '*/_vf/*'; // the canonical path form: always the native build, before any prefix

/** Each build's source and minified code, built once. */
const builds = new Map();
async function codeOf(dialect, prefixed) {
  const key = `${dialect} ${prefixed}`;
  if (!builds.has(key)) {
    const source = assemble(dialect, prefixed);
    builds.set(key, { source, minified: await build(source) });
  }
  return builds.get(key);
}

/** One dialect entry of VIPSFRONT_DIALECTS as the function's config carries it (no secret). */
const dialectOptions = (value) => {
  const entry = typeof value === 'string' ? { dialect: value } : value;
  return { name: entry.dialect, buckets: entry.buckets || {} };
};

/**
 * The cache behaviours the CDK construct makes for a dialects setting, in CloudFront's order: the
 * canonical path form, each prefix other than '/' (longest first) as `{prefix}*`, the default ('*').
 */
export function behaviours(dialects) {
  const prefixes = Object.keys(dialects).filter((p) => p !== '/').sort((a, b) => b.length - a.length);
  return [
    { pattern: CANONICAL, prefix: '/', dialect: { name: 'native', buckets: {} } },
    ...prefixes.map((p) => ({ pattern: `${p}*`, prefix: p, dialect: dialectOptions(dialects[p]) })),
    { pattern: '*', prefix: '/', dialect: dialectOptions(dialects['/'] || 'native') },
  ];
}

/** CloudFront's path pattern match: `*` any run of characters, `?` one, case-sensitive. */
const matches = (pattern, uri) =>
  new RegExp(`^${pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.')}$`).test(uri);

/** The behaviour CloudFront picks for `uri`: the first whose pattern matches. */
export const behaviourFor = (dialects, uri) => behaviours(dialects).find((b) => matches(b.pattern, uri));

/** `import x from 'm';` as `var x = require('m');`, for vm (which runs scripts); nothing else changes. */
function importsToRequire(code) {
  const ast = acorn.parse(code, { ecmaVersion: 2022, sourceType: 'module' });
  let out = '';
  let at = 0;
  for (const node of ast.body) {
    if (node.type !== 'ImportDeclaration') continue;
    const [spec] = node.specifiers;
    if (node.specifiers.length !== 1 || spec.type !== 'ImportDefaultSpecifier') throw new Error('only default imports');
    out += code.slice(at, node.start) + `var ${spec.local.name}=require(${JSON.stringify(node.source.value)});`;
    at = node.end;
  }
  return out + code.slice(at);
}

/** A KeyValueStore stub: `key:<kid>` -> secret; `get` rejects for a missing key, like the real one. */
export function stubStore(entries, { broken = false } = {}) {
  const data = new Map(Object.entries(entries));
  return {
    async get(key) {
      if (broken) throw new Error('KeyValueStore unavailable');
      if (!data.has(key)) throw new Error(`Key ${key} not found`);
      return data.get(key);
    },
  };
}

/**
 * Load the function as CloudFront would, with `config` in place of the placeholder.
 * Only the ES module import lines are mapped (to the sandbox's module table); the rest of the file runs
 * as written. Returns the sandbox's globals (`handler`, `route`, ...) and the ids passed to `cf.kvs()`.
 */
export function load(config, { store = stubStore({}), now = Date.now() / 1000, code: source = SOURCE } = {}) {
  if (source.split(TOKEN).length !== 2) throw new Error(`${TOKEN} must appear exactly once`);
  const kvsCalls = [];
  const modules = {
    crypto,
    cloudfront: {
      kvs: (...args) => {
        kvsCalls.push(args);
        return store;
      },
    },
  };
  const code = importsToRequire(source.replace(TOKEN, () => JSON.stringify(config)));
  const sandbox = {
    require(name) {
      if (!Object.hasOwn(modules, name)) throw new Error(`module '${name}' is not available in CloudFront Functions`);
      return modules[name];
    },
    Date: { now: () => now * 1000 },
    atob,
    console,
  };
  vm.createContext(sandbox);
  vm.runInContext(`'use strict';\n${code}`, sandbox, { filename: 'viewer_request.js' });
  sandbox.kvsCalls = kvsCalls;
  return sandbox;
}

/** The query string as CloudFront parses it into `event.request.querystring` (values still encoded). */
export function cloudfrontQuerystring(query) {
  const qs = {};
  for (const piece of query.split('&')) {
    if (!piece) continue;
    const i = piece.indexOf('=');
    const name = i < 0 ? piece : piece.slice(0, i);
    const value = i < 0 ? '' : piece.slice(i + 1);
    if (!Object.hasOwn(qs, name)) qs[name] = { value };
    else {
      const entry = qs[name];
      entry.multiValue = entry.multiValue || [{ value: entry.value }];
      entry.multiValue.push({ value });
    }
  }
  return qs;
}

/** A viewer-request event; `raw` gives the request a rawQueryString() helper, as CloudFront now does. */
export function makeEvent(url, accept, { raw = true, hints = null } = {}) {
  const q = url.indexOf('?');
  const uri = q < 0 ? url : url.slice(0, q);
  const query = q < 0 ? undefined : url.slice(q + 1);
  const request = {
    method: 'GET',
    uri,
    querystring: cloudfrontQuerystring(query || ''),
    headers: { host: { value: 'cdn.example.com' } },
    cookies: {},
  };
  if (accept != null) request.headers.accept = { value: accept };
  if (hints && hints.width != null) request.headers['sec-ch-width'] = { value: hints.width };
  if (hints && hints.dpr != null) request.headers['sec-ch-dpr'] = { value: hints.dpr };
  if (raw) request.rawQueryString = () => query;
  return { version: '1.0', context: { eventType: 'viewer-request' }, viewer: { ip: '192.0.2.1' }, request };
}

/** The function's config for a vector file's config, in the shape the CDK construct renders. */
export function configFor(vectorConfig, kvsId = '') {
  const u = vectorConfig.unsigned || {};
  return {
    kvsId,
    presets: vectorConfig.presets,
    prefixes: vectorConfig.prefixes ?? null,
    // a missing entry means no limit, as in Policy.from_config; params, full_size, originals as given
    unsigned: { ...u, widths: u.widths ?? null, heights: u.heights ?? null, max_side: u.max_side ?? null, presets_only: Boolean(u.presets_only) },
    signed: Object.keys(vectorConfig.keys).length > 0,
  };
}

const storeFor = (keys) => stubStore(Object.fromEntries(Object.entries(keys).map(([k, v]) => [`key:${k}`, v])));
const plain = (value) => JSON.parse(JSON.stringify(value));
const show = (value) => JSON.stringify(value);

async function settle(run) {
  try {
    return { ok: plain(await run()) };
  } catch (error) {
    if (error && error.status) return { error: { status: error.status, param: error.param } };
    return { crash: String((error && error.stack) || error) };
  }
}

function checkRoute(expect, got) {
  if (got.crash) return `crashed: ${got.crash}`;
  if (expect.error) {
    if (!got.error) return `expected error ${show(expect.error)}, got ${show(got.ok)}`;
    if (got.error.status !== expect.error.status || got.error.param !== expect.error.param)
      return `expected error ${show(expect.error)}, got ${show(got.error)}`;
    return null;
  }
  if (got.error) return `expected ${show(expect)}, got error ${show(got.error)}`;
  // route also returns the signature for the handler's headers; the vectors check what both sides return
  const ok = Object.fromEntries(Object.keys(expect).map((k) => [k, got.ok[k]]));
  return show(ok) === show(expect) ? null : `expected ${show(expect)}, got ${show(got.ok)}`;
}

function checkResponse(expect, out, how, url) {
  if (expect.error) {
    if (!out || out.statusCode !== expect.error.status) return `${how}: expected a ${expect.error.status} response, got ${show(out)}`;
    const body = JSON.parse(out.body.data);
    if (body.param !== expect.error.param) return `${how}: expected param ${show(expect.error.param)}, got ${show(body.param)}`;
    return null;
  }
  if (!out || out.statusCode !== undefined) return `${how}: expected the rewritten request, got ${show(out)}`;
  if (out.uri !== expect.uri) return `${how}: expected uri ${expect.uri}, got ${out.uri}`;
  if (show(out.querystring) !== '{}') return `${how}: querystring not emptied: ${show(out.querystring)}`;
  const signature = new URLSearchParams(url.split('?')[1] || '').get('s');
  const sent = out.headers['x-vipsfront-signature'];
  if ((sent && sent.value) !== (signature || undefined)) return `${how}: signature header ${show(sent)} for s=${signature}`;
  return null;
}

/** Every *.json vector file in `paths` (directories or files), sorted by name. */
function vectorFiles(paths) {
  return paths
    .flatMap((p) =>
      fs.statSync(p).isDirectory()
        ? fs.readdirSync(p).filter((f) => f.endsWith('.json')).sort().map((f) => path.join(p, f))
        : [p]
    );
}

async function runVectors(paths, failures) {
  let cases = 0;
  for (const file of vectorFiles(paths)) {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    const vc = doc.config;
    const config = configFor(vc);
    const lookup = (kid) => (Object.hasOwn(vc.keys, kid) ? vc.keys[kid] : null);
    for (const variant of ['source', 'minified']) {
      const loaded = new Map();
      const functionFor = async (url) => {
        const b = vc.dialects ? behaviourFor(vc.dialects, url.split('?')[0]) : { prefix: '/', dialect: { name: 'native' } };
        const key = `${b.pattern}`;
        if (!loaded.has(key)) {
          const prefixed = b.prefix !== '/';
          const code = (await codeOf(b.dialect.name, b.dialect.name !== 'native' || prefixed))[variant];
          const cfg = { ...config, ...(prefixed && { prefix: b.prefix }), ...(b.dialect.name !== 'native' && { dialect: b.dialect }) };
          loaded.set(key, { fn: load(cfg, { store: storeFor(vc.keys), now: vc.now, code }), cfg });
        }
        return loaded.get(key);
      };
      for (const c of doc.cases) {
        if (variant === 'source') cases += 1;
        const { fn, cfg: fnConfig } = await functionFor(c.url);
        const q = c.url.indexOf('?');
        const uri = q < 0 ? c.url : c.url.slice(0, q);
        const query = q < 0 ? '' : c.url.slice(q + 1);
        const hints = c.hints ? { width: c.hints.width ?? null, dpr: c.hints.dpr ?? null } : null;
        const problems = [];
        // 1. route + authorize on the raw query: key, canonical, variant_key, uri, vary_accept
        const got = await settle(() => {
          const v = fn.route(uri, query, c.accept, fnConfig, hints);
          fn.authorize(v, fnConfig, v.kid == null ? null : lookup(v.kid), vc.now);
          return v;
        });
        problems.push(checkRoute(c.expect, got));
        // 2. the handler end to end: event in, rewritten request or response out (KeyValueStore stub, clock)
        for (const raw of c.fallback === false ? [true] : [true, false]) {
          const out = await settle(() => fn.handler(makeEvent(c.url, c.accept, { raw, hints })));
          const how = raw ? 'handler' : 'handler, querystring object only';
          problems.push(out.crash ? `${how} crashed: ${out.crash}` : out.error ? `${how} threw ${show(out.error)}` : checkResponse(c.expect, out.ok, how, c.url));
        }
        // 3. a dialect URL's native twin names the same variant
        if (c.twin) {
          const { fn: native } = await functionFor('/_vf/');
          const out = await settle(() => native.route(...c.twin.split('?').concat('').slice(0, 2), c.accept, config, null));
          if (!out.ok || out.ok.uri !== c.expect.uri) problems.push(`twin ${c.twin}: expected uri ${c.expect.uri}, got ${show(out.ok || out.error || out.crash)}`);
        }
        const found = problems.filter(Boolean);
        if (found.length) {
          failures.push(`${path.basename(file, '.json')} (${variant}): ${c.name}\n    url: ${c.url}  accept: ${show(c.accept)}  hints: ${show(c.hints)}\n    ${found.join('\n    ')}`);
        }
      }
    }
  }
  return cases;
}

/** Each case of the info vector files in `paths` through info_request.js: `rewrite`, then `handler`. */
async function runInfoVectors(paths, failures) {
  let cases = 0;
  for (const file of vectorFiles(paths)) {
    const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
    const config = configFor(doc.config);
    for (const [variant, code] of INFO_VARIANTS) {
      const fn = load(config, { now: doc.config.now, code });
      for (const c of doc.cases) {
        if (variant === 'source') cases += 1;
        const problems = [checkRoute(c.expect, await settle(() => fn.rewrite(c.url.split('?')[0], config)))];
        const out = await settle(() => fn.handler(makeEvent(c.url, null)));
        problems.push(out.crash ? `handler crashed: ${out.crash}` : out.error ? `handler threw ${show(out.error)}` : checkResponse(c.expect, out.ok, 'handler', c.url));
        const found = problems.filter(Boolean);
        if (found.length) failures.push(`info/${path.basename(file, '.json')} (${variant}): ${c.name}\n    url: ${c.url}\n    ${found.join('\n    ')}`);
      }
    }
  }
  return cases;
}

// The info function beyond the vectors: what it keeps of the request, the policy's forms, its size.
async function runInfoHandlerChecks(failures, variant, code) {
  const config = { prefixes: null, unsigned: { info: true }, signed: true };
  const checks = [];
  const check = (name, fn) => checks.push([name, fn]);
  check('rewrites the uri to the origin form, empties the query, keeps the rest of the request', async () => {
    const fn = load(config, { code });
    const event = makeEvent('/_vf/info/photos/my%20cat+1.jpg?x=1', 'application/json');
    const out = fn.handler(event);
    assert(out === event.request, 'returns the request object');
    eq(out.uri, '/photos/my~20cat~2B1.jpg/_vf/info');
    eq(show(out.querystring), '{}');
    eq(out.method, 'GET');
    eq(out.headers.host.value, 'cdn.example.com');
    eq(out.headers.accept.value, 'application/json');
  });
  check('error response shape, as the native function answers', async () => {
    const fn = load({ ...config, unsigned: { info: false } }, { code });
    const out = fn.handler(makeEvent('/_vf/info/photos/cat.jpg'));
    eq(out.statusCode, 403);
    eq(out.statusDescription, 'Forbidden');
    eq(out.headers['content-type'].value, 'application/json');
    eq(out.headers['cache-control'].value, 'public, max-age=60');
    eq(out.body.encoding, 'text');
    eq(out.body.data, show({ error: 'image info is not served', code: 'forbidden', param: null }));
    eq(JSON.parse(fn.handler(makeEvent('/_vf/info/a//b.jpg')).body.data).code, 'invalid_key');
  });
  check('without signing keys info is served, whatever the switch (Policy.authorize_info)', async () => {
    const fn = load({ ...config, unsigned: { info: false }, signed: false }, { code });
    eq(fn.handler(makeEvent('/_vf/info/photos/cat.jpg')).uri, '/photos/cat.jpg/_vf/info');
  });
  check('within the published prefixes it is rewritten; outside, 404', async () => {
    const fn = load({ ...config, prefixes: ['photos/'] }, { code });
    eq(fn.handler(makeEvent('/_vf/info/photos/caf%C3%A9.jpg')).uri, '/photos/caf~C3~A9.jpg/_vf/info');
    const out = fn.handler(makeEvent('/_vf/info/other/cat.jpg'));
    eq(out.statusCode, 404);
    eq(out.statusDescription, 'Not Found');
  });
  check(`the rendered function stays under the ${BUDGET}-byte budget`, async () => {
    const size = Buffer.byteLength(code.replace(TOKEN, () => JSON.stringify({ ...config, prefixes: ['a/', 'b/'] })));
    assert(size <= BUDGET, `${size} bytes`);
  });
  for (const [name, fn] of checks) {
    try {
      await fn();
    } catch (error) {
      failures.push(`info handler (${variant}): ${name}\n    ${error.message}`);
    }
  }
  return checks.length;
}

// Handler behaviour beyond the vectors: response shape, pass-through, KeyValueStore wiring, config forms.
async function runHandlerChecks(failures, variant, code) {
  const presets = { thumb: { w: '200', h: '200', fm: 'webp', q: '70' } };
  const keys = { k1: 'k1secret-0123456789abcdef' };
  const signedConfig = {
    kvsId: 'a1b2c3d4-0000-4000-8000-000000000001',
    presets,
    unsigned: { widths: [320, 640, 1280], heights: [], max_side: null, presets_only: false },
    signed: true,
  };
  const now = 1790000000;
  const checks = [];
  const check = (name, fn) => checks.push([name, fn]);
  const sig = (fn, message) => 'k1.' + crypto.createHmac('sha256', keys.k1).update(message).digest('base64url');

  check('rewrites the uri, empties the query, keeps the rest of the request', async () => {
    const fn = load(signedConfig, { store: storeFor(keys), now, code });
    const event = makeEvent('/photos/cat.jpg?w=640&fm=auto', 'image/webp,*/*');
    const out = await fn.handler(event);
    assert(out === event.request, 'returns the request object');
    eq(out.uri, '/photos/cat.jpg/_vf/w=640,fm=auto-webp');
    eq(show(out.querystring), '{}');
    eq(out.method, 'GET');
    eq(out.headers.host.value, 'cdn.example.com');
  });
  check('error response shape', async () => {
    const fn = load(signedConfig, { store: storeFor(keys), now, code });
    const out = await fn.handler(makeEvent('/photos/cat.jpg?w=abc'));
    eq(out.statusCode, 400);
    eq(out.statusDescription, 'Bad Request');
    eq(out.headers['content-type'].value, 'application/json');
    eq(out.headers['cache-control'].value, 'public, max-age=60');
    eq(out.body.encoding, 'text');
    eq(out.body.data, show({ error: 'w must be a whole number from 1 to 8192', code: 'invalid_spec', param: 'w' }));
    const key = await fn.handler(makeEvent('/photos//cat.jpg'));
    eq(JSON.parse(key.body.data).code, 'invalid_key');
    const denied = await fn.handler(makeEvent('/photos/cat.jpg?w=641'));
    eq(denied.statusCode, 403);
    eq(denied.statusDescription, 'Forbidden');
    eq(denied.body.data, show({ error: 'w=641 needs a signed URL (nearest unsigned: 640, 1280)', code: 'forbidden', param: 's' }));
  });
  check('reserved /_vf/ paths pass through unchanged', async () => {
    const fn = load(signedConfig, { store: storeFor(keys), now, code });
    for (const url of ['/_vf/health', '/_vf/info/photos/cat.jpg?x=1', '/_vf/demo']) {
      const event = makeEvent(url);
      const before = show(event.request);
      const out = await fn.handler(event);
      eq(show(out), before);
    }
  });
  check('signing keys come from the KeyValueStore as key:<kid>, with the configured id', async () => {
    const fn = load(signedConfig, { store: storeFor(keys), now, code });
    const s = sig(fn, '/photos/caf%C3%A9.jpg?w=641,h=100');
    const out = await fn.handler(makeEvent(`/photos/caf%C3%A9.jpg?h=100&w=641&s=${s}`));
    eq(out.uri, '/photos/caf~C3~A9.jpg/_vf/w=641,h=100');
    eq(show(fn.kvsCalls), show([[signedConfig.kvsId]]));
  });
  check('without a kvsId the associated store is used (cf.kvs())', async () => {
    const fn = load({ ...signedConfig, kvsId: '' }, { store: storeFor(keys), now, code });
    const out = await fn.handler(makeEvent(`/a.jpg?w=641&s=${sig(fn, '/a.jpg?w=641')}`));
    eq(out.uri, '/a.jpg/_vf/w=641');
    eq(show(fn.kvsCalls), '[[]]');
  });
  check('an unreachable KeyValueStore fails closed (403)', async () => {
    const fn = load(signedConfig, { store: stubStore({}, { broken: true }), now, code });
    const out = await fn.handler(makeEvent(`/a.jpg?w=641&s=${sig(fn, '/a.jpg?w=641')}`));
    eq(out.statusCode, 403);
    eq(JSON.parse(out.body.data).param, 's');
  });
  check('unsigned mode never reads the KeyValueStore', async () => {
    const fn = load({ ...signedConfig, signed: false }, { store: stubStore({}, { broken: true }), now, code });
    const out = await fn.handler(makeEvent('/a.jpg?w=641&h=5&s=k1.' + 'A'.repeat(43)));
    eq(out.uri, '/a.jpg/_vf/w=641,h=5');
    eq(fn.kvsCalls.length, 0);
  });
  check('expiry uses the clock', async () => {
    const message = '/a.jpg?w=641&exp=1790000100';
    const early = load(signedConfig, { store: storeFor(keys), now: 1790000000, code });
    const url = `/a.jpg?w=641&exp=1790000100&s=${sig(early, message)}`;
    eq((await early.handler(makeEvent(url))).uri, '/a.jpg/_vf/w=641');
    const late = load(signedConfig, { store: storeFor(keys), now: 1790000101, code });
    eq(JSON.parse((await late.handler(makeEvent(url))).body.data).param, 'exp');
  });
  check('without rawQueryString() (or empty, as in the console) the parsed querystring is used', async () => {
    const fn = load(signedConfig, { store: storeFor(keys), now, code });
    const event = makeEvent('/a.jpg?w=640&fm=jpg', null, { raw: false });
    eq((await fn.handler(event)).uri, '/a.jpg/_vf/w=640,fm=jpeg');
    const dup = makeEvent('/a.jpg?w=640&w=320', null);
    dup.request.rawQueryString = () => '';
    eq(JSON.parse((await fn.handler(dup)).body.data).param, 'w');
  });
  check('Accept is read from the accept header only', async () => {
    const fn = load(signedConfig, { store: storeFor(keys), now, code });
    eq((await fn.handler(makeEvent('/a.jpg?w=640&fm=auto', 'image/avif,image/webp'))).uri, '/a.jpg/_vf/w=640,fm=auto-avif-webp');
    eq((await fn.handler(makeEvent('/a.jpg?w=640&fm=auto'))).uri, '/a.jpg/_vf/w=640,fm=auto');
  });
  check('the deployed policy: breakpoint widths and presets only', async () => {
    const deployed = { kvsId: '', presets, unsigned: { widths: [320, 640], heights: [], max_side: 8192, presets_only: false }, signed: true };
    const fn = load(deployed, { store: storeFor(keys), now, code });
    eq((await fn.handler(makeEvent('/a.jpg?w=640'))).uri, '/a.jpg/_vf/w=640');
    eq((await fn.handler(makeEvent('/a.jpg?p=thumb'))).uri, '/a.jpg/_vf/w=200,h=200,fm=webp,q=70');
    eq((await fn.handler(makeEvent('/a.jpg?w=641'))).statusCode, 403);
    eq((await fn.handler(makeEvent('/a.jpg?w=640&h=480'))).statusCode, 403);
  });
  check('client hints come from the sec-ch-width and sec-ch-dpr headers, off with hints: false', async () => {
    const fn = load(signedConfig, { store: storeFor(keys), now, code });
    const hinted = { width: '500', dpr: '2' };
    eq((await fn.handler(makeEvent('/a.jpg?fm=webp', null, { hints: hinted }))).uri, '/a.jpg/_vf/w=640,fm=webp');
    eq((await fn.handler(makeEvent('/a.jpg?w=320&dpr=auto', null, { hints: hinted }))).uri, '/a.jpg/_vf/w=640');
    eq((await fn.handler(makeEvent('/a.jpg?w=320&dpr=auto'))).uri, '/a.jpg/_vf/w=320');
    const off = load({ ...signedConfig, hints: false }, { store: storeFor(keys), now, code });
    // without a hint, a re-encode at the original's size is refused unsigned while widths are restricted
    eq((await off.handler(makeEvent('/a.jpg?fm=webp', null, { hints: hinted }))).statusCode, 403);
    eq((await off.handler(makeEvent('/a.jpg?fm=webp&w=640', null, { hints: hinted }))).uri, '/a.jpg/_vf/w=640,fm=webp');
  });
  check('keys outside the published prefixes are answered 404, signed or not', async () => {
    const fn = load({ ...signedConfig, prefixes: ['public/'] }, { store: storeFor(keys), now, code });
    eq((await fn.handler(makeEvent('/public/a.jpg?w=640'))).uri, '/public/a.jpg/_vf/w=640');
    const out = await fn.handler(makeEvent(`/a.jpg?w=641&s=${sig(fn, '/a.jpg?w=641')}`));
    eq(out.statusCode, 404);
    eq(out.statusDescription, 'Not Found');
    eq(out.body.data, show({ error: 'original not found', code: 'not_found', param: 'key' }));
  });
  check(`the rendered function stays under the ${BUDGET}-byte budget with a realistic config`, async () => {
    const size = Buffer.byteLength(code.replace(TOKEN, () => JSON.stringify(signedConfig)));
    assert(variant === 'source' || size <= BUDGET, `${size} bytes`);
  });

  for (const [name, fn] of checks) {
    try {
      await fn();
    } catch (error) {
      failures.push(`handler (${variant}): ${name}\n    ${error.message}`);
    }
  }
  return checks.length;
}

function assert(condition, message) {
  if (!condition) throw new Error(message);
}
function eq(got, want) {
  if (got !== want) throw new Error(`expected ${show(want)}, got ${show(got)}`);
}

async function main() {
  const failures = [];
  const args = process.argv.slice(2);
  const paths = args.length ? args : [VECTORS, path.join(VECTORS, 'dialects'), path.join(VECTORS, 'info')];
  const isInfo = (p) => path.basename(p) === 'info';
  const cases =
    (await runVectors(paths.filter((p) => !isInfo(p)), failures)) + (await runInfoVectors(paths.filter(isInfo), failures));
  let checks = 0;
  for (const [variant, code] of VARIANTS) checks = await runHandlerChecks(failures, variant, code);
  let infoChecks = 0;
  for (const [variant, code] of INFO_VARIANTS) infoChecks = await runInfoHandlerChecks(failures, variant, code);
  for (const failure of failures) console.log(`FAIL ${failure}`);
  console.log(`vectors: ${cases} cases; handler: ${checks + infoChecks} checks; ${failures.length} failed`);
  console.log(`each on the source (${Buffer.byteLength(SOURCE)} bytes) and its minified build (${Buffer.byteLength(MINIFIED)} bytes)`);
  console.log(`info: ${Buffer.byteLength(INFO_SOURCE)} bytes of source, ${Buffer.byteLength(INFO_VARIANTS[1][1])} minified`);
  process.exitCode = failures.length ? 1 : 0;
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
