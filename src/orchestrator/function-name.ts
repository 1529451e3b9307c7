/**
 * What a function may be called: the one rule for isola.toml, the admin API and the CLI client (which
 * checks names before it builds a URL from them). No dependencies, so the CLI bundle stays small.
 */
export const FUNCTION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

/** Why `name` is not a valid function name, or null if it is. */
export function functionNameProblem(name: string): string | null {
  if (FUNCTION_NAME.test(name)) return null;
  const text = JSON.stringify(name.length > 60 ? `${name.slice(0, 57)}...` : name);
  return `bad function name ${text} (expected lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters)`;
}
