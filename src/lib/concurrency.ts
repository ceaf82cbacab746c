/**
 * Maps `items` through `fn` with at most `limit` calls in flight, keeping the order of results.
 * Workers allow 6 simultaneous outgoing connections per invocation; more only queue up inside the runtime.
 */
export async function mapWithConcurrency<T, R>(
	items: readonly T[],
	limit: number,
	fn: (item: T, index: number) => Promise<R>,
): Promise<R[]> {
	const results = new Array<R>(items.length);
	let next = 0;
	const worker = async () => {
		while (next < items.length) {
			const index = next++;
			results[index] = await fn(items[index] as T, index);
		}
	};
	await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
	return results;
}

export type Settled<T> = { kind: "value"; value: T } | { kind: "threw"; error: unknown } | { kind: "timeout" };

/**
 * How `promise` settles within `ms` (at once "timeout" when `ms` <= 0), as a value: for calls that cannot be aborted
 * (socket reads and writes, a binding's RPC). A late rejection is absorbed, never unhandled.
 */
export async function settleWithin<T>(promise: Promise<T>, ms: number): Promise<Settled<T>> {
	const settled = promise.then(
		(value): Settled<T> => ({ kind: "value", value }),
		(error: unknown): Settled<T> => ({ kind: "threw", error }),
	);
	if (ms <= 0) return { kind: "timeout" };
	let timer: ReturnType<typeof setTimeout> | undefined;
	const timeout = new Promise<Settled<T>>((resolve) => {
		timer = setTimeout(() => resolve({ kind: "timeout" }), ms);
	});
	try {
		return await Promise.race([settled, timeout]);
	} finally {
		if (timer !== undefined) clearTimeout(timer);
	}
}
