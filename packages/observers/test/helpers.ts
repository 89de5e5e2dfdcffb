// Test helpers: a seeded generator, distributions, and the byte size of a state.

/** Mulberry32: a small seeded uniform generator in [0, 1). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n: number, lo: number, hi: number, seed = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = lo + (hi - lo) * r();
  return a;
}

/** Standard normal samples (Box-Muller), times sigma. */
export function gaussian(n: number, sigma = 1, seed = 1): Float32Array {
  const r = rng(seed);
  const a = new Float32Array(n);
  for (let i = 0; i < n; i += 2) {
    const u = 1 - r();
    const v = r();
    const m = Math.sqrt(-2 * Math.log(u)) * sigma;
    a[i] = m * Math.cos(2 * Math.PI * v);
    if (i + 1 < n) a[i + 1] = m * Math.sin(2 * Math.PI * v);
  }
  return a;
}

export function concat(...parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((s, p) => s + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

/** Bytes held by a state: typed arrays by byteLength, numbers 8, strings their length, recursively. */
export function stateBytes(v: unknown): number {
  if (ArrayBuffer.isView(v)) return v.byteLength;
  if (typeof v === "number") return 8;
  if (typeof v === "string") return v.length;
  if (typeof v === "boolean") return 1;
  if (v === null || v === undefined) return 0;
  if (Array.isArray(v)) return v.reduce((s: number, x) => s + stateBytes(x), 0);
  if (typeof v === "object") return Object.values(v).reduce((s: number, x) => s + stateBytes(x), 0);
  return 0;
}

/** Splits data into batches of the given sizes, cycling through them. */
export function* batches(data: Float32Array, sizes: readonly number[]): Generator<Float32Array> {
  let o = 0;
  let k = 0;
  while (o < data.length) {
    const n = sizes[k++ % sizes.length]!;
    yield data.subarray(o, Math.min(data.length, o + n));
    o += n;
  }
}
