/** Loading API data into a page: one resource per hook, optional polling while something is still moving. */
import { useCallback, useEffect, useRef, useState } from "preact/hooks";

export type Resource<T> = {
	data: T | undefined;
	error: unknown;
	loading: boolean;
	/** Loads again now (after a change the page made). */
	reload: () => void;
};

export type ResourceOptions<T> = {
	/** After each successful load: milliseconds until the next one, or null to stop polling. */
	refreshMs?: (data: T) => number | null;
};

/**
 * Loads `load()` whenever `key` changes; keeps the last data while reloading so a refresh does not flash. A load
 * that finishes after the key changed (or the page closed) is dropped.
 *
 * @example
 * const email = useResource(() => api.get<EmailObject>(`/emails/${id}`), id, { refreshMs: (e) => (pending(e) ? 2000 : null) });
 */
export function useResource<T>(load: () => Promise<T>, key: string, options: ResourceOptions<T> = {}): Resource<T> {
	const [state, setState] = useState<{ data: T | undefined; error: unknown; loading: boolean; key: string }>({
		data: undefined,
		error: undefined,
		loading: true,
		key,
	});
	const [tick, setTick] = useState(0);
	const loadRef = useRef(load);
	loadRef.current = load;
	const optionsRef = useRef(options);
	optionsRef.current = options;

	useEffect(() => {
		let live = true;
		let timer: ReturnType<typeof setTimeout> | undefined;
		setState((s) => ({ ...s, loading: true, key, ...(s.key === key ? {} : { data: undefined, error: undefined }) }));
		loadRef.current().then(
			(data) => {
				if (!live) return;
				setState({ data, error: undefined, loading: false, key });
				const next = optionsRef.current.refreshMs?.(data);
				if (next !== null && next !== undefined) timer = setTimeout(() => live && setTick((t) => t + 1), next);
			},
			(error: unknown) => {
				if (live) setState((s) => ({ ...s, error, loading: false, key }));
			},
		);
		return () => {
			live = false;
			if (timer) clearTimeout(timer);
		};
	}, [key, tick]);

	const reload = useCallback(() => setTick((t) => t + 1), []);
	return { data: state.data, error: state.error, loading: state.loading, reload };
}

/**
 * Forward-only cursors (`after` = the last item of the previous page) kept as a stack, so "back" needs no
 * `before` support from the API.
 */
export function useCursorStack(): {
	after: string | undefined;
	back: (() => void) | undefined;
	forward: (cursor: string | undefined, hasMore: boolean | undefined) => (() => void) | undefined;
} {
	const [stack, setStack] = useState<string[]>([]);
	return {
		after: stack.at(-1),
		back: stack.length > 0 ? () => setStack((s) => s.slice(0, -1)) : undefined,
		forward: (cursor, hasMore) => (cursor && hasMore ? () => setStack((s) => [...s, cursor]) : undefined),
	};
}

/** The API's OpenAPI document, fetched once: what the console may use (templates), and the providers it knows. */
type ApiDocument = {
	paths?: Record<string, unknown>;
	components?: { schemas?: Record<string, { properties?: Record<string, { enum?: unknown[] }> }> };
};
let document: Promise<ApiDocument> | undefined;

function apiDocument(): Promise<ApiDocument> {
	document ??= fetch("/openapi.json", { cache: "no-store" })
		.then((res) => (res.ok ? (res.json() as Promise<ApiDocument>) : {}))
		.catch(() => ({}));
	return document;
}

export function apiPaths(): Promise<Set<string>> {
	return apiDocument().then((doc) => new Set(Object.keys(doc.paths ?? {})));
}

/**
 * Every provider the Worker has, from its own OpenAPI document (the dead-letter replay's `provider` enum is the
 * registry's list), so a new provider needs no console change; empty while unknown.
 */
export function useProviderNames(): string[] {
	const [names, setNames] = useState<string[]>([]);
	useEffect(() => {
		let live = true;
		apiDocument().then((doc) => {
			const values = doc.components?.schemas?.DeadLetterReplay?.properties?.provider?.enum ?? [];
			if (live) setNames(values.filter((v): v is string => typeof v === "string"));
		});
		return () => {
			live = false;
		};
	}, []);
	return names;
}

/**
 * Whether the API has a path matching `pattern` (as the OpenAPI document spells paths, e.g. `/templates` or
 * `/templates/{id}/render`); undefined while unknown.
 */
export function useApiHas(pattern: RegExp): boolean | undefined {
	const [has, setHas] = useState<boolean | undefined>(undefined);
	const source = pattern.source;
	useEffect(() => {
		let live = true;
		const re = new RegExp(source);
		apiPaths().then((paths) => live && setHas([...paths].some((p) => re.test(p))));
		return () => {
			live = false;
		};
	}, [source]);
	return has;
}
