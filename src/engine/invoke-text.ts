/**
 * `isola run --invoke` semantics as a library call: arguments converted exactly from text, results
 * formatted as the CLI prints them. One home for the CLI and the cell agent.
 */
import type { Instance } from './instance.js';
import { formatValue } from './values.js';

export function invokeAsText(instance: Instance, name: string, args: readonly string[]): string[] {
  const results = instance.invoke(name, args);
  const types = instance.compiled.info.exports.find((e) => e.name === name)!.sig!.results;
  return results.map((v, i) => formatValue(types[i]!, v));
}
