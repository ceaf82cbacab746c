/**
 * `/domains` in Resend's shapes (CreateDomainRequest, Domain, DomainRecord…). Fields Resend accepts that change nothing
 * in Mailroom (`region`, `tls`, `custom_return_path`) are validated and kept, so SDK calls work unchanged; receiving is
 * not offered, so `capabilities.receiving` may only be `disabled`.
 */
import { z } from "@hono/zod-openapi";
import { DOMAIN_STATUSES } from "../db/schema";

export const DOMAIN_REGIONS = ["us-east-1", "eu-west-1", "sa-east-1", "ap-northeast-1"] as const;

const Capabilities = z
	.object({
		sending: z.literal("enabled", { error: "capabilities.sending must be enabled: a domain here is for sending" }).optional(),
		receiving: z.literal("disabled", { error: "Receiving is not offered by Mailroom: capabilities.receiving must be disabled" }).optional(),
	})
	.openapi("DomainCapabilities");

const TrackingSubdomain = z
	.string()
	.regex(/^(?!-)[a-z0-9-]{1,63}(?<!-)$/i, "tracking_subdomain must be one DNS label (letters, digits, hyphens)");

export const DomainCreate = z
	.object({
		name: z.string().min(1).max(253).openapi({ example: "mail.acme.com" }),
		region: z.enum(DOMAIN_REGIONS).default("us-east-1").openapi({ description: "Accepted for compatibility; has no effect" }),
		custom_return_path: z.string().max(63).optional().openapi({ description: "Accepted for compatibility; has no effect" }),
		open_tracking: z.boolean().default(false),
		click_tracking: z.boolean().default(false),
		tls: z.enum(["opportunistic", "enforced"]).default("opportunistic"),
		capabilities: Capabilities.optional(),
		tracking_subdomain: TrackingSubdomain.optional(),
	})
	.openapi("CreateDomainRequest");
export type DomainCreate = z.infer<typeof DomainCreate>;

export const DomainUpdate = z
	.object({
		open_tracking: z.boolean().optional(),
		click_tracking: z.boolean().optional(),
		tls: z.enum(["opportunistic", "enforced"]).optional(),
		capabilities: Capabilities.optional(),
		tracking_subdomain: TrackingSubdomain.optional(),
	})
	.openapi("UpdateDomainOptions");
export type DomainUpdate = z.infer<typeof DomainUpdate>;

export const DomainRecord = z
	.object({
		record: z.enum(["Verification", "DKIM", "SPF"]).openapi({
			description: "`Verification`: Mailroom's ownership TXT record (the one Mailroom checks); `DKIM`, `SPF`: what a provider needs",
		}),
		name: z.string().openapi({ description: "Fully qualified; `<…>` marks a part the provider generates" }),
		type: z.enum(["TXT", "CNAME", "MX"]),
		ttl: z.string(),
		status: z.enum(["not_started", "pending", "verified", "failed", "temporary_failure"]).openapi({
			description:
				"The ownership record's check; provider records say `not_started`: the provider checks them when the domain is added there",
		}),
		value: z.string(),
		priority: z.number().int().optional(),
		provider: z.string().nullable().openapi({ description: "Which provider needs it; null for Mailroom's own (Mailroom extension)" }),
		purpose: z.string().openapi({ description: "What the record is for (Mailroom extension)" }),
	})
	.openapi("DomainRecord");

const domainFields = {
	id: z.string(),
	name: z.string(),
	status: z.enum(DOMAIN_STATUSES),
	created_at: z.string(),
	region: z.string(),
	open_tracking: z.boolean(),
	click_tracking: z.boolean(),
	tracking_subdomain: z.string().optional(),
	capabilities: z.object({ sending: z.literal("enabled"), receiving: z.literal("disabled") }),
};

export const DomainListItem = z.object(domainFields).openapi("ListDomainsItem");

export const DomainObject = z
	.object({
		object: z.literal("domain"),
		...domainFields,
		tls: z.enum(["opportunistic", "enforced"]),
		records: z.array(DomainRecord),
		verification: z
			.object({
				checks: z.number().int(),
				last_checked_at: z.string().nullable(),
				next_check_at: z.string().nullable(),
				verified_at: z.string().nullable(),
				error: z.string().nullable().openapi({ description: "Why the last check did not verify" }),
			})
			.openapi({ description: "Where verification stands (Mailroom extension)" }),
	})
	.openapi("Domain");

export const DomainCreated = DomainObject.omit({ object: true }).openapi("CreateDomainResponse");

export const DomainList = z
	.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(DomainListItem) })
	.openapi("ListDomainsResponse");

export const DomainRef = z.object({ object: z.literal("domain"), id: z.string() }).openapi("DomainRef");

export const DomainVerifyResult = DomainRef.extend({
	status: z.enum(DOMAIN_STATUSES).openapi({ description: "The status after this check (Mailroom extension)" }),
	error: z.string().nullable().openapi({ description: "Why it is not verified yet (Mailroom extension)" }),
}).openapi("VerifyDomainResponse");

export const DomainIdParam = z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) });

/** Resend's pagination: `limit` 1–100, `after` or `before` an id of the previous page. */
export const PageQuery = z.object({
	limit: z.coerce.number().int().min(1).max(100).default(20),
	after: z.string().max(64).optional(),
	before: z.string().max(64).optional(),
});
