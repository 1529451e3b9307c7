/** SIGTERM/SIGINT → drain (stop accepting, finish in-flight work up to graceMs) → exit. The CLI wires it. */
export interface Closable {
  close(graceMs?: number): Promise<void>;
}

export function drainOnSignal(server: Closable, graceMs: number, signals: NodeJS.Signals[] = ['SIGTERM', 'SIGINT'], exit: (code: number) => void = (c) => process.exit(c)): () => void {
  let draining = false;
  const onSignal = (): void => {
    if (draining) return exit(1); // a second signal: stop waiting
    draining = true;
    server.close(graceMs).then(() => exit(0), () => exit(1));
  };
  for (const s of signals) process.on(s, onSignal);
  return () => {
    for (const s of signals) process.off(s, onSignal);
  };
}
