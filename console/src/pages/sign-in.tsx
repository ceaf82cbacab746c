/**
 * Sign-in with a tenant's API key or the operator's admin token. The token is checked with one request before
 * it is kept: `GET /api-keys` answers 200 to a full-access key and 401 `restricted_api_key` to a sending-only one;
 * `GET /admin/tenants` answers 200 to the admin token. Anything else is shown in words and nothing is kept.
 */

import { useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { ApiProblem, apiRequest, describeProblem } from "../api";
import { Notice, PageHeader } from "../components/ui";
import { destinationAfterSignIn } from "../paths";
import { lastEnded, type Session, startSession } from "../session";

type Kind = Session["kind"];

/** What a refused sign-in means, said for the kind of token that was tried. */
function signInProblem(kind: Kind, err: unknown): string {
	if (err instanceof ApiProblem && err.code === "invalid_api_key") {
		return kind === "operator"
			? "That admin token is not valid. It is the ADMIN_TOKEN secret of this deployment (.dev.vars locally)."
			: "That API key is not valid: check it for typos. A revoked key stops working at once; ask for a new one.";
	}
	return describeProblem(err);
}

async function check(kind: Kind, token: string): Promise<Session> {
	if (kind === "operator") {
		await apiRequest(token, "GET", "/admin/tenants", { query: { limit: 1 } });
		return { kind, token };
	}
	try {
		await apiRequest(token, "GET", "/api-keys");
		return { kind, token, permission: "full_access" };
	} catch (err) {
		if (err instanceof ApiProblem && err.code === "restricted_api_key") return { kind, token, permission: "sending_access" };
		throw err;
	}
}

export function SignInPage() {
	const { query, route } = useLocation();
	const [kind, setKind] = useState<Kind>("tenant");
	const [token, setToken] = useState("");
	const [error, setError] = useState<string | null>(null);
	const [busy, setBusy] = useState(false);
	const ended = lastEnded();

	const submit = async (event: Event) => {
		event.preventDefault();
		const value = token.trim();
		if (!value) {
			setError(kind === "operator" ? "Enter the admin token." : "Enter an API key.");
			return;
		}
		setBusy(true);
		setError(null);
		try {
			const session = await check(kind, value);
			startSession(session);
			route(destinationAfterSignIn(query.next, session), true);
		} catch (err) {
			setError(signInProblem(kind, err));
		} finally {
			setBusy(false);
		}
	};

	return (
		<div class="sign-in">
			<PageHeader
				title="Sign in"
				description="The key stays in this browser tab only (sessionStorage) and is sent only to this Mailroom."
			/>
			{ended?.reason === "expired" ? (
				<Notice tone="warn">
					Your session ended: the key is no longer valid (revoked, or changed). Sign in again to return to the page you were on.
				</Notice>
			) : null}
			{ended?.reason === "signed_out" ? <Notice>You are signed out.</Notice> : null}
			<form class="card form" onSubmit={submit} noValidate>
				<fieldset>
					<legend>Sign in as</legend>
					<label class="inline">
						<input type="radio" name="kind" value="tenant" checked={kind === "tenant"} onChange={() => setKind("tenant")} /> A tenant, with
						an API key
					</label>
					<label class="inline">
						<input type="radio" name="kind" value="operator" checked={kind === "operator"} onChange={() => setKind("operator")} /> The
						operator, with the admin token
					</label>
				</fieldset>
				<label for="token">{kind === "operator" ? "Admin token" : "API key"}</label>
				<input
					id="token"
					name="token"
					type="password"
					autocomplete="off"
					spellcheck={false}
					value={token}
					onInput={(e) => setToken(e.currentTarget.value)}
					aria-invalid={error ? true : undefined}
					aria-describedby={error ? "sign-in-error" : "token-hint"}
					placeholder={kind === "operator" ? "" : "mr_…"}
				/>
				<p id="token-hint" class="hint">
					{kind === "operator"
						? "ADMIN_TOKEN of this deployment; locally it is in .dev.vars."
						: "npm run dev prints a key for the local dev tenant."}
				</p>
				{error ? (
					<p id="sign-in-error" class="notice notice-bad" role="alert">
						{error}
					</p>
				) : null}
				<button class="button" type="submit" disabled={busy}>
					{busy ? "Checking…" : "Sign in"}
				</button>
			</form>
		</div>
	);
}
