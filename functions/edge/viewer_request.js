// vipsfront viewer request (cloudfront-js-2.0): the JS twin of vipsfront.edge.route (spec.py grammar).
// tests/vectors/*.json keep both equal. Code size limit: 10 KB with the config, so keep it dense.
import cf from 'cloudfront';
var crypto = require('crypto');
var CONFIG = __VIPSFRONT_CONFIG__;

var MAX = 8192, VF = '/_vf/';
var ORDER = 'w h fit pos fx fy enlarge fm q blur sharpen rot flip bg'.split(' ');
var DEF = { fit: 'cover', pos: 'center', enlarge: false, rot: 0 };
var has = (o, k) => Object.prototype.hasOwnProperty.call(o, k);
var isAuto = (fm) => !!fm && fm.slice(0, 4) == 'auto';
var fail = (status, code, error, param) => { throw { status: status, code: code, error: error, param: param == null ? null : param }; };
var bad = (m, p) => fail(400, 'invalid_spec', m, p);
var badKey = (m) => fail(400, 'invalid_key', m, 'key');
var deny = (m, p) => fail(403, 'forbidden', m, p);

// value grammar (spec.py _PARSERS)
var num = (n, lo, hi, re, what) => (r) => {
  if (!re.test(r)) bad(`${n} must be ${what}`, n);
  if (+r < lo || +r > hi) bad(`${n} must be from ${lo} to ${hi}`, n);
  return +r;
};
var int = (n, lo, hi) => num(n, lo, hi, /^[0-9]{1,6}$/, `a whole number from ${lo} to ${hi}`);
var dec = (n, lo, hi) => num(n, lo, hi, /^[0-9]{1,4}(\.[0-9]{1,4})?$/, `a number from ${lo} to ${hi} with at most 4 decimals`);
var one = (n, list, alias) => (r) => {
  var v = alias && typeof alias[r] == 'string' ? alias[r] : r;
  if (list.split(' ').indexOf(v) < 0) bad(`${n} must be one of: ${list.replace(/ /g, ', ')}`, n);
  return v;
};
var P = {
  w: int('w', 1, MAX), h: int('h', 1, MAX), dpr: dec('dpr', 1, 4),
  fit: one('fit', 'cover contain fill inside outside'),
  pos: one('pos', 'center top bottom left right top-left top-right bottom-left bottom-right attention entropy', {
    centre: 'center', north: 'top', south: 'bottom', east: 'right', west: 'left',
    northeast: 'top-right', northwest: 'top-left', southeast: 'bottom-right', southwest: 'bottom-left' }),
  fx: dec('fx', 0, 1), fy: dec('fy', 0, 1),
  enlarge: (r) => {
    var v = { 0: false, 1: true, false: false, true: true }[r];
    return typeof v == 'boolean' ? v : bad('enlarge must be 0 or 1', 'enlarge');
  },
  fm: one('fm', 'jpeg png webp avif gif auto auto-webp auto-avif auto-avif-webp', { jpg: 'jpeg' }),
  q: int('q', 1, 100), blur: dec('blur', 0.3, 100), sharpen: dec('sharpen', 0.3, 10),
  rot: (r) => (/^(0|90|180|270)$/.test(r) ? +r : bad('rot must be 0, 90, 180 or 270', 'rot')),
  flip: one('flip', 'h v hv', { vh: 'hv' }),
  bg: (r) => {
    var m = /^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.exec(r);
    if (!m) bad('bg must be a hex colour: rgb, rrggbb or rrggbbaa', 'bg');
    var v = m[1].toLowerCase().replace(/^(.)(.)(.)$/, '$1$1$2$2$3$3');
    return v.length == 8 && v.slice(6) == 'ff' ? v.slice(0, 6) : v;
  },
};
var isReq = (n) => n == 'p' || n == 's' || n == 'exp';
var isParam = (n) => has(P, n) || isReq(n);

// decoded name -> raw pairs to a spec: parsed values, dpr folded, no-op params dropped
function build(params) {
  var n, v = {};
  for (n in params) if (!has(P, n)) bad(`unknown parameter '${n}'`, n);
  for (n in params) v[n] = P[n](params[n]);
  var dpr = has(v, 'dpr') ? v.dpr : 1, fit = v.fit || 'cover';
  delete v.dpr;
  if (dpr != 1) {
    if (v.w == null && v.h == null) bad('dpr needs w or h', 'dpr');
    ['w', 'h'].forEach((s) => {
      if (v[s] != null && (v[s] = Math.floor(v[s] * dpr + 0.5)) > MAX) bad(`${s} times dpr must be at most ${MAX}`, s);
    });
  }
  if (v.w == null || v.h == null) ['fit', 'pos', 'fx', 'fy'].forEach((k) => delete v[k]);
  else {
    if (fit != 'cover' && fit != 'contain') delete v.pos;
    if (fit != 'cover') delete v.fx, delete v.fy;
    else if (has(v, 'fx') || has(v, 'fy')) {
      if (!has(v, 'fx')) v.fx = 0.5;
      if (!has(v, 'fy')) v.fy = 0.5;
      delete v.pos;
    }
  }
  return v;
}

