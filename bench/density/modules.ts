// The functions bench:density deploys: the http bench's CGI hello (bench/http/fixtures/hello-cgi.wat), one
// distinct module per function (its body names it: "hello 00042\n", so each function is compiled and cached on
// its own, as different functions would be, and an answer shows which function gave it), and the sleeping
// guest (bench/fixtures/sleep-cgi.wat).
import { readFileSync } from 'node:fs';
import { fromRoot } from '../../support/project-root.js';
import { helloCgi } from '../http/hello-cgi.js';
import { watToWasm } from '../wat.js';

const DIGITS = 5;
const PLACEHOLDER = `hello ${'0'.repeat(DIGITS)}`;

export interface Hellos {
  /** Function i's module: the hello with body `hello NNNNN\n`. */
  bytes(i: number): Uint8Array;
  expect(i: number): string;
}

/** Assembles the hello once and writes each function's number into its data segment. */
export async function hellos(): Promise<Hellos> {
  const template = await helloCgi(`${PLACEHOLDER}\n`);
  const at = Buffer.from(template).indexOf(PLACEHOLDER);
  if (at < 0) throw new Error('the hello module does not hold its body as plain bytes');
  const digitsAt = at + PLACEHOLDER.length - DIGITS;
  const number = (i: number): string => {
    if (!(Number.isInteger(i) && i >= 0 && i < 10 ** DIGITS)) throw new Error(`hello number out of range: ${i}`);
    return String(i).padStart(DIGITS, '0');
  };
  return {
    bytes(i) {
      const b = template.slice();
      b.set(Buffer.from(number(i)), digitsAt);
      return b;
    },
    expect: (i) => `hello ${number(i)}\n`,
  };
}

export const SLEEP_BODY = 'slept\n';

export async function sleepCgi(): Promise<Uint8Array> {
  const wat = fromRoot('bench', 'fixtures', 'sleep-cgi.wat');
  return watToWasm(readFileSync(wat, 'utf8'), wat);
}
