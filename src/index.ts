/** Public typed API of ioas. */
export * from "./core/u64.js";
export * from "./core/errno.js";
export * from "./core/ranges.js";
export * from "./core/kernel.js";
export type * from "./core/topology/types.js";
export * from "./process/memory.js";
