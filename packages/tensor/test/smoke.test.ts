import { expect, it } from "vitest";
import { computeQParams, dequantizeLinear, dynamicQuantizeLinear, f16ToF32, f32ToF16, quantizeLinear, tensor } from "../src/index.js";

it("smoke", () => {
  expect(f32ToF16(1)).toBe(0x3c00);
  expect(f16ToF32(0x3c00)).toBe(1);
  const x = tensor("float32", [4], Float32Array.of(-1, 0, 0.5, 2));
  const q = quantizeLinear(x, { scale: Float32Array.of(1), zeroPoint: Int32Array.of(0) }, "int8");
  expect([...q.data]).toEqual([-1, 0, 0, 2]);
  expect([...dequantizeLinear(q, { scale: Float32Array.of(1) }).data]).toEqual([-1, 0, 0, 2]);
  expect(computeQParams(-1, 2, { dtype: "uint8", symmetric: false })).toEqual({ scale: Math.fround(3 / 255), zeroPoint: 85 });
  expect(dynamicQuantizeLinear(x).zeroPoint).toBe(85);
});