// canonical form; sign: fm=auto* collapsed to auto, what a signature covers
var canon = (v, sign) => ORDER.filter((k) => v[k] != null && v[k] !== DEF[k])
  .map((k) => k + '=' + (k == 'fm' && sign && isAuto(v.fm) ? 'auto' : k == 'enlarge' ? 1 : v[k])).join(',');

// fm=auto from Accept: Python's str.strip() whitespace and float() grammar for q
var WS = '[\\t-\\r\\x1c-\\x20\\x85\\xa0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000]+';
var TRIM = new RegExp(`^${WS}|${WS}$`, 'g');
var FLOAT = new RegExp('^[+-]?(inf(inity)?|nan|(D?\\.D|D\\.?)(e[+-]?D)?)$'.replace(/D/g, '([0-9](_?[0-9])*)'));
var strip = (s) => s.replace(TRIM, '');
function negotiate(accept) {
  var t = {};
  (accept || '').toLowerCase().split(',').forEach((item) => {
    var parts = item.split(';').map(strip), q = 1;
    parts.slice(1).forEach((p) => {
      var i = p.indexOf('='), f = i < 0 ? '' : strip(p.slice(i + 1));
      if (strip(i < 0 ? p : p.slice(0, i)) == 'q') q = FLOAT.test(f) ? +f.replace(/_/g, '').replace(/inf(inity)?/, 'Infinity') : 0;
    });
    if (parts[0] && q > 0) t[parts[0]] = 1;
  });
  return 'auto' + (t['image/avif'] == 1 ? '-avif' : '') + (t['image/webp'] == 1 ? '-webp' : '');
}

// strict percent-decoding, unquote(errors='strict'): invalid UTF-8 throws URIError
var unquote = (s) => s.replace(/(%[0-9a-fA-F]{2})+/g, decodeURIComponent);
var split = (s, c) => { var i = s.indexOf(c); return i < 0 ? [s, null] : [s.slice(0, i), s.slice(i + 1)]; };

function splitQuery(query) {
  if (query.length > 2048) bad('query longer than 2048 characters');
  var out = {};
  query.split('&').forEach((piece) => {
    if (!piece) return;
    var nr = split(piece.replace(/\+/g, ' '), '='), n;
    try {
      n = unquote(nr[0]);
      nr[1] = unquote(nr[1] || '');
    } catch (e) {
      bad('query is not valid UTF-8');
    }
    if (!n) bad('parameter without a name');
    if (!isParam(n)) bad(`unknown parameter '${(n = n.match(/[\ud800-\udbff][\udc00-\udfff]|[\s\S]/g).slice(0, 40).join(''))}'`, n);
    if (has(out, n)) bad(`parameter '${n}' given more than once`, n);
    out[n] = nr[1];
  });
  return out;
}

function parseParams(params, presets, accept) {
  var n, p = params.p, s = params.s, x = params.exp, sp = {}, m = {};
  for (n in params) if (!isReq(n)) sp[n] = params[n];
  if (p != null) {
    if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(p) || !presets || !has(presets, p)) bad('unknown preset', 'p');
    for (n in presets[p]) m[n] = presets[p][n];
    for (n in sp) m[n] = sp[n];
    sp = m;
  }
  if (s != null && !/^[A-Za-z0-9_-]{1,32}\.[A-Za-z0-9_-]{43}$/.test(s)) bad('s must be KEYID.SIGNATURE (base64url HMAC-SHA256)', 's');
  if (x != null && !/^[0-9]{1,12}$/.test(x)) bad('exp must be a Unix time in seconds', 'exp');
  var spec = build(sp);
  if (isAuto(spec.fm)) spec.fm = negotiate(accept);
  return { spec: spec, sig: s, exp: x == null ? x : +x };
}

function parseCanonical(text) {
  if (text == 'original') return {};
  var params = {};
  text.split(',').forEach((piece) => {
    var nr = split(piece, '='), n = nr[0];
    if (nr[1] == null || !has(P, n) || has(params, n) || n == 'dpr') bad('malformed canonical spec', isParam(n) ? n : null);
    params[n] = nr[1];
  });
  var spec = build(params);
  if (canon(spec) != text) bad('spec is not in canonical form');
  return spec;
}

function checkKey(k) {
  if (!k) badKey('missing image key');
  var utf8 = k.replace(/[\ud800-\udbff][\udc00-\udfff]/g, '....').replace(/[\x80-\u07ff]/g, '..');
  if (utf8.replace(/[\u0800-\uffff]/g, '...').length > 900) badKey('key longer than 900 bytes');
  if (/[\x00-\x1f\x7f]|[\ud800-\udbff](?![\udc00-\udfff])|(^|[^\ud800-\udbff])[\udc00-\udfff]/.test(k)) badKey('key contains control characters');
  k.split('/').forEach((s) => {
    if (s == '' || s == '.' || s == '..') badKey("key has an empty, '.' or '..' segment");
    if (s == '_vf') badKey("key may not contain a '_vf' segment");
  });
  return k;
}

