import type { AggregateName } from "./query-ast.js";
import type { Doc, Getter } from "./resolve-path.js";

/** Running state of one aggregate over one group. */
export interface Accumulator {
  add(doc: Doc): void;
  /** undefined leaves the field out of the row (§1.6: undefined values are not emitted). */
  result(): unknown;
}

/**
 * COUNT() is documented (§1.6); AVG/SUM/MIN/MAX are in the grammar but unverified on IoT Hub, so they
 * follow Cosmos DB as §1.2 recommends: missing values are skipped; SUM/AVG are undefined if any present
 * value is not a number; MIN/MAX order mixed types null < booleans < numbers < strings and are undefined
 * if any value is an object or array. SUM of nothing is 0, AVG/MIN/MAX of nothing are undefined.
 */
export function createAccumulator(name: AggregateName, arg: Getter | undefined): Accumulator {
  switch (name) {
    case "COUNT":
      return countAccumulator();
    case "SUM":
      return sumAccumulator(arg!, false);
    case "AVG":
      return sumAccumulator(arg!, true);
    case "MIN":
      return extremeAccumulator(arg!, -1);
    case "MAX":
      return extremeAccumulator(arg!, 1);
  }
}

function countAccumulator(): Accumulator {
  let n = 0;
  return {
    add: () => {
      n++;
    },
    result: () => n,
  };
}

function sumAccumulator(get: Getter, average: boolean): Accumulator {
  let sum = 0;
  let count = 0;
  let invalid = false;
  return {
    add: (doc) => {
      const v = get(doc);
      if (v === undefined) return;
      if (typeof v !== "number") invalid = true;
      else {
        sum += v;
        count++;
      }
    },
    result: () => {
      if (invalid) return undefined;
      if (!average) return sum;
      return count === 0 ? undefined : sum / count;
    },
  };
}

/** `want` is -1 for MIN (keep smaller values), 1 for MAX. */
function extremeAccumulator(get: Getter, want: -1 | 1): Accumulator {
  let best: unknown;
  let invalid = false;
  return {
    add: (doc) => {
      const v = get(doc);
      if (v === undefined || invalid) return;
      if (typeof v === "object" && v !== null) {
        invalid = true;
        return;
      }
      if (best === undefined || compareMixed(v, best) === want) best = v;
    },
    result: () => (invalid ? undefined : best),
  };
}

function typeRank(v: unknown): number {
  if (v === null) return 0;
  switch (typeof v) {
    case "boolean":
      return 1;
    case "number":
      return 2;
    default:
      return 3;
  }
}

function compareMixed(a: unknown, b: unknown): -1 | 0 | 1 {
  const ra = typeRank(a);
  const rb = typeRank(b);
  if (ra !== rb) return ra < rb ? -1 : 1;
  if (ra === 0) return 0;
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}
