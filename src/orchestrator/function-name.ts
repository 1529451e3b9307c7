/**
 * What a function may be called: the one rule for isola.toml, the admin API and the CLI client (which
 * checks names before it builds a URL from them). No dependencies, so the CLI bundle stays small.
 * A tenant label (`tenant = "acme"`) follows the same rule.
 */
export const FUNCTION_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;

const RULE = "(expected lower-case letters, digits and '-', starting with a letter or digit, at most 63 characters)";

function quoted(name: string): string {
  return JSON.stringify(name.length > 60 ? `${name.slice(0, 57)}...` : name);
}

/** Why `name` is not a valid function name, or null if it is. */
export function functionNameProblem(name: string): string | null {
  if (FUNCTION_NAME.test(name)) return null;
  return `bad function name ${quoted(name)} ${RULE}`;
}

/** Why `label` is not a valid tenant label (the function-name rule), or null if it is. */
export function tenantProblem(label: string): string | null {
  if (FUNCTION_NAME.test(label)) return null;
  return `bad tenant ${quoted(label)} ${RULE}`;
}
