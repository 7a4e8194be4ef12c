/**
 * A seeded 32-bit string hash (murmur3 mixing over UTF-16 code units). The sketch and the doorkeeper need two
 * independent hashes per key; calling this twice with different seeds gives them without allocating.
 */
export function hashKey(key: string, seed: number): number {
  let h = seed >>> 0;
  let i = 0;
  // Two code units per 32-bit block halves the number of mixing rounds for the long hex keys the relay uses.
  for (; i + 1 < key.length; i += 2) {
    h = mixBlock(h, (key.charCodeAt(i) | (key.charCodeAt(i + 1) << 16)) >>> 0);
    h = Math.imul(rotl(h, 13), 5) + 0xe6546b64;
  }
  if (i < key.length) h = mixBlock(h, key.charCodeAt(i));
  h ^= key.length;
  return fmix32(h);
}

function mixBlock(h: number, block: number): number {
  let k = Math.imul(block, 0xcc9e2d51);
  k = rotl(k, 15);
  k = Math.imul(k, 0x1b873593);
  return h ^ k;
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/** murmur3's finaliser: every input bit affects every output bit, so low bits are usable as an index. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
