/** `/emails`: Resend's email endpoints, plus the `/events` extension. */
import { createRoute, type z } from "@hono/zod-openapi";
import type { Context } from "hono";
import { getConfig } from "../config";
import type { AppEnv } from "../context";
import { getDb } from "../db/client";
import { getEmail, getEmailWithEvents, listEmails } from "../db/emails";
import { ApiError } from "../errors";
import { isUuid } from "../lib/ids";
import { buildMime, messageIdOf } from "../lib/mime";
import { iso } from "../lib/time";
import { authContextOf, requireFullAccess } from "../middleware/auth";
import { quotaExceeded } from "../middleware/rate-limit";
import { providerOrder } from "../providers/registry";
import { sendQueues } from "../queue/lanes";
import {
	BatchEmailItem,
	BatchHeaders,
	BatchSendRequest,
	BatchSendResponse,
	EmailEventList,
	EmailIdParam,
	EmailList,
	EmailObject,
	EmailRef,
	IdempotencyHeaders,
	ListEmailsQuery,
	SendEmailRequest,
	SendEmailResponse,
	UpdateEmailRequest,
} from "../schemas/email";
import { zodToApiError } from "../schemas/validation";
import { type AcceptDeps, type AcceptItem, type AcceptResult, acceptEmails } from "../services/accept";
import { freshApiKey } from "../services/auth-cache";
import { toEmailObject } from "../services/email-object";
import { cancelEmail, rescheduleEmail } from "../services/emails";
import { newClaim, readIdempotencyKey } from "../services/idempotency";
import { buildOutboundEmail } from "../services/outbound";
import { senderRulesOf } from "../services/senders";
import type { WebhookQueueMessage } from "../services/webhook-fanout";
import { checkCursors, commonErrors, createRouter, jsonBody, jsonResponse } from "./router";

export const emailRoutes = createRouter();

const IDEMPOTENT_REPLAY_HEADER = "Idempotent-Replayed";

function acceptDeps(c: Context<AppEnv>): AcceptDeps {
	const exhausted = c.get("quotaExhausted");
	const db = getDb(c.env.DB);
	const auth = c.get("auth");
	const config = getConfig(c.env);
	return {
		db,
		attachments: c.env.ATTACHMENTS,
		sendQueues: sendQueues(c.env),
		webhookQueue: c.env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>,
		config,
		tenant: auth.tenant,
		keyPriority: auth.keyPriority,
		senders: senderRulesOf(auth),
		freshSenders: async () => {
			const found = await freshApiKey(db, auth.keyHash);
			if (!found) throw new ApiError("invalid_api_key", "API key is invalid");
			const fresh = senderRulesOf(authContextOf(found, auth.keyHash));
			return JSON.stringify(fresh) === JSON.stringify(senderRulesOf(auth)) ? null : fresh;
		},
		trackingOrigin: config.publicUrl ?? new URL(c.req.url).origin,
		now: Date.now(),
		quotaExhausted: exhausted ? quotaExceeded(exhausted) : undefined,
	};
}

function emailChangeDeps(c: Context<AppEnv>, tenantId: string) {
	return {
		db: getDb(c.env.DB),
		sendQueues: sendQueues(c.env),
		webhookQueue: c.env.WEBHOOK_QUEUE as Queue<WebhookQueueMessage>,
		tenantId,
		now: Date.now(),
	};
}

/** Our ids are UUIDs; anything else cannot exist, and answers 404 like another tenant's id does. */
function emailIdOf(c: Context<AppEnv>): string {
	const id = c.req.param("id") ?? "";
	if (!isUuid(id)) throw new ApiError("not_found", "Email not found");
	return id;
}

