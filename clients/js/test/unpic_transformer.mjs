// transform in unpic's components: @unpic/core (what @unpic/react, vue, svelte, astro... render with) takes
// it as `transformer` and writes src, srcset and the low-resolution background from it. Prints the
// checks passed; throws (exit 1) on the first that fails.   node clients/js/test/unpic_transformer.mjs
import assert from 'node:assert/strict';

import { transformBaseImageProps, transformBaseSourceProps } from '@unpic/core/base';

import { transform } from '../vipsfront.mjs';

const SRC = 'https://cdn.example.com/photos/cat.jpg';
let checks = 0;
const check = (fn) => {
  fn();
  checks += 1;
};

/** The srcset's candidates as [url, width] pairs (unpic joins them with ",\n"). */
const candidates = (srcset) => srcset.split(',\n').map((entry) => entry.split(' ')).map(([u, w]) => [u, Number(w.slice(0, -1))]);

const img = transformBaseImageProps({ src: SRC, width: 800, height: 600, layout: 'constrained', transformer: transform });
check(() => assert.equal(img.src, `${SRC}?w=800&h=600&fm=auto`));
check(() => {
  const pairs = candidates(img.srcset);
  assert.deepEqual(pairs.map(([, w]) => w), [640, 750, 800, 828, 960, 1080, 1280, 1600]);
  for (const [u, w] of pairs) assert.equal(u, `${SRC}?w=${w}&h=${Math.round((w * 3) / 4)}&fm=auto`);
});
check(() => assert.equal(img.sizes, '(min-width: 800px) 800px, 100vw'));

// the placeholder background: a 24 px wide image at the same aspect ratio
const painted = transformBaseImageProps({ src: SRC, width: 800, height: 600, background: 'auto', transformer: transform });
check(() => assert.equal(painted.style['background-image'], `url(${SRC}?w=24&h=18&fm=auto)`));

// operations beside the transformer, in our names; unpic forbids width and height there
const fixed = transformBaseImageProps({
  src: '/photos/cat.jpg?v=Jq3x_9-Ab',
  width: 320,
  height: 320,
  layout: 'fixed',
  operations: { fit: 'cover', pos: 'attention', q: 70 },
  transformer: transform,
  options: { base: 'https://cdn.example.com' },
});
check(() =>
  assert.deepEqual(candidates(fixed.srcset), [
    [`https://cdn.example.com/photos/cat.jpg?w=320&h=320&pos=attention&fm=auto&q=70&v=Jq3x_9-Ab`, 320],
    [`https://cdn.example.com/photos/cat.jpg?w=640&h=640&pos=attention&fm=auto&q=70&v=Jq3x_9-Ab`, 640],
  ]),
);

// a <source type="image/webp"> asks for its format
const source = transformBaseSourceProps({ src: SRC, width: 400, layout: 'fixed', type: 'image/webp', transformer: transform });
check(() => assert.equal(source.type, 'image/webp'));
check(() => assert.equal(source.srcset, `${SRC}?w=400&fm=webp 400w,\n${SRC}?w=800&fm=webp 800w`));

// fullWidth: unpic's own ladder, 640 to 6016 (over our 3840 ladder: sign, or pass breakpoints)
const full = transformBaseImageProps({ src: SRC, layout: 'fullWidth', breakpoints: [640, 1080, 1920], transformer: transform });
check(() => assert.deepEqual(candidates(full.srcset).map(([u]) => u), [640, 1080, 1920].map((w) => `${SRC}?w=${w}&fm=auto`)));

console.log(`unpic transformer: ${checks} checks passed`);
