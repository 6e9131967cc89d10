// vipsfront URL builders for browsers, Node.js and Next.js: no dependencies, no Node.js built-ins.
// The twin of the Python `vipsfront.url.builders`; tests/vectors/builders/urls.json keeps the two equal.
// Options are checked as the origin checks them, and written in canonical order, so equal options
// always give equal URLs (one CDN cache entry, one stored variant). Signing happens on a server only,
// through a signer from ./sign.mjs (or any function with the same contract).

const MAX_SIDE = 8192;
const ORDER = ['w', 'h', 'fit', 'pos', 'fx', 'fy', 'enlarge', 'fm', 'q', 'blur', 'sharpen', 'rot', 'flip', 'bg', 'rect', 'trim', 'v'];
const DEFAULTS = { fit: 'cover', pos: 'center', enlarge: false, rot: 0 };
const POSITIONS = ['center', 'top', 'bottom', 'left', 'right', 'top-left', 'top-right', 'bottom-left',
  'bottom-right', 'attention', 'entropy', 'face'];
const FACE_CANONICAL = 'face-1'; // the canonical form names the face detector; a signature covers `face`
const POS_ALIASES = { [FACE_CANONICAL]: 'face', centre: 'center', north: 'top', south: 'bottom', east: 'right', west: 'left',
  northeast: 'top-right', northwest: 'top-left', southeast: 'bottom-right', southwest: 'bottom-left' };
const FORMATS = ['jpeg', 'png', 'webp', 'avif', 'gif', 'auto', 'auto-webp', 'auto-avif', 'auto-avif-webp'];
const BOOLS = { 0: false, 1: true, false: false, true: true };

/** A bad option or key; `param` names it, as the origin's 400 answer does. */
export class VipsfrontError extends Error {
  constructor(message, param) {
    super(message);
    this.name = 'VipsfrontError';
    this.param = param;
  }
}

const fail = (param, message) => {
  throw new VipsfrontError(`${param} ${message}`, param);
};
const own = (object, name) => Object.prototype.hasOwnProperty.call(object, name);

function int(lo, hi) {
  return (raw, name) => {
    if (!/^[0-9]{1,6}$/.test(raw)) fail(name, `must be a whole number from ${lo} to ${hi}`);
    const value = Number(raw);
    return value >= lo && value <= hi ? value : fail(name, `must be from ${lo} to ${hi}`);
  };
}

function dec(lo, hi) {
  return (raw, name) => {
    if (!/^[0-9]{1,4}(\.[0-9]{1,4})?$/.test(raw)) fail(name, `must be a number from ${lo} to ${hi} with at most 4 decimals`);
    const value = Number(raw);
    return value >= lo && value <= hi ? value : fail(name, `must be from ${lo} to ${hi}`);
  };
}

function choice(allowed, aliases = {}) {
  return (raw, name) => {
    const value = own(aliases, raw) ? aliases[raw] : raw;
    return allowed.includes(value) ? value : fail(name, `must be one of: ${allowed.join(', ')}`);
  };
}

const PARSERS = {
  w: int(1, MAX_SIDE),
  h: int(1, MAX_SIDE),
  dpr: (raw, name) => (raw === 'auto' ? 1 : dec(1, 4)(raw, name)),
  fit: choice(['cover', 'contain', 'fill', 'inside', 'outside']),
  pos: choice(POSITIONS, POS_ALIASES),
  fx: dec(0, 1),
  fy: dec(0, 1),
  enlarge: (raw, name) => (own(BOOLS, raw) ? BOOLS[raw] : fail(name, 'must be 0 or 1')),
  fm: choice(FORMATS, { jpg: 'jpeg' }),
  q: (raw, name) => (/^[0-9]+$/.test(raw) ? int(1, 100)(raw, name) : fail(name, 'must be a whole number from 1 to 100')),
  blur: dec(0.3, 100),
  sharpen: dec(0.3, 10),
  rot: (raw, name) => (['0', '90', '180', '270'].includes(raw) ? Number(raw) : fail(name, 'must be 0, 90, 180 or 270')),
  flip: choice(['h', 'v', 'hv'], { vh: 'hv' }),
  bg: (raw, name) => {
    const match = /^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6}|[0-9a-fA-F]{8})$/.exec(raw);
    if (!match) fail(name, 'must be a hex colour: rgb, rrggbb or rrggbbaa');
    let value = match[1].toLowerCase();
    if (value.length === 3) value = value.replace(/./g, (c) => c + c);
    return value.length === 8 && value.endsWith('ff') ? value.slice(0, 6) : value;
  },
  // a source rectangle, `left,top,width,height` (or an array of the four); `:` in the canonical form
  rect: (raw, name) => {
    const [x, y, w, h] = (/^([0-9]{1,5})[,:]([0-9]{1,5})[,:]([0-9]{1,5})[,:]([0-9]{1,5})$/.exec(raw) || []).slice(1).map(Number);
    return w >= 1 && h >= 1 && x + w <= 65535 && y + h <= 65535
      ? `${x}:${y}:${w}:${h}`
      : fail(name, 'must be left,top,width,height within 65535');
  },
  trim: int(0, 255),
  // the original's version token (what /_vf/info answers as `version`): last in the canonical form
  v: (raw, name) =>
    /^[A-Za-z0-9_-]{1,32}$/.test(raw) ? raw : fail(name, "must be 1 to 32 characters of A-Z, a-z, 0-9, '-' and '_'"),
};

