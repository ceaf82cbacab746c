/**
 * Cost per 1,000,000 delivered emails from the benchmark's measured counts and the list prices in bench/prices.json.
 * Pure functions: `npm run bench` passes in what it measured, bench/report.mjs prints the result.
 */

/** Memory a Durable Object is billed for (128 MB, as the pricing page's examples count it: 128 MB / 1 GB). */
export const DO_BILLED_GB = 0.128;
/** Queues bill an operation per 64 KB written, read or deleted, with 1 KB = 1,000 bytes. */
export const QUEUE_OPERATION_BYTES = 64_000;
/** The metadata Queues adds to each message. */
export const QUEUE_MESSAGE_OVERHEAD_BYTES = 100;

/**
 * Billable quantities per delivered email from measured totals over `emails` delivered emails:
 * `requests` (HTTP requests and queue consumer invocations), `cpu_ms` (Worker CPU, Durable Object excluded),
 * `d1_rows_read`, `d1_rows_written`, `queue_messages` and `queue_bytes` (every message any phase sent; each is
 * written, read and deleted once: retries would add reads), `do_rpcs`, `do_ms_per_rpc` (the Durable Object's time per
 * call, a lower bound of its billed wall-clock duration), `do_rows_written_per_rpc`, `r2_class_a`, `r2_class_b`.
 */
export function quantitiesPerEmail(totals) {
	const per = (value) => (value ?? 0) / Math.max(1, totals.emails);
	const averageBytes = totals.queue_messages > 0 ? totals.queue_bytes / totals.queue_messages : 0;
	const operationsPerMessage = 3 * Math.ceil((averageBytes + QUEUE_MESSAGE_OVERHEAD_BYTES) / QUEUE_OPERATION_BYTES);
	return {
		workers_requests: per(totals.requests),
		workers_cpu_ms: per(totals.cpu_ms),
		d1_rows_read: per(totals.d1_rows_read),
		d1_rows_written: per(totals.d1_rows_written),
		queues_operations: per(totals.queue_messages) * operationsPerMessage,
		do_requests: per(totals.do_rpcs),
		do_duration_gb_s: (per(totals.do_rpcs) * (totals.do_ms_per_rpc ?? 0) * DO_BILLED_GB) / 1000,
		do_rows_written: per(totals.do_rpcs) * (totals.do_rows_written_per_rpc ?? 0),
		r2_class_a: per(totals.r2_class_a),
		r2_class_b: per(totals.r2_class_b),
	};
}

/**
 * Line items in USD per 1,000,000 emails: each quantity per email × 1,000,000 × its price. Throws on a quantity
 * without a price, so a new line item cannot be dropped silently.
 */
export function costPerMillion(quantities, prices) {
	const items = Object.entries(quantities).map(([key, perEmail]) => {
		const price = prices.items[key];
		if (!price) throw new Error(`bench/prices.json has no price for ${key}`);
		return {
			item: key,
			label: price.label,
			per_email: round(perEmail, 6),
			unit_price: `$${price.usd} / ${price.per.toLocaleString("en-US")} ${price.unit}`,
			usd_per_million: round((perEmail * 1_000_000 * price.usd) / price.per, 4),
		};
	});
	const total = items.reduce((sum, i) => sum + i.usd_per_million, 0);
	for (const i of items) i.share = total > 0 ? round(i.usd_per_million / total, 4) : 0;
	return { prices_read: prices.read, total_usd_per_million: round(total, 2), items };
}

function round(value, digits) {
	const f = 10 ** digits;
	return Math.round(value * f) / f;
}

/**
 * The cost tables `npm run bench` stores under `cost` in results.json, from its own results:
 * - `batch_of_100`: the pipeline phase as measured (emails accepted 100 per request, sent, confirmed by a webhook);
 * - `single_sends`: the same emails accepted one per request: the pipeline's consume and webhook counts, with its
 *   accept share replaced by the accept phase's single-send counts (calls, rows) and CPU, the batch phase's CPU per
 *   email taken out. Null when a phase it needs has no numbers yet.
 * The Durable Object's SQLite rows per RPC are the floor's measured rows per `admit` (the same RateLimiter class),
 * applied to every RPC.
 */
export function costScenarios(results, prices) {
	const t = results.pipeline_counts?.totals;
	if (!t || !(t.delivered > 0)) return null;
	const doRowsPerRpc = results.limiter?.do_rows_written_per_admit ?? 0;
	const batch = {
		emails: t.delivered,
		requests: t.requests,
		cpu_ms: t.cpu_ms,
		d1_rows_read: t.d1_rows_read,
		d1_rows_written: t.d1_rows_written,
		queue_messages: t.queue_messages,
		queue_bytes: t.queue_bytes,
		do_rpcs: t.do_rpcs,
		do_ms_per_rpc: t.do_rpcs > 0 ? t.do_ms / t.do_rpcs : 0,
		do_rows_written_per_rpc: doRowsPerRpc,
		r2_class_a: 0,
		r2_class_b: 0,
	};
	const out = {
		note: `Marginal cost at list prices read ${prices.read} (bench/prices.json): included allowances and the plan's monthly fee ignored. Plain sends: no R2 operations.`,
		batch_of_100: {
			scenario: "pipeline as measured: accepted 100 per request, sent, delivered by webhook",
			...costPerMillion(quantitiesPerEmail(batch), prices),
		},
		single_sends: null,
	};
	const accept = results.pipeline_counts?.per_delivered_email?.accept;
	const single = results.calls_per_send?.mailroom?.single;
	const acceptCpu = results.isolate?.mailroom;
	const batchCpu = results.batch?.cpu_ms_per_email;
	if (accept && single && acceptCpu && batchCpu !== undefined) {
		const perEmail = (total, acceptShare, singleShare) => total / t.delivered - acceptShare + singleShare;
		const doRpcs = perEmail(t.do_rpcs, accept.do_rpcs, single.do_rpcs);
		const singles = {
			emails: 1,
			requests: perEmail(t.requests, accept.invocations, 1),
			cpu_ms: perEmail(t.cpu_ms, batchCpu, acceptCpu.cpu_ms),
			d1_rows_read: perEmail(t.d1_rows_read, accept.d1_rows_read, single.d1_rows_read),
			d1_rows_written: perEmail(t.d1_rows_written, accept.d1_rows_written, single.d1_rows_written),
			queue_messages: perEmail(t.queue_messages, accept.queue_messages, single.queue_sends),
			queue_bytes: perEmail(t.queue_bytes, accept.queue_bytes, single.queue_bytes ?? 0),
			do_rpcs: doRpcs,
			do_ms_per_rpc: acceptCpu.do_ms,
			do_rows_written_per_rpc: doRowsPerRpc,
			r2_class_a: 0,
			r2_class_b: 0,
		};
		out.single_sends = {
			scenario: "the same emails accepted one per request (POST /emails)",
			...costPerMillion(quantitiesPerEmail(singles), prices),
		};
	}
	return out;
}
