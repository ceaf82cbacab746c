/** Types of bench/compare.mjs, for the Node-side tests. */

export interface ComparisonRow {
	name: string;
	before: number | null;
	after: number | null;
	change_pct: number | null;
	worse: boolean;
}

export declare function flatten(value: unknown, prefix?: string, out?: Record<string, number>): Record<string, number>;
export declare function direction(name: string): "higher" | "lower" | null;
export declare function compareResults(before: unknown, after: unknown, threshold?: number): ComparisonRow[];
export declare function formatComparison(rows: ComparisonRow[], threshold: number): string;
export declare function committedResults(root: string): Record<string, unknown> | null;
