// Baseline (a): the least a Node.js host can do per request — a bare node:http server answering
// "hello\n" (what the Wasm hello writes). isola is one Node.js process too, so this is its ceiling.
//   node dist/bench/http/node-hello.js PORT
import { createServer } from 'node:http';

const port = Number(process.argv[2]);
const body = Buffer.from('hello\n');
createServer((_req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': body.length });
  res.end(body);
}).listen(port, '127.0.0.1');
process.on('SIGTERM', () => process.exit(0));
