// Prints, as JSON, the image URLs a page built with unpic asks an origin at BASE for, for one 800x600
// constrained image of KEY: unpic's imgix provider (through @unpic/core, what its components render:
// src, srcset, the low-resolution background and a WebP <source>), the Next.js docs' imgix loader at
// Next.js's default widths, and transform (ours) under the native PREFIX.
//   node clients/js/test/unpic_urls.mjs BASE KEY PREFIX
import { transformBaseImageProps } from '@unpic/core/base';
import { transformProps, transformSourceProps } from '@unpic/core';

import { transform } from '../vipsfront.mjs';

const [base, key, prefix] = process.argv.slice(2);
const image = { width: 800, height: 600, layout: 'constrained' };
const urls = (props) => [props.src, ...props.srcset.split(',\n').map((entry) => entry.split(' ')[0])];

const imgix = transformProps({ ...image, src: `${base}/${key}`, cdn: 'imgix', background: 'auto' });
const webp = transformSourceProps({ ...image, src: `${base}/${key}`, cdn: 'imgix', type: 'image/webp' });
const lowRes = /^url\((.*)\)$/.exec(imgix.style['background-image'])[1];

// the imgix loader of the Next.js docs (images.loaderFile), as written there
function imgixLoader({ src, width, quality }) {
  const url = new URL(`${base}${src}`);
  const params = url.searchParams;
  params.set('auto', params.getAll('auto').join(',') || 'format');
  params.set('fit', params.get('fit') || 'max');
  params.set('w', params.get('w') || width.toString());
  params.set('q', (quality || 50).toString());
  return url.href;
}
const nextjs = [640, 750, 828, 1080, 1200, 1920].map((width) => imgixLoader({ src: `/${key}`, width, quality: 75 }));

const native = transformBaseImageProps({ ...image, src: `${base}${prefix}${key}`, transformer: transform });

console.log(JSON.stringify({ imgix: [...urls(imgix), lowRes], imgixWebp: urls(webp).slice(1), nextjs, native: urls(native) }));
