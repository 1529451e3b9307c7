/**
 * The most data one capability frame carries (a body chunk, a call, a reply's data): capability code sizes
 * its pieces by it, and the cell protocol refuses larger frames (cells/protocol/cap-channel.ts).
 */
export const MAX_CAP_DATA = 1024 * 1024;
