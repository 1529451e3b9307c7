/** The host↔cell protocol: frames, their typed payloads, and the streaming decoder. */
export { ByteReader, ByteWriter, copyBytes, plainView, protocolError } from './codec.js';
export {
  FrameType, FrameDecoder, encodeFrame, writeHeader, HEADER_BYTES, DEFAULT_MAX_FRAME_BYTES, MAX_CONTROL_FRAME_BYTES, HOST_TO_CELL,
  CELL_TO_HOST, CAP_HOST_TO_CELL, CAP_CELL_TO_HOST, TYPE_NAMES, type FrameHandler, type FrameAdmit, type DirectSink, type DecoderOptions,
} from './frame.js';
export {
  encodeLoad, decodeLoad, encodeInvoke, decodeInvoke, encodeResult, decodeResult, encodeError, decodeError,
  encodeEvalResult, decodeEvalResult, decodeUnload, MAX_HANDLE_BYTES, dataFrameSlot, DATA_INPUT, DATA_OUTPUT, DATA_STDERR, textBytes, bytesText,
  type LoadMessage, type LiftedParts, type OutputSlot, type VerifiedParts,
} from './messages.js';
export { FrameWriter, joinParts, writeParts, type FrameSink } from './writer.js';
export { monotonicMs } from './clock.js';
export { CAP_FD, MAX_CAP_DATA, MAX_CAP_FRAME_BYTES, capHead, capPayload } from './cap-channel.js';
