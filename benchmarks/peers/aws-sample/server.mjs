// HTTP adapter for the image-processing Lambda handler of aws-samples/image-optimization: each GET
// becomes the Lambda Function URL event the handler reads ({requestContext: {http: {method, path}}}),
// its answer (base64 body, headers, status) the HTTP response. The handler file is loaded unmodified
// from where it lies; its S3 client reads AWS_ENDPOINT_URL_S3 and the region from the environment.
//
//   node server.mjs HANDLER.mjs PORT [PROCESSES]
//
// PROCESSES workers (node:cluster) share the port, one request at a time each as Lambda runs it
// (requests beyond that wait in the worker's queue). GET /healthcheck answers 200.
import cluster from 'node:cluster';
import http from 'node:http';
import { register } from 'node:module';
import { pathToFileURL } from 'node:url';

const [handlerPath, port, processes = '1'] = process.argv.slice(2);

if (cluster.isPrimary && Number(processes) > 1) {
  for (let i = 0; i < Number(processes); i++) cluster.fork();
  cluster.on('exit', (worker, code) => { if (code) process.exitCode = code; });
  process.on('SIGINT', () => { for (const w of Object.values(cluster.workers)) w.kill(); process.exit(0); });
} else {
  register('./resolve.mjs', import.meta.url);
  const { handler } = await import(pathToFileURL(handlerPath).href);
  let queue = Promise.resolve();
  http.createServer((req, res) => {
    const path = decodeURIComponent(req.url.split('?')[0]);
    if (path === '/healthcheck') return res.end('ok');
    const event = {
      rawPath: path,
      headers: req.headers,
      requestContext: { http: { method: req.method, path } },
    };
    queue = queue.then(async () => {
      let answer;
      try {
        answer = await handler(event);
      } catch (error) {
        answer = { statusCode: 500, body: String(error) };
      }
      const body = answer.isBase64Encoded ? Buffer.from(answer.body, 'base64') : Buffer.from(answer.body || '');
      res.writeHead(answer.statusCode, { ...(answer.headers || {}), 'Content-Length': body.length });
      res.end(body);
    });
  }).listen(Number(port), '127.0.0.1');
}
