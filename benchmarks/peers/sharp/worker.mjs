// sharp as a benchmark peer: the same job and answer (JSON) as benchmarks/vipsfront_bench/worker.py.
// `node worker.mjs JOB.json` prints {"engine": "sharp", "results": [...]} on stdout.
// sharp's defaults are kept except where the op says otherwise (quality, effort, AVIF chroma
// subsampling 4:2:0 like libvips and Pillow; sharp's own AVIF default is 4:4:4). fastShrinkOnLoad
// (JPEG/WebP shrink-on-load) is on, as by default.
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { performance } from "node:perf_hooks";
import sharp from "sharp";

sharp.cache(false);
const EXTENSIONS = { jpeg: "jpg", webp: "webp", avif: "avif", png: "png" };

function runner(op) {
  const { width, height, format, quality } = op;
  return (data) => {
    let pipeline = sharp(data).rotate(); // EXIF auto-orientation
    if (height) {
      const position = op.position === "attention" ? sharp.strategy.attention : "centre";
      pipeline = pipeline.resize(width, height, { fit: "cover", position });
    } else {
      pipeline = pipeline.resize({ width, withoutEnlargement: true });
    }
    if (format === "jpeg") pipeline = pipeline.jpeg({ quality, optimiseCoding: true });
    else if (format === "webp") pipeline = pipeline.webp({ quality, effort: op.webp_effort });
    else if (format === "avif") pipeline = pipeline.avif({ quality, effort: op.avif_effort, chromaSubsampling: "4:2:0" });
    else pipeline = pipeline.png({ compressionLevel: 6 });
    return pipeline.toBuffer();
  };
}

function rssMb() {
  return process.memoryUsage.rss() / 2 ** 20;
}

async function throughput(run, images, { concurrency, seconds, max_images }) {
  const latencies = [];
  let next = 0;
  const end = performance.now() + seconds * 1000;
  const loop = async () => {
    while (performance.now() < end && next < max_images) {
      const index = next++;
      const started = performance.now();
      await run(images[index % images.length]); // the shared counter spreads the files
      latencies.push(performance.now() - started);
    }
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: concurrency }, () => loop()));
  const elapsed = (performance.now() - started) / 1000;
  return { concurrency, images: latencies.length, seconds: elapsed, images_per_s: latencies.length / elapsed, latency_ms: latencies };
}

async function runOp(op, job) {
  let peak = rssMb();
  const timer = setInterval(() => { peak = Math.max(peak, rssMb()); }, 10);
  const images = op.files.map((path) => readFileSync(path));
  const run = runner(op);
  await run(images[0]); // warm-up
  const latencies = [], sizes = [], outputs = [];
  for (let rep = 0; rep < (op.repeats ?? 1); rep++) {
    for (const [index, data] of images.entries()) {
      const started = performance.now();
      const out = await run(data);
      latencies.push(performance.now() - started);
      if (rep === 0) {
        sizes.push(out.length);
        if (job.outdir) {
          const folder = join(job.outdir, "sharp", op.id);
          mkdirSync(folder, { recursive: true });
          const path = join(folder, `${index}.${EXTENSIONS[op.format]}`);
          writeFileSync(path, out);
          outputs.push(path);
        }
      }
    }
  }
  const load = op.throughput ? await throughput(run, images, op.throughput) : null;
  clearInterval(timer);
  peak = Math.max(peak, rssMb());
  const version = `sharp ${sharp.versions.sharp}, libvips ${sharp.versions.vips}`;
  return { op: op.id, version, latency_ms: latencies, bytes: sizes, outputs, throughput: load, rss_peak_mb: peak };
}

const job = JSON.parse(readFileSync(process.argv[2], "utf8"));
const results = [];
for (const op of job.ops) results.push(await runOp(op, job));
process.stdout.write(JSON.stringify({ engine: "sharp", results }));
