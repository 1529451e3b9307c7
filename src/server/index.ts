export { startServer, SERVER_DEFAULTS, type ServerOptions, type RunningServer } from './start-server.js';
export { drainOnSignal } from './drain.js';
export { parseListen, isLoopback, DEFAULT_LISTEN } from './listen-address.js';
export { LOG_LEVELS, type LogLevel } from './logger.js';
export { TOKEN_FILE } from './admin-token.js';
