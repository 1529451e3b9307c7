// A small seeded PRNG (splitmix32): the same seed gives the same cases on every machine.

export type Rng = {
  /** 0 <= n < 2^32 */
  u32(): number;
  /** 0 <= n < max */
  int(max: number): number;
  pick<T>(items: readonly T[]): T;
  chance(p: number): boolean;
};

export function rng(seed: number): Rng {
  let s = seed >>> 0;
  const u32 = (): number => {
    s = (s + 0x9e3779b9) >>> 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const int = (max: number): number => (max <= 1 ? 0 : Math.floor((u32() / 2 ** 32) * max));
  return { u32, int, pick: (items) => items[int(items.length)]!, chance: (p) => u32() / 2 ** 32 < p };
}

/** The seed of case `index` of a run seeded `seed`. */
export const caseSeed = (seed: number, index: number): number => rng((seed ^ Math.imul(index + 1, 0x27d4eb2d)) >>> 0).u32();
