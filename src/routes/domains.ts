/** `/domains`: the tenant's sending domains, in Resend's shapes (src/services/domains.ts says how verification works). */
import { createRoute } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../context";
import { getDb } from "../db/client";
import { findDomain, listDomains } from "../db/domains";
import type { DomainRow } from "../db/schema";
import { ApiError } from "../errors";
import { isUuid } from "../lib/ids";
import { requireFullAccess } from "../middleware/auth";
import { providerModule, providerOrder, settingsOf } from "../providers/registry";
import type { ProviderModule } from "../providers/types";
import { Deleted } from "../schemas/admin";
import {
	DomainCreate,
	DomainCreated,
	DomainIdParam,
	DomainList,
	DomainObject,
	DomainRef,
	DomainUpdate,
	DomainVerifyResult,
	PageQuery,
} from "../schemas/domain";
import {
	createDomain,
	DOMAIN_LIMITS,
	deleteDomain,
	domainRecords,
	toDomainListItem,
	toDomainObject,
	updateDomain,
	verifyDomain,
} from "../services/domains";
import { checkCursors, commonErrors, createRouter, jsonBody, jsonResponse } from "./router";

export const domainRoutes = createRouter();

const tags = ["Domains"];

/** Domain ids are UUIDs; anything else cannot exist and answers 404 like another tenant's id. */
function domainIdOf(c: Context<AppEnv>): string {
	const id = c.req.param("id") ?? "";
	if (!isUuid(id)) throw new ApiError("not_found", "Domain not found");
	return id;
}

/** The domain with the records the tenant's providers (its own order, else the deployment's) need. */
function present(c: Context<AppEnv>, row: DomainRow) {
	const modules = providerOrder(getConfig(c.env), c.get("auth").tenant).flatMap((name): ProviderModule[] => {
		const module = providerModule(name);
		return module ? [module] : [];
	});
	return toDomainObject(row, domainRecords(row, modules, settingsOf(c.env)));
}

domainRoutes.openapi(
	createRoute({
		method: "post",
		path: "/domains",
		summary: "Add a sending domain; the answer lists the DNS records to publish",
		tags,
		middleware: [requireFullAccess] as const,
		request: { body: jsonBody(DomainCreate) },
		responses: { 201: jsonResponse(DomainCreated, "The domain, `not_started`, with its records"), ...commonErrors, 409: commonErrors[422] },
	}),
	async (c) => {
		const row = await createDomain(getDb(c.env.DB), c.get("auth").tenant.id, c.req.valid("json"), Date.now());
		const { object: _, ...created } = present(c, row);
		return c.json(created, 201);
	},
);

domainRoutes.openapi(
	createRoute({
		method: "get",
		path: "/domains",
		summary: "List domains, newest first",
		tags,
		middleware: [requireFullAccess] as const,
		request: { query: PageQuery },
		responses: { 200: jsonResponse(DomainList, "A page of domains"), ...commonErrors },
	}),
	async (c) => {
		const query = c.req.valid("query");
		checkCursors(query, "domain");
		const { rows, hasMore } = await listDomains(getDb(c.env.DB), c.get("auth").tenant.id, query);
		return c.json({ object: "list" as const, has_more: hasMore, data: rows.map(toDomainListItem) }, 200);
	},
);

domainRoutes.openapi(
	createRoute({
		method: "get",
		path: "/domains/{id}",
		summary: "Retrieve a domain with its DNS records and verification state",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: DomainIdParam },
		responses: { 200: jsonResponse(DomainObject, "The domain"), ...commonErrors },
	}),
	async (c) => {
		const row = await findDomain(getDb(c.env.DB), c.get("auth").tenant.id, domainIdOf(c));
		if (!row) throw new ApiError("not_found", "Domain not found");
		return c.json(present(c, row), 200);
	},
);

domainRoutes.openapi(
	createRoute({
		method: "patch",
		path: "/domains/{id}",
		summary: "Change a domain's tracking settings",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: DomainIdParam, body: jsonBody(DomainUpdate) },
		responses: { 200: jsonResponse(DomainRef, "Updated"), ...commonErrors },
	}),
	async (c) => {
		const row = await updateDomain(getDb(c.env.DB), c.get("auth").tenant.id, domainIdOf(c), c.req.valid("json"), Date.now());
		if (!row) throw new ApiError("not_found", "Domain not found");
		return c.json({ object: "domain" as const, id: row.id }, 200);
	},
);

domainRoutes.openapi(
	createRoute({
		method: "delete",
		path: "/domains/{id}",
		summary: "Delete a domain: sending from it stops at once",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: DomainIdParam },
		responses: { 200: jsonResponse(Deleted, "Deleted"), ...commonErrors },
	}),
	async (c) => {
		const id = domainIdOf(c);
		if (!(await deleteDomain(getDb(c.env.DB), c.get("auth").tenant.id, id))) throw new ApiError("not_found", "Domain not found");
		return c.json({ object: "domain", id, deleted: true as const }, 200);
	},
);

domainRoutes.openapi(
	createRoute({
		method: "post",
		path: "/domains/{id}/verify",
		summary: "Look up the domain's ownership TXT record now; pending domains are looked up again by the cron",
		description:
			"Answers 200 whether or not the record was found, as Resend's verify does: `status` says where the domain stands and `error` why it is not verified yet.",
		tags,
		middleware: [requireFullAccess] as const,
		request: { params: DomainIdParam },
		responses: { 200: jsonResponse(DomainVerifyResult, "The check's outcome"), ...commonErrors, 409: commonErrors[422] },
	}),
	async (c) => {
		const deps = {
			db: getDb(c.env.DB),
			resolver: { url: getConfig(c.env).dnsResolverUrl, timeoutMs: DOMAIN_LIMITS.dnsTimeoutMs },
			now: Date.now(),
		};
		const row = await verifyDomain(deps, c.get("auth").tenant.id, domainIdOf(c));
		return c.json({ object: "domain" as const, id: row.id, status: row.status, error: row.lastError }, 200);
	},
);
