// Elementwise kernels: unary math, activations and Clip, broadcast binary ops, variadic ops and Where, Cast.
// Only kernel files are re-exported (helpers live in broadcast.ts, dtypes.ts and math.ts).
export { Abs, Neg, Sign, Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Round, Sin, Cos, Tan, Asin, Acos, Atan, Sinh, Cosh, Asinh, Acosh, Atanh, Erf, Not, BitwiseNot, IsNaN, IsInf } from "./unary.js";
export * from "./activations.js";
export {
  Add,
  Sub,
  Mul,
  Div,
  Mod,
  Pow,
  Equal,
  Greater,
  Less,
  GreaterOrEqual,
  LessOrEqual,
  And,
  Or,
  Xor,
  BitwiseAnd,
  BitwiseOr,
  BitwiseXor,
  BitShift,
  PRelu,
} from "./binary.js";
export * from "./variadic.js";
export { Cast, CastLike } from "./cast.js";
