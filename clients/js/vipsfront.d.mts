// Types for vipsfront.mjs (hand-written; the module has no build step).

export type Fit = 'cover' | 'contain' | 'fill' | 'inside' | 'outside';
export type Position =
  | 'center' | 'top' | 'bottom' | 'left' | 'right' | 'top-left' | 'top-right' | 'bottom-left' | 'bottom-right'
  | 'attention' | 'entropy' | 'face';
export type Format = 'auto' | 'avif' | 'webp' | 'jpeg' | 'jpg' | 'png' | 'gif';

/** The URL API's parameters (see the README); values are checked as the origin checks them. */
export interface Params {
  w?: number;
  h?: number;
  /** 1..4, or 'auto' to take the browser's Sec-CH-DPR client hint (origin only). */
  dpr?: number | 'auto';
  fit?: Fit;
  pos?: Position;
  fx?: number;
  fy?: number;
  enlarge?: boolean | 0 | 1;
  fm?: Format;
  q?: number;
  blur?: number;
  sharpen?: number;
  rot?: 0 | 90 | 180 | 270;
  flip?: 'h' | 'v' | 'hv';
  /** hex rgb, rrggbb or rrggbbaa, with or without '#'. */
  bg?: string;
  /** A source rectangle cut before the resize: `left,top,width,height` or `[left, top, width, height]`. */
  rect?: string | [number, number, number, number];
  /** Remove a uniform border first, with this threshold (0..255). */
  trim?: number;
  /** The original's version token, as `/_vf/info` answers it (`version`): a new version is a new URL. */
  v?: string;
}

/** Returns the `s` value, `KEYID.SIGNATURE`, for a string to sign. */
export type Signer = (message: string) => string;

export interface UrlOptions {
  /** URL prefix, e.g. 'https://cdn.example.com' (default: same origin, a path). */
  base?: string;
  /** Signs the URL (server side only): `signer(keyId, secret)` from './sign.mjs'. */
  signer?: Signer;
  /** Unix seconds after which a signed URL stops working. */
  expires?: number;
}

export class VipsfrontError extends Error {
  readonly param: string;
  constructor(message: string, param: string);
}

export function build(params?: Params): Record<string, string | number | boolean>;
export function canonical(params?: Params, options?: { signing?: boolean }): string;
export function checkKey(key: string): string;
export function encodeKey(key: string): string;
export function stringToSign(key: string, params?: Params, expires?: number): string;
export function url(key: string, params?: Params, options?: UrlOptions): string;
export function srcset(key: string, widths: readonly number[], params?: Params, options?: UrlOptions): string;
export function sizes(rules: ReadonlyArray<readonly [string, string]> | Record<string, string>, fallback?: string): string;

/**
 * unpic's operations (its `Operations`: `width`, `height`, `format`, `quality`) and ours by their own
 * names (a standard name wins); at run time any other name is left out of the URL.
 */
export interface TransformOperations extends Params {
  width?: number | string;
  height?: number | string;
  format?: Format | (string & {});
  quality?: number | string;
}

/**
 * unpic's URL transformer (its `TransformerFunction`, the `transformer` of its components): a native URL in
 * canonical form for `src` (an absolute vipsfront URL or a key's path, whose own parameters stay unless
 * `operations` change them), `fm=auto` unless a format is given. `options` as for `url` (`base` prefixes
 * a path `src`; an absolute one keeps its origin).
 */
export function transform(src: string | URL, operations?: TransformOperations, options?: UrlOptions): string;

/** What Next.js passes to a custom loader. */
export interface ImageLoaderProps {
  src: string;
  width: number;
  quality?: number;
}
export type ImageLoader = (props: ImageLoaderProps) => string;
export function createLoader(options?: { base?: string; params?: Params }): ImageLoader;
export const loader: ImageLoader;
export default loader;
