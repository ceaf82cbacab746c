/** Creating and publishing templates through the API, and counting a tenant's template rows. */
import { env } from "cloudflare:workers";
import { call, type Seeded } from "./api";

/** Creates a template (201 expected) and returns its id. */
export async function createTemplate(t: Seeded, body: Record<string, unknown>): Promise<string> {
	const res = await call<{ id: string }>("POST", "/templates", { key: t.key, body: { name: "Welcome", ...body } });
	if (res.status !== 201) throw new Error(`create template failed: ${res.status} ${JSON.stringify(res.body)}`);
	return res.body.id;
}

export async function publishTemplate(t: Seeded, idOrAlias: string): Promise<void> {
	const res = await call("POST", `/templates/${idOrAlias}/publish`, { key: t.key });
	if (res.status !== 200) throw new Error(`publish failed: ${res.status} ${JSON.stringify(res.body)}`);
}

/** A template created and published in one go; returns its id. */
export async function publishedTemplate(t: Seeded, body: Record<string, unknown>): Promise<string> {
	const id = await createTemplate(t, body);
	await publishTemplate(t, id);
	return id;
}

export async function templateCounts(tenantId: string): Promise<{ templates: number; versions: number }> {
	const [a, b] = await env.DB.batch<{ n: number }>([
		env.DB.prepare("SELECT count(*) AS n FROM templates WHERE tenant_id = ?").bind(tenantId),
		env.DB.prepare("SELECT count(*) AS n FROM template_versions WHERE tenant_id = ?").bind(tenantId),
	]);
	return { templates: a?.results[0]?.n ?? 0, versions: b?.results[0]?.n ?? 0 };
}
