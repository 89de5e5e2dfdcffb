import { ema } from "./ema.js";
import { entropy } from "./entropy.js";
import { minmax } from "./minmax.js";
import { mse } from "./mse.js";
import { percentile } from "./percentile.js";

/**
 * The built-in observers by name: a plain value to pass around and index (`OBSERVERS[name]`), not a
 * registry. Add your own by spreading: `{ ...OBSERVERS, mine }`.
 */
export const OBSERVERS = { minmax, ema, percentile, entropy, mse } as const;

/** The names of the built-in observers. */
export type ObserverName = keyof typeof OBSERVERS;
