/** Types of the pure helpers of bench/lib.mjs, for the Node-side tests. */

export declare function options<T extends Record<string, string | number | boolean>>(defaults: T, argv?: string[]): T;
export declare function median(values: number[]): number;
