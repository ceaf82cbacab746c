/** Request and response schemas of the admin API, API keys and suppressions. */
import { z } from "@hono/zod-openapi";
import { API_KEY_PERMISSIONS, EMAIL_PRIORITIES } from "../db/schema";
import { PROVIDER_NAMES } from "../providers/registry";

const DOMAIN = /^(?=.{1,253}$)(?:(?!-)[a-z0-9-]{1,63}(?<!-)\.)+(?:[a-z]{2,63}|xn--[a-z0-9-]{1,59})$/i;

const Rate = z.object({
	per_second: z.number().positive().max(100_000),
	burst: z.number().int().min(1).max(1_000_000),
});

export const TenantCreate = z
	.object({
		name: z.string().trim().min(1).max(200),
		allowed_from_domains: z.array(z.string().trim().regex(DOMAIN, "Invalid domain")).max(100).optional().openapi({
			description:
				"The operator's override: domains the tenant may send from (with their subdomains) without verifying them through /domains. Default none.",
		}),
		api_rate: Rate.optional(),
		send_rate: Rate.optional(),
		daily_quota: z.number().int().min(0).max(100_000_000).optional(),
		providers: z.array(z.enum(PROVIDER_NAMES)).min(1).max(PROVIDER_NAMES.length).nullable().optional(),
	})
	.openapi("TenantCreate");

export const TenantUpdate = TenantCreate.partial().openapi("TenantUpdate");

export const TenantObject = z
	.object({
		object: z.literal("tenant"),
		id: z.string(),
		name: z.string(),
		allowed_from_domains: z.array(z.string()),
		api_rate: Rate,
		send_rate: Rate,
		daily_quota: z.number().int(),
		providers: z.array(z.string()).nullable(),
		created_at: z.string(),
		updated_at: z.string(),
	})
	.openapi("Tenant");

export const TenantList = z.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(TenantObject) });

const KeyName = z.string().trim().min(1).max(50);
const KeyDomainId = z.string().max(64).openapi({
	description: "Restricts a `sending_access` key to one of the tenant's domains (and its subdomains): it may send from nothing else",
});
const KeyPriority = z.enum(EMAIL_PRIORITIES).openapi({
	description:
		"Mailroom extension: the priority lane of this key's sends that set none (no `priority` field or tag); without it, the batch-size default",
});

export const ApiKeyCreate = z
	.object({
		name: KeyName,
		permission: z.enum(API_KEY_PERMISSIONS).default("full_access"),
		domain_id: KeyDomainId.optional(),
		priority: KeyPriority.optional(),
	})
	.openapi("ApiKeyCreate");

/** At least one field; `domain_id: null` lifts a key's domain restriction, `priority: null` its default lane. */
export const ApiKeyUpdate = z
	.object({
		name: KeyName.optional(),
		permission: z.enum(API_KEY_PERMISSIONS).optional(),
		domain_id: KeyDomainId.nullable().optional(),
		priority: KeyPriority.nullable().optional(),
	})
	.refine((v) => v.name !== undefined || v.permission !== undefined || v.domain_id !== undefined || v.priority !== undefined, {
		error: "Give at least one of name, permission, domain_id or priority",
	})
	.openapi("UpdateApiKeyRequest");

export const ApiKeyCreated = z.object({ id: z.string(), token: z.string() }).openapi("ApiKeyCreated");

export const ApiKeyObject = z
	.object({
		id: z.string(),
		name: z.string(),
		permission: z.enum(API_KEY_PERMISSIONS),
		domain_id: z.string().nullable(),
		priority: z.enum(EMAIL_PRIORITIES).nullable().openapi({ description: "The default priority lane of its sends (Mailroom extension)" }),
		created_at: z.string(),
	})
	.openapi("ApiKey");

export const ApiKeyList = z.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(ApiKeyObject) }).openapi("ApiKeyList");

export const Deleted = z.object({ object: z.string(), id: z.string(), deleted: z.literal(true) }).openapi("Deleted");

export const IdParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });

export const SuppressionCreate = z
	.object({
		email: z.email().max(254),
		reason: z.string().trim().min(1).max(200).default("manual"),
	})
	.openapi("SuppressionCreate");

export const SuppressionObject = z
	.object({
		object: z.literal("suppression"),
		id: z.string().openapi({ description: "The lower-cased address" }),
		email: z.string(),
		origin: z.enum(["bounce", "complaint", "manual"]),
		source_id: z.string().nullable().openapi({ description: "The email whose bounce or complaint caused it" }),
		reason: z.string().openapi({ description: "Why (Mailroom extension)" }),
		source: z.string().openapi({ description: "`api`, or `<provider>:<event>:<email id>` (Mailroom extension)" }),
		created_at: z.string(),
	})
	.openapi("Suppression");

export const SuppressionList = z
	.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(SuppressionObject) })
	.openapi("SuppressionList");

export const ListQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(20),
	after: z.string().max(320).optional(),
});