emailRoutes.openapi(
	createRoute({
		method: "post",
		path: "/emails",
		summary: "Send an email",
		tags: ["Emails"],
		request: { body: jsonBody(SendEmailRequest), headers: IdempotencyHeaders },
		responses: {
			200: jsonResponse(SendEmailResponse, "Accepted; `Idempotent-Replayed: true` on a replay"),
			...commonErrors,
			409: commonErrors[422],
		},
	}),
	async (c) => {
		const key = readIdempotencyKey(c.req.header("idempotency-key"));
		const deps = acceptDeps(c);
		const claim = key === null ? null : await newClaim(deps.tenant.id, "POST /emails", key, await c.req.json());
		const result = await acceptEmails(deps, [{ ok: true, email: c.req.valid("json") }], "single", claim);
		return replyAccepted<{ id: string }>(c, result);
	},
);

emailRoutes.openapi(
	createRoute({
		method: "post",
		path: "/emails/batch",
		summary: "Send up to 100 emails at once",
		tags: ["Emails"],
		request: { body: jsonBody(BatchSendRequest, "An array of 1–100 emails (no attachments, no scheduled_at)"), headers: BatchHeaders },
		responses: { 200: jsonResponse(BatchSendResponse, "Accepted ids; in permissive mode also the rejected indexes"), ...commonErrors },
	}),
	async (c) => {
		const key = readIdempotencyKey(c.req.header("idempotency-key"));
		const mode = c.req.valid("header")["x-batch-validation"] ?? "strict";
		const body = c.req.valid("json");
		if (body.length === 0) throw new ApiError("validation_error", "The batch must contain at least one email");
		if (body.length > 100) throw new ApiError("validation_error", `The batch has ${body.length} emails; the limit is 100`);
		const items: AcceptItem[] = body.map((raw) => {
			const parsed = BatchEmailItem.safeParse(raw);
			return parsed.success ? { ok: true, email: parsed.data } : { ok: false, error: zodToApiError(parsed.error, raw) };
		});
		const deps = acceptDeps(c);
		const claim = key === null ? null : await newClaim(deps.tenant.id, "POST /emails/batch", key, { mode, body });
		const result = await acceptEmails(deps, items, mode, claim);
		return replyAccepted<z.infer<typeof BatchSendResponse>>(c, result);
	},
);

/** The response of an accept, first time or replayed; the stored body was written by JSON.stringify. */
function replyAccepted<T>(c: Context<AppEnv>, result: AcceptResult) {
	if (result.replayed) c.header(IDEMPOTENT_REPLAY_HEADER, "true");
	c.set("acceptedEmails", result.accepted);
	return c.json(JSON.parse(result.response.body) as T, result.response.status as 200);
}

emailRoutes.openapi(
	createRoute({
		method: "get",
		path: "/emails",
		summary: "List emails, newest first",
		tags: ["Emails"],
		middleware: [requireFullAccess] as const,
		request: { query: ListEmailsQuery },
		responses: { 200: jsonResponse(EmailList, "A page of emails"), ...commonErrors },
	}),
	async (c) => {
		const query = c.req.valid("query");
		checkCursors(query, "email");
		let tag: { name: string; value: string | null } | undefined;
		if (query.tag !== undefined) {
			const [name = "", ...rest] = query.tag.split(":");
			tag = { name, value: rest.length > 0 ? rest.join(":") : null };
		}
		const { rows, hasMore } = await listEmails(getDb(c.env.DB), c.get("auth").tenant.id, { ...query, tag });
		return c.json({ object: "list" as const, has_more: hasMore, data: rows.map(toEmailObject) }, 200);
	},
);

emailRoutes.openapi(
	createRoute({
		method: "get",
		path: "/emails/{id}",
		summary: "Retrieve an email",
		tags: ["Emails"],
		middleware: [requireFullAccess] as const,
		request: { params: EmailIdParam },
		responses: { 200: jsonResponse(EmailObject, "The email"), ...commonErrors },
	}),
	async (c) => {
		const row = await getEmail(getDb(c.env.DB), c.get("auth").tenant.id, emailIdOf(c));
		if (!row) throw new ApiError("not_found", "Email not found");
		return c.json(toEmailObject(row), 200);
	},
);

