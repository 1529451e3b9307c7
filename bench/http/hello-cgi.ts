// The CGI hello for isola, assembled from fixtures/hello-cgi.wat with a chosen body (the hot-swap
// phase deploys versions that differ only in their body, so each deploy is a new version).
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../support/project-root.js';
import { watToWasm } from '../wat.js';

const WAT = fromRoot('bench', 'http', 'fixtures', 'hello-cgi.wat');

export async function helloCgi(body = 'hello\n'): Promise<Uint8Array> {
  if (!/^[\w ,.!-]*\n?$/.test(body)) throw new Error(`hello body must be plain text: ${JSON.stringify(body)}`);
  const header = 'content-type: text/plain\n\n';
  const escaped = body.replace(/\n/g, '\\n');
  const source = readFileSync(WAT, 'utf8')
    .replace('{{BODY}}', escaped)
    .replace('{{LEN}}', String(header.length + body.length));
  return watToWasm(source, WAT);
}
