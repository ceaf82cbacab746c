/**
 * A tenant's API keys: list, create (the token is shown once) and revoke. Used by a tenant for its own keys
 * (`/api-keys`) and by the operator for any tenant's (`/admin/tenants/:id/api-keys`, `/admin/api-keys/:id`).
 */
import { useState } from "preact/hooks";
import { useResource } from "../hooks";
import { api } from "../session";
import type { ApiKey, List } from "../types";
import { ListTable } from "./table";
import { Notice, Problem, ShownOnce, Time } from "./ui";

export type ApiKeyPaths = { list: string; create: string; revoke: (id: string) => string };

const PERMISSION_WORDS = { full_access: "Full access", sending_access: "Sending only" } as const;

export function ApiKeyManager({ paths, revokeWarning }: { paths: ApiKeyPaths; revokeWarning?: string }) {
	const keys = useResource(() => api.get<List<ApiKey>>(paths.list), paths.list);
	const [name, setName] = useState("");
	const [permission, setPermission] = useState<ApiKey["permission"]>("sending_access");
	const [created, setCreated] = useState<{ name: string; token: string } | null>(null);
	const [revoked, setRevoked] = useState<string | null>(null);
	const [error, setError] = useState<unknown>(undefined);

	const create = async (event: Event) => {
		event.preventDefault();
		setError(undefined);
		setRevoked(null);
		try {
			const key = await api.post<{ id: string; token: string }>(paths.create, { name: name.trim(), permission });
			setCreated({ name: name.trim(), token: key.token });
			setName("");
			keys.reload();
		} catch (err) {
			setError(err);
		}
	};

	const revoke = async (key: ApiKey) => {
		if (!window.confirm(`Revoke “${key.name}”? Anything using it stops working at once.${revokeWarning ? ` ${revokeWarning}` : ""}`))
			return;
		setError(undefined);
		setCreated(null);
		try {
			await api.delete(paths.revoke(key.id));
			setRevoked(`“${key.name}” is revoked.`);
			keys.reload();
		} catch (err) {
			setError(err);
		}
	};

	return (
		<>
			{created ? <ShownOnce title={`New API key “${created.name}”`} value={created.token} /> : null}
			{revoked ? <Notice tone="good">{revoked}</Notice> : null}
			<Problem error={error} />
			<ListTable
				resource={keys}
				what="API keys"
				empty="No live keys."
				rowKey={(key) => key.id}
				columns={[
					{ header: "Name", cell: (key) => key.name },
					{ header: "Permission", cell: (key) => PERMISSION_WORDS[key.permission] ?? key.permission },
					{ header: "Id", wrap: true, cell: (key) => <code>{key.id}</code> },
					{ header: "Created", cell: (key) => <Time iso={key.created_at} /> },
					{
						header: "Actions",
						hiddenHeader: true,
						cell: (key) => (
							<button type="button" class="button danger small" aria-label={`Revoke ${key.name}`} onClick={() => revoke(key)}>
								Revoke
							</button>
						),
					},
				]}
			/>
			<form class="card form inline-form" onSubmit={create} aria-label="Create an API key">
				<div class="field">
					<label for="key-name">Name</label>
					<input
						id="key-name"
						required
						maxLength={50}
						value={name}
						onInput={(e) => setName(e.currentTarget.value)}
						placeholder="production server"
					/>
				</div>
				<div class="field">
					<label for="key-permission">Permission</label>
					<select id="key-permission" value={permission} onChange={(e) => setPermission(e.currentTarget.value as ApiKey["permission"])}>
						<option value="sending_access">Sending only</option>
						<option value="full_access">Full access</option>
					</select>
				</div>
				<div class="field actions">
					<button class="button" type="submit">
						Create key
					</button>
				</div>
			</form>
		</>
	);
}
