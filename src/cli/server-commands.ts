/**
 * The function-server commands on the command line: `serve`, and the admin client commands `deploy`,
 * `functions`, `logs`, `activate`, `rollback`, `rm`. Each command's code is loaded only when it runs.
 */
import type { Command } from 'commander';
import type { DeployFlags } from './deploy.js';
import type { LogsFlags } from './logs.js';
import type { Recorder } from './program.js';
import type { ServeFlags } from './serve.js';
import type { ServerFlags } from './server-flags.js';


const collect = (value: string, previous: string[] | undefined): string[] => [...(previous ?? []), value];

function serverOptions(command: Command): Command {
  return command
    .option('--server <url>', 'the admin API (default $ISOLA_SERVER, else ./.isola/admin-url, else http://127.0.0.1:3000)')
    .option('--token <token>', 'admin token (default $ISOLA_TOKEN, else ./.isola/admin-token)');
}

function serveCommand(program: Command, record: Recorder): void {
  program.command('serve')
    .argument('[module]', 'serve this one module (a wasi:http component or a CGI command) on every path, no manifest')
    .description('run the function server: serves MODULE, or ./isola.toml if present; takes deploys on /admin')
    .option('--listen <host:port>', 'address to listen on (default 127.0.0.1:3000; port 0 picks a free one)')
    .option('--admin-listen <host:port>', 'serve the admin API here only (default: on --listen)')
    .option('--data-dir <dir>', 'state: versions, admin token, logs (default ./.isola)')
    .option('--manifest <file>', 'serve this manifest instead of ./isola.toml')
    .option('--runtime-config <file>', 'key-value store config: [key-value-store.NAME] tables (type = embedded, redis or nats)')
    .option('--kv <store>', 'quick mode: grant the module a key-value store (repeatable)', collect)
    .option('--admin-token <token>', 'admin API token (default: generated on first start, stored in the data dir)')
    .option('--isolation <kind>', 'default isolation for functions: inline, worker or process (default process)')
    .option('--allow-dir <dir>', 'a directory deploys may grant, with its subfolders (repeatable; default DATA-DIR/files)', collect)
    .option('--allow-isolation <list>', 'isolations deploys may ask for, e.g. process,worker (default process and --isolation)', collect)
    .option('--max-connections <n>', 'connections served at once; past it 503 (default 1024)')
    .option('--send-timeout <duration>', 'drop a client that reads nothing of its response for this long (default 60s)')
    .option('--log-level <level>', 'fatal, error, warn, info (default), debug, trace or silent')
    .option('--drain-timeout <duration>', 'on SIGTERM/SIGINT, wait this long for in-flight requests (default 10s)')
    .option('--idle-timeout <duration>', "close a function's cells after it has been idle this long, unless it says (default 5m; 0: never)")
    .option('--spare-cells <n>', 'jailed cells kept started for cold starts (default 2; 0: none)')
    .option('--max-functions <n>', 'functions the server holds at most; more deploys are refused (default 10000)')
    .option('--max-tenants <n>', 'tenants the server holds at most; more deploys are refused (default 10000)')
    .option('--cluster <url>', 'join a cluster over NATS with JetStream (nats://host:port); credentials and TLS go in [cluster] of isola.toml')
    .option('--cluster-name <name>', 'which cluster on that NATS (default "default"): names its subjects and buckets')
    .option('--node-id <id>', "this node's id in the cluster (default: kept in DATA-DIR/node-id)")
    .action(record(async (module: string | undefined, o: ServeFlags) => (await import('./serve.js')).serveCommand(o, module)));
}

interface DeployOptions extends ServerFlags {
  name: string; route: string; fuel?: string; maxMemory?: string; timeout?: string; maxConcurrency?: string;
  maxBody?: string; env?: string[]; isolation?: string; allowOutbound?: string[]; kv?: string[]; tenant?: string; idleTimeout?: string;
  activate: boolean;
}

function deployCommand(program: Command, record: Recorder): void {
  // --dir and --dir-ro share one list, so preopens keep their command-line order across both.
  const preopens: NonNullable<DeployFlags['preopens']> = [];
  const preopen = (readOnly: boolean) => (spec: string) => {
    preopens.push({ spec, readOnly });
    return preopens;
  };
  serverOptions(program.command('deploy')
    .description('upload a module as a new version of a function and switch to it')
    .argument('<file>', 'a .wasm module (a WASI command speaking CGI)')
    .requiredOption('--name <name>', 'function name: a-z, 0-9 and -, at most 63 characters')
    .requiredOption('--route <route>', 'route: /exact, /users/:id, /static/...')
    .option('--fuel <n>', 'instruction budget per request')
    .option('--max-memory <size>', 'memory cap per instance: bytes, or with K/KiB, M/MiB, G/GiB')
    .option('--timeout <duration>', 'wall-clock limit per request: 500ms, 2s, 1m')
    .option('--max-concurrency <n>', 'requests running at once (more wait in a bounded queue)')
    .option('--max-body <size>', 'largest request body')
    .option('--env <name[=value]>', "give the guest an environment variable (NAME alone copies this shell's)", collect)
    .option('--dir <host[::guest]>', "grant read-write access to a directory on the server's host", preopen(false))
    .option('--dir-ro <host[::guest]>', "grant read-only access to a directory on the server's host", preopen(true))
    .option('--isolation <kind>', 'inline, worker or process (default: the server\'s)')
    .option('--allow-outbound <url>', 'a wasi:http guest may send requests here: scheme://host[:port], * patterns as Spin (repeatable)', collect)
    .option('--kv <store>', 'grant a key-value store by name (repeatable; a store without config is embedded on the server)', collect)
    .option('--tenant <name>', 'tenant label: functions of one tenant may share cells (default: the function\'s own name)')
    .option('--idle-timeout <duration>', 'close its cells after this long without a request: 30s, 5m; 0: never (default: the server\'s)')
    .option('--no-activate', 'store the version without switching to it'))
    .action(record(async (file: string, o: DeployOptions) => (await import('./deploy.js')).deployCommand(file, { ...o, preopens })));
}

