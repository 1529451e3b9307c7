/** `isola inspect` output: aligned text for people, JSON for machines. */
import { formatSig, type ModuleInfo } from '../wasm/index.js';

export interface ArtifactFacts { fuel: boolean; maxMemoryBytes: number | undefined }

const PAGE = 65536;

function kindText(info: ModuleInfo): string {
  if (info.kind === 'component') return 'component (WebAssembly component model; isola runs core modules only)';
  if (info.wasi === 'command') return 'WASI command (exports _start)';
  if (info.wasi === 'reactor') return 'WASI reactor (no _start; call its exports with --invoke)';
  return 'plain module';
}

function bytesText(n: number): string {
  if (n >= 1024 ** 3 && n % 1024 ** 3 === 0) return `${n / 1024 ** 3} GiB`;
  if (n >= 1024 ** 2 && n % 1024 ** 2 === 0) return `${n / 1024 ** 2} MiB`;
  if (n >= 1024 && n % 1024 === 0) return `${n / 1024} KiB`;
  return `${n} bytes`;
}

const pages = (n: number): string => `${n} page${n === 1 ? '' : 's'} (${bytesText(n * PAGE)})`;

/** Rows of cells as left-aligned columns. */
function table(rows: string[][]): string[] {
  const widths: number[] = [];
  for (const r of rows) r.forEach((c, i) => (widths[i] = Math.max(widths[i] ?? 0, c.length)));
  return rows.map((r) => `  ${r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')}`.trimEnd());
}

function section(title: string, rows: string[][]): string[] {
  return [`${title} (${rows.length}):`, ...table(rows)];
}

const typeText = (e: { kind: string; sig?: Parameters<typeof formatSig>[0]; type?: string }): string =>
  e.sig ? formatSig(e.sig) : (e.type ?? '');

export function formatInspect(file: string, info: ModuleInfo, artifact: ArtifactFacts | null): string {
  const out = [`${file}: ${kindText(info)}, ${info.size} bytes`];
  if (artifact) {
    out.push(`isola artifact: fuel metering ${artifact.fuel ? 'yes' : 'no'}, memory cap ${artifact.maxMemoryBytes === undefined ? 'none' : bytesText(artifact.maxMemoryBytes)}`);
  }
  if (info.kind === 'component') return `${out.join('\n')}\n`;
  out.push(...section('imports', info.imports.map((i) => [`${i.module}.${i.name}`, i.kind, typeText(i)])));
  out.push(...section('exports', info.exports.map((e) => [e.name, e.kind, typeText(e)])));
  out.push(...section('memories', info.memories.map((m) => [
    String(m.index),
    `initial ${pages(m.initialPages)}, maximum ${m.maximumPages === null ? 'none' : pages(m.maximumPages)}`
      + `${m.imported ? ', imported' : ''}${m.shared ? ', shared' : ''}${m.memory64 ? ', memory64' : ''}`,
  ])));
  out.push(...section('tables', info.tables.map((t) => [
    String(t.index), t.elemType, `initial ${t.initial}, maximum ${t.maximum ?? 'none'}${t.imported ? ', imported' : ''}`,
  ])));
  out.push(`functions: ${info.functions.defined} defined, ${info.functions.imported} imported; globals: ${info.globals}; `
    + `start function: ${info.start === null ? 'none' : info.start}`);
  out.push(...section('custom sections', info.customSections.map((c) => [c.name, `${c.size} bytes`])));
  return `${out.join('\n')}\n`;
}

export function inspectJson(file: string, info: ModuleInfo, artifact: ArtifactFacts | null): string {
  const { functionNames, ...rest } = info;
  const json = { file, ...rest, functionNames: Object.fromEntries(functionNames ?? []), artifact };
  return `${JSON.stringify(json, null, 2)}\n`;
}
