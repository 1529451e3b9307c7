// Runs node-hello.ts as its own process (isola's server is one too) and waits until it answers.
import { fileURLToPath } from 'node:url';
import { startChild, waitReady, type Child } from './servers.js';

const SCRIPT = fileURLToPath(new URL('./node-hello.js', import.meta.url));

export async function startNodeHello(port: number): Promise<Child> {
  const child = startChild(process.execPath, [SCRIPT, String(port)]);
  await waitReady(child, `http://127.0.0.1:${port}/`, 'hello\n');
  return child;
}
