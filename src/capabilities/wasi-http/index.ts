export { serveHttpRequest, incomingHandlerExport, missingHandlerImports, type IncomingHttpRequest, type HandledRequest } from './handler.js';
export { parseHead, type ResponseSink, type ResponseHead, type HeadOrError } from './response-sink.js';
export { channelDone, channelRequestBody, channelResponseSink, HttpOp, Reply, FLOW_WINDOW, type CapabilityChannel } from './channel.js';
export { Fields, FORBIDDEN_FIELDS, CONNECTION_FIELDS } from './fields.js';
export type { RequestBody } from './types.js';
