/** Types of bench/cost.mjs, for the Node-side tests. */

export declare const DO_BILLED_GB: number;
export declare const QUEUE_OPERATION_BYTES: number;
export declare const QUEUE_MESSAGE_OVERHEAD_BYTES: number;

export interface MeasuredTotals {
	emails: number;
	requests: number;
	cpu_ms: number;
	d1_rows_read: number;
	d1_rows_written: number;
	queue_messages: number;
	queue_bytes: number;
	do_rpcs: number;
	do_ms_per_rpc?: number;
	do_rows_written_per_rpc?: number;
	r2_class_a?: number;
	r2_class_b?: number;
}

export type Quantities = Record<string, number>;

export interface Price {
	label: string;
	usd: number;
	per: number;
	unit: string;
	source: string;
	note?: string;
}

export interface Prices {
	read: string;
	items: Record<string, Price>;
}

export interface LineItem {
	item: string;
	label: string;
	per_email: number;
	unit_price: string;
	usd_per_million: number;
	share: number;
}

export interface CostTable {
	prices_read: string;
	total_usd_per_million: number;
	items: LineItem[];
}

export declare function quantitiesPerEmail(totals: MeasuredTotals): Quantities;
export declare function costPerMillion(quantities: Quantities, prices: Prices): CostTable;
export declare function costScenarios(
	results: Record<string, unknown>,
	prices: Prices,
): { note: string; batch_of_100: CostTable & { scenario: string }; single_sends: (CostTable & { scenario: string }) | null } | null;