emailRoutes.openapi(
	createRoute({
		method: "patch",
		path: "/emails/{id}",
		summary: "Reschedule a scheduled email",
		tags: ["Emails"],
		middleware: [requireFullAccess] as const,
		request: { params: EmailIdParam, body: jsonBody(UpdateEmailRequest) },
		responses: { 200: jsonResponse(EmailRef, "Rescheduled"), ...commonErrors, 409: commonErrors[422] },
	}),
	async (c) => {
		const { tenant } = c.get("auth");
		const row = await rescheduleEmail(emailChangeDeps(c, tenant.id), emailIdOf(c), c.req.valid("json").scheduled_at);
		return c.json({ object: "email" as const, id: row.id }, 200);
	},
);

emailRoutes.openapi(
	createRoute({
		method: "post",
		path: "/emails/{id}/cancel",
		summary: "Cancel a scheduled or queued email",
		tags: ["Emails"],
		middleware: [requireFullAccess] as const,
		request: { params: EmailIdParam },
		responses: { 200: jsonResponse(EmailRef, "Canceled"), ...commonErrors, 409: commonErrors[422] },
	}),
	async (c) => {
		const { tenant } = c.get("auth");
		const row = await cancelEmail(emailChangeDeps(c, tenant.id), emailIdOf(c));
		return c.json({ object: "email" as const, id: row.id }, 200);
	},
);

emailRoutes.openapi(
	createRoute({
		method: "get",
		path: "/emails/{id}/events",
		summary: "The email's lifecycle events, oldest first (Mailroom extension)",
		tags: ["Emails"],
		middleware: [requireFullAccess] as const,
		request: { params: EmailIdParam },
		responses: { 200: jsonResponse(EmailEventList, "Events"), ...commonErrors },
	}),
	async (c) => {
		const found = await getEmailWithEvents(getDb(c.env.DB), c.get("auth").tenant.id, emailIdOf(c));
		if (!found) throw new ApiError("not_found", "Email not found");
		const { events } = found;
		return c.json(
			{
				object: "list" as const,
				data: events.map((e) => ({ type: e.type, at: iso(e.at), provider: e.provider, detail: e.detail })),
			},
			200,
		);
	},
);

emailRoutes.openapi(
	createRoute({
		method: "get",
		path: "/emails/{id}/raw",
		summary: "The RFC 5322 message as sent (Mailroom extension)",
		tags: ["Emails"],
		middleware: [requireFullAccess] as const,
		request: { params: EmailIdParam },
		responses: { 200: { description: "The MIME message", content: { "message/rfc822": { schema: { type: "string" } } } }, ...commonErrors },
	}),
	async (c) => {
		const row = await getEmail(getDb(c.env.DB), c.get("auth").tenant.id, emailIdOf(c));
		if (!row) throw new ApiError("not_found", "Email not found");
		const config = getConfig(c.env);
		const provider = row.provider ?? providerOrder(config, c.get("auth").tenant)[0];
		const outbound = await buildOutboundEmail(
			row,
			{
				bucket: c.env.ATTACHMENTS,
				maxBytes: config.maxAttachmentBytes,
				timeoutMs: config.attachmentTimeoutMs,
				policy: { allowInsecure: config.allowHttpWebhooks },
				// Never a live fetch: what would be downloaded at send time is shown by its URL.
				paths: "reference",
			},
			// As its provider gets (or will get) it: with tracking links where Mailroom tracks it.
			provider === undefined ? undefined : { provider, secret: config.trackingSecret },
		);
		if (!outbound.ok) throw new ApiError("invalid_state", `The message cannot be built: ${outbound.error.message}`);
		const raw = buildMime(outbound.value, { date: new Date(row.sentAt ?? row.createdAt), messageId: messageIdOf(outbound.value) });
		return c.body(raw, 200, { "content-type": "message/rfc822" });
	},
);
