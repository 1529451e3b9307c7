// Store URLs may carry credentials (redis://:password@host, nats://token@host): anything shown (an error,
// a log line, `describeBackend`) drops them.

/** `url` without its user-info part (replaced by `***` so one sees credentials were given). */
export function redactUrl(url: string): string {
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^@/?#]*@/i, '$1***@');
}
