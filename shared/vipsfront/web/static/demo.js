// vipsfront demo page. Loaded in <head> (not deferred) so its listeners exist before any image loads:
// it records when the placeholders were painted and when each image loaded (window.vfDemo, which the
// browser test reads), fades images in over their placeholders, and runs the playground.
'use strict';

const vfDemo = (window.vfDemo = { loads: {}, placeholdersPaintedAt: null, placeholders: 0 });

// Image load events do not bubble, but they can be caught on the way down.
document.addEventListener(
  'load',
  (event) => {
    const img = event.target;
    if (!(img instanceof HTMLImageElement)) return;
    const card = img.closest('.card');
    if (card) {
      vfDemo.loads[card.dataset.key] = performance.now();
      card.classList.add('loaded');
    }
  },
  true
);

document.addEventListener('DOMContentLoaded', () => {
  // The placeholders are in the HTML (inline background), so the first frame after parsing shows them.
  const cards = [...document.querySelectorAll('.card')];
  vfDemo.placeholders = cards.filter((card) => getComputedStyle(card).backgroundImage.startsWith('url("data:')).length;
  requestAnimationFrame(() => requestAnimationFrame(() => (vfDemo.placeholdersPaintedAt = performance.now())));
  for (const card of cards) {
    const img = card.querySelector('img');
    if (img.complete && img.naturalWidth) card.classList.add('loaded');
  }
  const hinted = document.querySelector('img.hinted');
  if (hinted) {
    const show = () => {
      document.querySelector('.hinted-result').textContent =
        `The origin sent a ${hinted.naturalWidth} px wide image for this ${hinted.width} CSS px slot.`;
    };
    hinted.complete ? show() : hinted.addEventListener('load', show);
  }
  setUpPlayground();
});

function setUpPlayground() {
  const form = document.getElementById('play');
  if (!form) return;
  const image = document.getElementById('play-image');
  const facts = document.getElementById('play-facts');
  const show = (rows) => {
    facts.replaceChildren(
      ...rows.flatMap(([name, value]) => {
        const dt = document.createElement('dt');
        const dd = document.createElement('dd');
        dt.textContent = name;
        if (value instanceof Node) dd.append(value);
        else dd.textContent = value;
        return [dt, dd];
      })
    );
  };
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const key = data.get('key');
    data.delete('key');
    const query = new URLSearchParams([...data].filter(([, value]) => value !== ''));
    const path = '/' + key.split('/').map(encodeURIComponent).join('/') + (query.size ? `?${query}` : '');
    const started = performance.now();
    try {
      // fetch() sends Accept: */*; send the image Accept a browser sends for <img>, so fm=auto negotiates.
      const response = await fetch(path, { headers: { Accept: 'image/avif,image/webp,image/apng,image/*,*/*;q=0.8' } });
      const blob = await response.blob();
      const elapsed = performance.now() - started;
      const link = document.createElement('a');
      link.href = path;
      link.textContent = path;
      const rows = [
        ['URL', link],
        ['status', `${response.status} ${response.statusText}`],
        ['type', response.headers.get('content-type') || ''],
        ['bytes', `${blob.size.toLocaleString()} B`],
        ['variant', response.headers.get('x-vipsfront-variant') || ''],
        ['vary', response.headers.get('vary') || ''],
        ['fetch', `${elapsed.toFixed(1)} ms`],
      ];
      for (const part of (response.headers.get('server-timing') || '').split(',')) {
        const match = /^\s*([\w-]+);dur=([\d.]+)/.exec(part);
        if (match) rows.push([`⏱ ${match[1]}`, `${match[2]} ms`]);
      }
      if (response.ok) {
        URL.revokeObjectURL(image.src);
        image.src = URL.createObjectURL(blob);
        image.onload = () => rows.push(['size', `${image.naturalWidth}×${image.naturalHeight}`]) && show(rows);
      } else {
        image.removeAttribute('src');
        rows.push(['error', await blob.text()]);
      }
      show(rows);
    } catch (error) {
      show([['error', String(error)]]);
    }
  });
}