function adminCommands(program: Command, record: Recorder): void {
  serverOptions(program.command('functions')
    .description('list the functions on the server, with their versions (* = active)')
    .option('--json', 'machine-readable output'))
    .action(record(async (o: ServerFlags & { json?: boolean }) => (await import('./functions.js')).functionsCommand(o)));
  serverOptions(program.command('logs')
    .description("a function's log: its guests' stderr and why requests failed, one line per record")
    .argument('<name>', 'function name')
    .option('-f, --follow', 'keep printing new lines as they are written')
    .option('--since <time>', 'only lines newer than a duration (10m, 1h) or an ISO time (2026-01-31T12:00:00Z)')
    .option('--tail <n>', 'only the last N lines (with --follow: before the new ones)')
    .option('--json', 'the records as JSON lines'))
    .action(record(async (name: string, o: LogsFlags) => (await import('./logs.js')).logsCommand(name, o)));
  serverOptions(program.command('activate')
    .description('switch a function to one of its stored versions (see isola functions)')
    .argument('<name>', 'function name')
    .argument('<version>', 'version id'))
    .action(record(async (name: string, version: string, o: ServerFlags) => (await import('./activate.js')).activateCommand(name, version, o)));
  serverOptions(program.command('rollback')
    .description('switch a function back to the version that was active before the current one')
    .argument('<name>', 'function name'))
    .action(record(async (name: string, o: ServerFlags) => (await import('./rollback.js')).rollbackCommand(name, o)));
  serverOptions(program.command('rm')
    .description('delete a function and its versions')
    .argument('<name>', 'function name'))
    .action(record(async (name: string, o: ServerFlags) => (await import('./rm.js')).rmCommand(name, o)));
}

function kvCommands(program: Command, record: Recorder): void {
  const kv = program.command('kv').description("read and change the server's key-value stores (the ones guests use)");
  serverOptions(kv.command('stores')
    .description('list the stores: configured, opened, or granted to a function')
    .option('--json', 'machine-readable output'))
    .action(record(async (o: ServerFlags & { json?: boolean }) => (await import('./kv.js')).kvStoresCommand(o)));
  serverOptions(kv.command('ls')
    .description("list a store's keys, one per line")
    .argument('<store>', 'store name')
    .argument('[prefix]', 'only keys starting with this')
    .option('--json', 'a JSON array'))
    .action(record(async (store: string, prefix: string | undefined, o: ServerFlags & { json?: boolean }) => (await import('./kv.js')).kvListCommand(store, prefix, o)));
  serverOptions(kv.command('get')
    .description('print a value (its bytes, as stored)')
    .argument('<store>', 'store name')
    .argument('<key>', 'key'))
    .action(record(async (store: string, key: string, o: ServerFlags) => (await import('./kv.js')).kvGetCommand(store, key, o)));
  serverOptions(kv.command('set')
    .description('set a value: the argument, or --file')
    .argument('<store>', 'store name')
    .argument('<key>', 'key')
    .argument('[value]', 'the value as text')
    .option('--file <file>', "the value: a file's bytes (- for stdin)"))
    .action(record(async (store: string, key: string, value: string | undefined, o: ServerFlags & { file?: string }) => (await import('./kv.js')).kvSetCommand(store, key, value, o)));
  serverOptions(kv.command('rm')
    .description('delete a key')
    .argument('<store>', 'store name')
    .argument('<key>', 'key'))
    .action(record(async (store: string, key: string, o: ServerFlags) => (await import('./kv.js')).kvRemoveCommand(store, key, o)));
}

/** `isola cluster status`: the admin API's view of the cluster. */
function clusterCommands(program: Command, record: Recorder): void {
  const cluster = program.command('cluster').description('the nodes of a cluster (isola serve --cluster)');
  serverOptions(cluster.command('status')
    .description('list the nodes: state, load, versions, when last seen, clock skew (* = the node asked)'))
    .option('--json', 'machine-readable output')
    .action(record(async (o: ServerFlags & { json?: boolean }) => (await import('./cluster.js')).clusterStatusCommand(o)));
}

export function serverCommands(program: Command, record: Recorder): void {
  serveCommand(program, record);
  deployCommand(program, record);
  adminCommands(program, record);
  kvCommands(program, record);
  clusterCommands(program, record);
}
