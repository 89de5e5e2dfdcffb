// Scalar math of the elementwise kernels (not kernels themselves).

// W. J. Cody's rational Chebyshev approximations of erf/erfc (netlib specfun CALERF, 1969/1985):
// relative error below 1e-15 over the whole range.
const A0 = 3.1611237438705655;
const A1 = 113.86415415105016;
const A2 = 377.485237685302;
const A3 = 3209.3775891384694;
const A4 = 0.18577770618460315;
const B0 = 23.601290952344122;
const B1 = 244.02463793444417;
const B2 = 1282.6165260773723;
const B3 = 2844.236833439171;
const C = [
  0.5641884969886701, 8.883149794388377, 66.11919063714163, 298.6351381974001, 881.952221241769, 1712.0476126340707, 2051.0783778260716,
  1230.3393547979972, 2.1531153547440383e-08,
] as const;
const D = [15.744926110709835, 117.6939508913125, 537.1811018620099, 1621.3895745666903, 3290.7992357334597, 4362.619090143247, 3439.3676741437216, 1230.3393548037495] as const;
const P = [0.30532663496123236, 0.36034489994980445, 0.12578172611122926, 0.016083785148742275, 0.0006587491615298378, 0.016315387137302097] as const;
const Q = [2.568520192289822, 1.8729528499234604, 0.5279051029514285, 0.06051834131244132, 0.0023352049762686918] as const;
const SQRPI = 0.5641895835477563; // 1/sqrt(pi)

/** erfc(y) for y > 0.46875 (Cody's two outer ranges), as exp(-y^2) * R(y) with the exponential split for accuracy. */
function erfcPos(y: number): number {
  let r: number;
  if (y <= 4) {
    let num = C[8] * y;
    let den = y;
    num = (num + C[0]) * y;
    den = (den + D[0]) * y;
    num = (num + C[1]) * y;
    den = (den + D[1]) * y;
    num = (num + C[2]) * y;
    den = (den + D[2]) * y;
    num = (num + C[3]) * y;
    den = (den + D[3]) * y;
    num = (num + C[4]) * y;
    den = (den + D[4]) * y;
    num = (num + C[5]) * y;
    den = (den + D[5]) * y;
    num = (num + C[6]) * y;
    den = (den + D[6]) * y;
    r = (num + C[7]) / (den + D[7]);
  } else {
    if (y >= 26.6) return 0;
    const z = 1 / (y * y);
    let num = P[5] * z;
    let den = z;
    num = (num + P[0]) * z;
    den = (den + Q[0]) * z;
    num = (num + P[1]) * z;
    den = (den + Q[1]) * z;
    num = (num + P[2]) * z;
    den = (den + Q[2]) * z;
    num = (num + P[3]) * z;
    den = (den + Q[3]) * z;
    r = (z * (num + P[4])) / (den + Q[4]);
    r = (SQRPI - r) / y;
  }
  const ys = Math.trunc(y * 16) / 16;
  const del = (y - ys) * (y + ys);
  return Math.exp(-ys * ys) * Math.exp(-del) * r;
}

/** The error function, accurate to about 1e-15 relative. */
export function erf(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875) {
    const z = y > 1.11e-16 ? y * y : 0;
    let num = A4 * z;
    let den = z;
    num = (num + A0) * z;
    den = (den + B0) * z;
    num = (num + A1) * z;
    den = (den + B1) * z;
    num = (num + A2) * z;
    den = (den + B2) * z;
    return (x * (num + A3)) / (den + B3);
  }
  if (y >= 6) return x > 0 ? 1 : -1; // erfc(6) < 2^-54
  if (Number.isNaN(y)) return Number.NaN;
  const r = 0.5 - erfcPos(y) + 0.5;
  return x < 0 ? -r : r;
}

/** The complementary error function 1 - erf(x), with full relative accuracy for large x. */
export function erfc(x: number): number {
  const y = Math.abs(x);
  if (y <= 0.46875 || Number.isNaN(y)) return 1 - erf(x);
  const r = erfcPos(y);
  return x < 0 ? 2 - r : r;
}

/** Round half to even (ONNX Round, numpy.round). */
export function roundEven(x: number): number {
  const r = Math.round(x); // half up
  return r - x === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/** C's pow (numpy, ONNX): differs from JS `**` where the result is 1 for a NaN or infinite operand. */
export function powC(a: number, b: number): number {
  if (a === 1 || b === 0) return 1;
  if (a === -1 && (b === Number.POSITIVE_INFINITY || b === Number.NEGATIVE_INFINITY)) return 1;
  return a ** b;
}

/** C's pow for integers: truncated like a C cast of pow's double result (0 for negative powers of |a| > 1). */
export function powInt(a: number, b: number): number {
  if (b < 0) return a === 1 ? 1 : a === -1 ? (b % 2 === 0 ? 1 : -1) : a === 0 ? 0 : 0;
  return Math.trunc(a ** b);
}

/** Integer power of bigints with wrap-around to 64 bits (repeated squaring, no huge intermediates). */
export function powBig(a: bigint, b: bigint, unsigned: boolean): bigint {
  if (b < 0n) return a === 1n ? 1n : a === -1n ? (b % 2n === 0n ? 1n : -1n) : 0n;
  let r = 1n;
  let base = a;
  let e = b;
  const wrap = unsigned ? (v: bigint) => BigInt.asUintN(64, v) : (v: bigint) => BigInt.asIntN(64, v);
  while (e > 0n) {
    if (e & 1n) r = wrap(r * base);
    e >>= 1n;
    if (e > 0n) base = wrap(base * base);
  }
  return r;
}

/** Python-style modulo: the result takes the divisor's sign (ONNX Mod with fmod=0). */
export function pyMod(a: number, b: number): number {
  const r = a % b;
  return r !== 0 && r < 0 !== b < 0 ? r + b : r;
}

export function pyModBig(a: bigint, b: bigint): bigint {
  if (b === 0n) return 0n;
  const r = a % b;
  return r !== 0n && r < 0n !== b < 0n ? r + b : r;
}

/** ln(1 + e^x) without overflow. */
export function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}
