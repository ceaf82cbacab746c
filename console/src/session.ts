/**
 * Who is signed in: an API key (a tenant, full or sending access) or the admin token (the operator). Kept in
 * `sessionStorage` only: it lives as long as the tab, is never written to disk by the console, and is never sent
 * anywhere but this origin's API.
 */
import { useEffect, useState } from "preact/hooks";
import { ApiProblem, apiRequest, type RequestOptions } from "./api";
import type { Session } from "./types";

export type { Session };

/** Why the last session ended, so sign-in can say so (the page the user was on travels in sign-in's `next`). */
export type Ended = { reason: "expired" | "signed_out" };

const STORAGE_KEY = "mailroom.console.session";

let ended: Ended | null = null;
const listeners = new Set<() => void>();

function read(): Session | null {
	try {
		const raw = sessionStorage.getItem(STORAGE_KEY);
		if (!raw) return null;
		const parsed = JSON.parse(raw) as Session;
		if (typeof parsed.token !== "string" || (parsed.kind !== "tenant" && parsed.kind !== "operator")) return null;
		return parsed;
	} catch {
		return null;
	}
}

let current: Session | null = read();

function notify() {
	for (const listener of listeners) listener();
}

export function getSession(): Session | null {
	return current;
}

export function startSession(session: Session) {
	sessionStorage.setItem(STORAGE_KEY, JSON.stringify(session));
	current = session;
	ended = null;
	notify();
}

/** Forgets the token. `expired`: the API refused it (revoked or changed), not the user. */
export function endSession(reason: Ended["reason"]) {
	sessionStorage.removeItem(STORAGE_KEY);
	ended = { reason };
	current = null;
	notify();
}

/** The last ending, once: sign-in reads it to explain itself. */
export function lastEnded(): Ended | null {
	return ended;
}

export function useSession(): Session | null {
	const [session, setSession] = useState(current);
	useEffect(() => {
		const listener = () => setSession(current);
		listeners.add(listener);
		return () => {
			listeners.delete(listener);
		};
	}, []);
	return session;
}

/** The API as the signed-in user; a refused token ends the session (and sign-in brings the user back). */
export const api = {
	request<T>(method: string, path: string, options?: RequestOptions): Promise<T> {
		const session = current;
		if (!session) return Promise.reject(new ApiProblem(401, "missing_api_key", "Not signed in"));
		return apiRequest<T>(session.token, method, path, options).catch((err: unknown) => {
			// Only the session that made the request can end; a sign-in in between must survive it.
			if (err instanceof ApiProblem && err.endsSession && current === session) endSession("expired");
			throw err;
		});
	},
	get<T>(path: string, query?: RequestOptions["query"]): Promise<T> {
		return api.request<T>("GET", path, { query });
	},
	post<T>(path: string, body?: unknown, headers?: Record<string, string>): Promise<T> {
		return api.request<T>("POST", path, { body: body ?? {}, headers });
	},
	patch<T>(path: string, body: unknown): Promise<T> {
		return api.request<T>("PATCH", path, { body });
	},
	delete<T>(path: string): Promise<T> {
		return api.request<T>("DELETE", path);
	},
	text(path: string): Promise<string> {
		return api.request<string>("GET", path, { text: true });
	},
};
