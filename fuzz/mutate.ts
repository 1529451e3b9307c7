// Byte-level mutations of a valid module: the decoder, the rewriter and V8's validation all see
// inputs that are almost right, which is where bounds and index checks are tested hardest.
import type { Rng } from './rng.js';

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0x40, 0x0b, 0x60, 0x70, 0x6f, 0x41, 0x10, 0x11, 0x0e, 0xfc, 0xfd, 0xfe];

/** 1..8 mutations of a copy of `input`; `other` lends slices for splices. */
export function mutate(input: Uint8Array, other: Uint8Array, r: Rng): Uint8Array {
  let b = Array.from(input);
  for (let n = r.chance(0.6) ? 1 : 1 + r.int(8); n > 0 && b.length > 8; n--) {
    const at = 8 + r.int(b.length - 8); // keep the header: a bad magic is dull
    switch (r.int(8)) {
      case 0: b[at] = r.int(256); break;
      case 1: b[at] = r.pick(INTERESTING); break;
      case 2: b[at]! ^= 1 << r.int(8); break;
      case 3: b.splice(at, 1 + r.int(4)); break;
      case 4: b.splice(at, 0, ...Array.from({ length: 1 + r.int(4) }, () => r.pick(INTERESTING))); break;
      case 5: { // duplicate a slice
        const len = 1 + r.int(16);
        b.splice(at, 0, ...b.slice(at, at + len));
        break;
      }
      case 6: { // a slice of another module
        const from = r.int(other.length);
        b.splice(at, r.int(8), ...Array.from(other.subarray(from, from + 1 + r.int(32))));
        break;
      }
      default: b = b.slice(0, at); // truncate
    }
  }
  return Uint8Array.from(b);
}
