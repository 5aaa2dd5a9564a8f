/**
 * Deterministic variety: the same router and salt always give the same number, different routers
 * different ones, so a fleet looks like a fleet without random state to keep.
 */
export function variation(index: number, salt: number): number {
  let x = (Math.imul(index + 1, 0x9e3779b1) ^ Math.imul(salt + 1, 0x85ebca6b)) >>> 0;
  x = Math.imul(x ^ (x >>> 16), 0x7feb352d) >>> 0;
  x = Math.imul(x ^ (x >>> 15), 0x846ca68b) >>> 0;
  return ((x ^ (x >>> 16)) >>> 0) / 0x100000000;
}

/** A smooth wave in [0, 1] over time, different per router and salt. */
export function wave(index: number, salt: number, milliseconds: number): number {
  const phase = variation(index, salt) * 2 * Math.PI;
  const t = milliseconds / 1000;
  return 0.5 + 0.3 * Math.sin(t / 3.7 + phase) + 0.2 * Math.sin(t * 1.3 + 2 * phase);
}