const raw = (value) => (typeof value === 'boolean' ? (value ? '1' : '0') : Array.isArray(value) ? value.join(',') : String(value));

/** The checked spec for `params`, as `vipsfront.url.grammar.build` makes it (dpr folded, no-ops dropped). */
export function build(params = {}) {
  const v = {};
  for (const [name, value] of Object.entries(params)) {
    if (value === undefined || value === null) continue;
    if (!own(PARSERS, name)) fail(name, 'is not a parameter');
    v[name] = PARSERS[name](raw(value), name);
  }
  const dpr = own(v, 'dpr') ? v.dpr : 1;
  delete v.dpr;
  if (dpr !== 1) {
    if (v.w === undefined && v.h === undefined) fail('dpr', 'needs w or h');
    for (const side of ['w', 'h']) {
      if (v[side] === undefined) continue;
      v[side] = Math.floor((v[side] * Math.round(dpr * 1e4) + 5e3) / 1e4); // exact: see vipsfront.url.rounding
      if (v[side] > MAX_SIDE) fail(side, `times dpr must be at most ${MAX_SIDE}`);
    }
  }
  const fit = v.fit ?? 'cover';
  if (v.w === undefined || v.h === undefined) {
    for (const name of ['fit', 'pos', 'fx', 'fy']) delete v[name];
  } else {
    if (fit !== 'cover' && fit !== 'contain') delete v.pos;
    if (fit !== 'cover') {
      delete v.fx;
      delete v.fy;
    } else if (v.fx !== undefined || v.fy !== undefined) {
      v.fx ??= 0.5;
      v.fy ??= 0.5;
      delete v.pos;
    }
  }
  return v;
}

/** The canonical `name=value,...` form of `params` ("" for none); `signing` keeps any auto format as `auto`. */
export function canonical(params = {}, { signing = false } = {}) {
  const v = build(params);
  return ORDER.filter((name) => v[name] !== undefined && v[name] !== DEFAULTS[name])
    .map((name) => {
      let value = v[name];
      if (name === 'fm' && signing && value.startsWith('auto')) value = 'auto';
      if (name === 'pos' && !signing && value === 'face') value = FACE_CANONICAL;
      return `${name}=${typeof value === 'boolean' ? (value ? 1 : 0) : value}`;
    })
    .join(',');
}

/** Throws unless `key` can name an original (no empty, ".", ".." or "_vf" segments, no control characters). */
export function checkKey(key) {
  if (typeof key !== 'string' || !key) fail('key', 'is missing');
  if (/[\u0000-\u001f\u007f]|[\ud800-\udbff](?![\udc00-\udfff])|(?:^|[^\ud800-\udbff])[\udc00-\udfff]/.test(key))
    fail('key', 'contains control characters');
  if (new TextEncoder().encode(key).length > 900) fail('key', 'is longer than 900 bytes');
  for (const segment of key.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') fail('key', "has an empty, '.' or '..' segment");
    if (segment === '_vf') fail('key', "may not contain a '_vf' segment");
  }
  return key;
}

