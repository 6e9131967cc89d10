// One instance of the image-processing Lambda of aws-samples/image-optimization, as
// benchmarks/vipsfront_bench/instance.py runs vipsfront's: the handler file is loaded unmodified from
// where it lies (its bare imports resolve from this folder's node_modules: resolve.mjs), its S3 client
// reads AWS_ENDPOINT_URL_S3 and the region from the environment.
//
//   node instance.mjs serve HANDLER.mjs PORT   HTTP on 127.0.0.1:PORT, one request at a time
//   node instance.mjs once HANDLER.mjs PATH    import, one invocation, a "BENCH {json}" line
//
// Each GET becomes the Function URL event (payload 2.0) CloudFront sends with an origin access control,
// the same shape as instance.py's; the answer carries the handler call's wall time in
// x-bench-handler-ms. GET /healthcheck answers 200; GET /_bench/instance the import time, sharp's
// libvips threads and the process's peak RSS.
import http from 'node:http';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const [mode, handlerPath, arg] = process.argv.slice(2);

function event(path, headers) {
  const domain = 'bench0123456789abcdef.lambda-url.us-east-1.on.aws';
  return {
    version: '2.0',
    routeKey: '$default',
    rawPath: path,
    rawQueryString: '',
    headers: {
      host: domain,
      'user-agent': 'Amazon CloudFront',
      via: '2.0 0123456789abcdef0123456789abcdef.cloudfront.net (CloudFront)',
      'x-amz-cf-id': 'Zr5jzn0bA6h8Qa1wkQK4Xk8w5jWAB1vXh0M2Ygq0NkzqX2Y8Z3E5Ag==',
      'x-amzn-trace-id': 'Root=1-5f84c7a9-0e5b1e1f7e7f9f1d6e0f5c2a',
      'x-forwarded-for': '198.51.100.7',
      'x-forwarded-port': '443',
      'x-forwarded-proto': 'https',
      ...headers,
    },
    requestContext: {
      accountId: '123456789012',
      apiId: 'bench0123456789abcdef',
      authentication: null,
      authorizer: {
        iam: {
          accessKey: 'ASIA0000000000000000',
          accountId: '123456789012',
          callerId: 'AROA0000000000000000:cloudfront',
          cognitoIdentity: null,
          principalOrgId: null,
          userArn: 'arn:aws:sts::123456789012:assumed-role/cloudfront/cloudfront',
          userId: 'AROA0000000000000000:cloudfront',
        },
      },
      domainName: domain,
      domainPrefix: domain.split('.')[0],
      http: { method: 'GET', path, protocol: 'HTTP/1.1', sourceIp: '198.51.100.7', userAgent: 'Amazon CloudFront' },
      requestId: 'bench',
      routeKey: '$default',
      stage: '$default',
      time: '01/Jan/2026:00:00:00 +0000',
      timeEpoch: 1767225600000,
    },
    isBase64Encoded: false,
  };
}

const peakRssMb = () => process.resourceUsage().maxRSS / 1024;

register('./resolve.mjs', import.meta.url);
let started = performance.now();
const { handler } = await import(pathToFileURL(handlerPath).href);
const importS = (performance.now() - started) / 1000;

if (mode === 'once') {
  started = performance.now();
  const answer = await handler(event(arg, {}));
  const figures = {
    import_s: importS,
    first_request_s: (performance.now() - started) / 1000,
    status: answer.statusCode,
    peak_rss_mb: peakRssMb(),
  };
  console.log(`\nBENCH ${JSON.stringify(figures)}`);
  process.exit(0); // the S3 client's keep-alive sockets would hold the process open
} else if (mode === 'serve') {
  const sharp = (await import('sharp')).default;
  let queue = Promise.resolve();
  http.createServer((req, res) => {
    const path = decodeURIComponent(req.url.split('?')[0]);
    if (path === '/healthcheck') return res.end('ok');
    if (path === '/_bench/instance') {
      const figures = { import_s: importS, libvips_threads: sharp.concurrency(), peak_rss_mb: peakRssMb() };
      return res.end(JSON.stringify(figures));
    }
    const { host, ...headers } = req.headers;
    queue = queue.then(async () => {
      let answer;
      const begun = performance.now();
      try {
        answer = await handler(event(path, headers));
      } catch (error) {
        answer = { statusCode: 500, body: String(error) };
      }
      const handlerMs = performance.now() - begun;
      const body = answer.isBase64Encoded ? Buffer.from(answer.body, 'base64') : Buffer.from(answer.body || '');
      res.writeHead(answer.statusCode, {
        ...(answer.headers || {}),
        'x-bench-handler-ms': handlerMs.toFixed(3),
        'Content-Length': body.length,
      });
      res.end(body);
    });
  }).listen(Number(arg), '127.0.0.1');
} else {
  console.error('usage: node instance.mjs serve HANDLER.mjs PORT | once HANDLER.mjs PATH');
  process.exit(2);
}