function parsePath(raw) {
  var path, i;
  try {
    path = unquote(raw).replace(/^\//, '');
  } catch (e) {
    badKey('path is not valid UTF-8');
  }
  i = path.indexOf(VF);
  return i >= 0 && path.indexOf('/', i + 5) < 0
    ? { key: checkKey(path.slice(0, i)), spec: parseCanonical(path.slice(i + 5)) }
    : { key: checkKey(path) };
}

// quote(key, safe='/'): every byte but A-Za-z0-9-._~ and '/'
var encodeKey = (s) => encodeURIComponent(s).replace(/%2F/g, '/')
  .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());

// the unsigned policy (policy.py); also takes the flat form {unsignedWidths, maxSide}: widths only
function allows(spec, cfg) {
  var n, sc = canon(spec, 1), u = cfg.unsigned || { widths: cfg.unsignedWidths, heights: [], max_side: cfg.maxSide };
  if (!sc) return true;
  for (n in cfg.presets || {}) if (canon(build(cfg.presets[n]), 1) == sc) return true;
  return !u.presets_only && [[spec.w, u.widths], [spec.h, u.heights]].every((a) =>
    a[0] == null || ((!a[1] || a[1].indexOf(a[0]) >= 0) && (u.max_side == null || a[0] <= u.max_side)));
}

// signatures (signing.py): HMAC-SHA256 over /{key}?{signing canonical}[&exp=], base64url, kid lookup
async function authorize(key, spec, req, cfg, keys, now) {
  if (!cfg.signed) return;
  if (req.sig == null) return allows(spec, cfg) || deny('this transform needs a signed URL', 's');
  var ks = split(req.sig, '.'), secret = await keys(ks[0]), d = 0, i;
  if (!secret) deny('unknown signing key', 's');
  var want = crypto.createHmac('sha256', secret)
    .update('/' + encodeKey(key) + '?' + canon(spec, 1) + (req.exp != null ? '&exp=' + req.exp : ''))
    .digest('base64').replace(/=+$/, '').replace(/\+/g, '-').replace(/\//g, '_');
  for (i = 0; i < 43; i++) d |= want.charCodeAt(i) ^ ks[1].charCodeAt(i);
  if (d) deny('signature does not match', 's');
  if (req.exp != null && now > req.exp) deny('signed URL has expired', 'exp');
}

// The pure step: raw path and query, Accept, config, keys (kid -> secret or null, may be async), clock.
async function route(uri, query, accept, cfg, keys, now) {
  var path = parsePath(uri), params = splitQuery(query), req, spec = path.spec;
  if (spec) {
    var extra = Object.keys(params).filter((n) => n != 's' && n != 'exp').sort();
    if (extra.length) bad('the canonical path form takes only s and exp', extra[0]);
    req = parseParams(params);
  } else spec = (req = parseParams(params, cfg.presets, accept)).spec;
  await authorize(path.key, spec, req, cfg, keys, now);
  var c = canon(spec);
  return { key: path.key, canonical: c, variant_key: path.key + VF + (c || 'original'),
    uri: '/' + encodeKey(path.key + VF) + (c || 'original'), vary_accept: !path.spec && isAuto(spec.fm) };
}

// The raw query as received; rebuilt from the parsed object where rawQueryString() is missing or empty.
function rawQuery(r) {
  var n, out = [], raw = typeof r.rawQueryString == 'function' && r.rawQueryString();
  if (raw) return raw;
  for (n in r.querystring) (r.querystring[n].multiValue || [r.querystring[n]]).forEach((v) => out.push(n + '=' + v.value));
  return out.join('&');
}

var kvs;
async function secretFor(kid) {
  try {
    kvs = kvs || (CONFIG.kvsId ? cf.kvs(CONFIG.kvsId) : cf.kvs());
    return await kvs.get('key:' + kid);
  } catch (e) {
    return null; // unknown kid, or the store unreachable: fail closed
  }
}

async function handler(event) {
  var r = event.request, accept = r.headers.accept, v;
  // reserved paths the origin serves (health, image info, API description, demo page)
  if (/^\/_vf\/(health$|openapi\.json$|info\/|demo(\/|$))/.test(r.uri)) return r;
  try {
    v = await route(r.uri, rawQuery(r), accept ? accept.value : null, CONFIG, secretFor, Date.now() / 1000);
  } catch (e) {
    if (!e.status) throw e;
    return { statusCode: e.status, statusDescription: e.status == 403 ? 'Forbidden' : 'Bad Request',
      headers: { 'content-type': { value: 'application/json' }, 'cache-control': { value: 'public, max-age=60' } },
      body: { encoding: 'text', data: JSON.stringify({ error: e.error, code: e.code, param: e.param }) } };
  }
  r.uri = v.uri;
  r.querystring = {};
  return r;
}