/** Percent-encode a key for a URL path, as Python's `quote(key, safe="/")`. */
export function encodeKey(key) {
  return encodeURIComponent(key)
    .replace(/%2F/g, '/')
    .replace(/[!'()*]/g, (c) => '%' + c.charCodeAt(0).toString(16).toUpperCase());
}

/** What a signature covers: `/{encoded key}?{signing canonical}` and `&exp={expires}` when it expires. */
export function stringToSign(key, params = {}, expires) {
  const message = `/${encodeKey(checkKey(key))}?${canonical(params, { signing: true })}`;
  return expires === undefined || expires === null ? message : `${message}&exp=${expires}`;
}

/**
 * `{base}/{key}?{canonical query}`. With `options.signer` (from ./sign.mjs, on a server), the URL carries
 * `s` (and `exp` with `options.expires`), as `vipsfront sign` makes it.
 */
export function url(key, params = {}, options = {}) {
  const { base = '', signer, expires } = options;
  let query = canonical(params).replace(/,/g, '&');
  if (signer) {
    const signed = [`s=${signer(stringToSign(key, params, expires))}`];
    if (expires !== undefined && expires !== null) signed.unshift(`exp=${expires}`);
    query = [query, ...signed].filter(Boolean).join('&');
  }
  const path = `${base.replace(/\/+$/, '')}/${encodeKey(checkKey(key))}`;
  return query ? `${path}?${query}` : path;
}

/** A `srcset` value: one URL per width, `"{url} {w}w"` joined by commas. Leave `dpr` out of `params`. */
export function srcset(key, widths, params = {}, options = {}) {
  return widths.map((w) => `${url(key, { ...params, w }, options)} ${w}w`).join(', ');
}

/** A `sizes` value from `[[media, size], ...]` (or `{media: size}`) and the size when none matches. */
export function sizes(rules, fallback = '100vw') {
  const pairs = Array.isArray(rules) ? rules : Object.entries(rules);
  return [...pairs.map(([media, size]) => `${media} ${size}`), fallback].join(', ');
}

/**
 * A Next.js custom image loader (`images: {loader: 'custom', loaderFile}`), for a CDN at `base`:
 * `{src, width, quality}` → the transform URL, `fm=auto` unless `params` say otherwise; `src` may end in
 * `?v=TOKEN`, the original's version.
 */
export function createLoader({ base = '', params = {} } = {}) {
  return ({ src, width, quality }) => {
    const [path, query = ''] = src.split(/\?(.*)/s);
    const options = { fm: 'auto', ...params, w: width };
    if (quality !== undefined && quality !== null) options.q = quality;
    // `src` may carry the original's version, `/photos/cat.jpg?v=TOKEN`, and nothing else
    for (const piece of query.split('&').filter(Boolean)) {
      const [name, value = ''] = piece.split(/=(.*)/s);
      if (name !== 'v') throw new VipsfrontError('a loader src may carry only v in its query', name.slice(0, 40) || null);
      options.v = decodeURIComponent(value);
    }
    return url(decodeURIComponent(path.replace(/^\/+/, '')), options, { base });
  };
}

// unpic's standard operation names; a native name (`w`, `fit`, `v`...) is taken as it is, and the
// standard one wins over it, as in unpic's own providers
const UNPIC_NAMES = { width: 'w', height: 'h', format: 'fm', quality: 'q' };
const round = (value) => (value !== '' && Number.isFinite(Number(value)) ? Math.round(Number(value)) : value);

/**
 * unpic's URL transformer (`transformer` in its components, `(src, operations, options) => string`):
 * `src` is a vipsfront URL, absolute (its origin is kept) or a key's path (`options.base` prefixes it);
 * its own query's parameters stay unless `operations` change them. `operations` are unpic's (`width`,
 * `height`, `format`, `quality`; sides rounded as unpic rounds them) and ours by their own names; any
 * other name, and any query parameter of `src` that is not ours (`s` and `exp` too), is left out. No
 * format is `fm=auto`. Values are checked as `url` checks them; the URL is its canonical form.
 */
export function transform(src, operations = {}, options = {}) {
  const match = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)?([^?#]*)(?:\?([^#]*))?/i.exec(String(src));
  const [, origin, path, query = ''] = match;
  const params = { fm: 'auto' };
  for (const piece of query.split('&')) {
    const [name, value = ''] = piece.split(/=(.*)/s);
    if (own(PARSERS, name)) params[name] = decodeURIComponent(value.replace(/\+/g, ' '));
  }
  const given = Object.entries(operations).filter(([, value]) => value !== undefined && value !== null);
  for (const [name, value] of given) if (own(PARSERS, name)) params[name] = value;
  for (const [name, value] of given) {
    if (own(UNPIC_NAMES, name)) params[UNPIC_NAMES[name]] = name === 'width' || name === 'height' ? round(value) : value;
  }
  const key = decodeURIComponent(path.replace(/^\/+/, ''));
  return url(key, params, origin ? { ...options, base: origin } : options);
}

/** The loader for a same-origin (or rewritten) vipsfront: `createLoader()`. */
export const loader = createLoader();

export default loader;
