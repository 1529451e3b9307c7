/**
 * A one-line progress bar on stderr for `isola deploy`: bytes uploaded, then the server's phases.
 * Drawn only when stderr is a terminal, so pipes and logs never see carriage returns.
 */
const WIDTH = 24;

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 ** 2).toFixed(1)} MiB`;
}

/** `[#########...............]  38%  3.1/8.0 MiB  uploading` — pure, for tests. */
export function renderBar(done: number, total: number, label: string): string {
  const frac = total > 0 ? Math.min(1, done / total) : 1;
  const filled = Math.round(frac * WIDTH);
  const pct = `${Math.floor(frac * 100)}%`.padStart(4);
  return `[${'#'.repeat(filled)}${'.'.repeat(WIDTH - filled)}] ${pct}  ${formatBytes(done)}/${formatBytes(total)}  ${label}`;
}

export interface Progress {
  upload(sent: number, total: number): void;
  phase(name: string): void;
  /** Erases the bar (before the result or an error is printed). */
  done(): void;
}

const silent: Progress = { upload() {}, phase() {}, done() {} };

export function progressBar(stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return silent;
  let total = 0;
  let shown = false;
  const draw = (line: string): void => {
    const cols = stream.columns || 80;
    stream.write(`\r${line.slice(0, cols - 1)}\x1b[K`);
    shown = true;
  };
  return {
    upload(sent, size) {
      total = size;
      draw(renderBar(sent, size, sent < size ? 'uploading' : 'uploaded, waiting for the server'));
    },
    phase(name) {
      draw(renderBar(total, total, `server: ${name}`));
    },
    done() {
      if (shown) stream.write('\r\x1b[K');
      shown = false;
    },
  };
}
