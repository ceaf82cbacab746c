/** `/dead-letters`: emails that ran out of attempts, and their replay (optionally through another provider). */
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq, isNull, lt } from "drizzle-orm";
import { getDb, pageOf } from "../db/client";
import { getEmail } from "../db/emails";
import { type DeadLetterRow, deadLetters } from "../db/schema";
import { ApiError } from "../errors";
import { isUuid } from "../lib/ids";
import { errorFields, log } from "../lib/log";
import { iso, isoOrNull } from "../lib/time";
import { replayFailedEmail } from "../lifecycle/tenant-actions";
import { requireFullAccess } from "../middleware/auth";
import { PROVIDER_NAMES } from "../providers/registry";
import { enqueueOne, sendQueues } from "../queue/lanes";
import { ListQuery } from "../schemas/admin";
import { zodToApiError } from "../schemas/validation";
import { commonErrors, createRouter, jsonResponse } from "./router";

export const deadLetterRoutes = createRouter();

const DeadLetterObject = z
	.object({
		object: z.literal("dead_letter"),
		id: z.string(),
		email_id: z.string().nullable(),
		reason: z.string(),
		provider: z.string().nullable(),
		attempts: z.number().int(),
		last_error: z.string().nullable(),
		created_at: z.string(),
		replayed_at: z.string().nullable(),
	})
	.openapi("DeadLetter");

const ReplayRequest = z.object({ provider: z.enum(PROVIDER_NAMES).optional() }).openapi("DeadLetterReplay");

const toDeadLetterObject = (row: DeadLetterRow) => ({
	object: "dead_letter" as const,
	id: row.id,
	email_id: row.emailId,
	reason: row.reason,
	provider: row.provider,
	attempts: row.attempts,
	last_error: row.lastError,
	created_at: iso(row.createdAt),
	replayed_at: isoOrNull(row.replayedAt),
});

deadLetterRoutes.openapi(
	createRoute({
		method: "get",
		path: "/dead-letters",
		summary: "List dead letters, newest first",
		tags: ["Dead letters"],
		middleware: [requireFullAccess] as const,
		request: { query: ListQuery },
		responses: {
			200: jsonResponse(
				z.object({ object: z.literal("list"), has_more: z.boolean(), data: z.array(DeadLetterObject) }),
				"A page of dead letters",
			),
			...commonErrors,
		},
	}),
	async (c) => {
		const { limit, after } = c.req.valid("query");
		const rows = await getDb(c.env.DB)
			.select()
			.from(deadLetters)
			.where(and(eq(deadLetters.tenantId, c.get("auth").tenant.id), after ? lt(deadLetters.id, after) : undefined))
			.orderBy(desc(deadLetters.id))
			.limit(limit + 1);
		const page = pageOf(rows, limit, false);
		return c.json({ object: "list" as const, has_more: page.hasMore, data: page.rows.map(toDeadLetterObject) }, 200);
	},
);

deadLetterRoutes.openapi(
	createRoute({
		method: "post",
		path: "/dead-letters/{id}/replay",
		summary: "Send a dead-lettered email again, from a fresh attempt count (optionally through another provider)",
		tags: ["Dead letters"],
		middleware: [requireFullAccess] as const,
		request: {
			params: z.object({ id: z.string().openapi({ param: { name: "id", in: "path" } }) }),
			body: { required: false, content: { "application/json": { schema: ReplayRequest } } },
		},
		responses: {
			200: jsonResponse(z.object({ object: z.literal("email"), id: z.string() }), "Queued again"),
			...commonErrors,
			409: commonErrors[422],
		},
	}),
	async (c) => {
		const { tenant } = c.get("auth");
		const id = c.req.param("id");
		if (!isUuid(id)) throw new ApiError("not_found", "Dead letter not found");
		const text = await c.req.text();
		let provider: string | undefined;
		if (text.trim().length > 0) {
			let json: unknown;
			try {
				json = JSON.parse(text);
			} catch {
				throw new ApiError("validation_error", "Malformed JSON in request body", 400);
			}
			const parsed = ReplayRequest.safeParse(json);
			if (!parsed.success) throw zodToApiError(parsed.error, json);
			provider = parsed.data.provider;
		}
		const db = getDb(c.env.DB);
		const letter = await db.query.deadLetters.findFirst({ where: and(eq(deadLetters.id, id), eq(deadLetters.tenantId, tenant.id)) });
		if (!letter?.emailId) throw new ApiError("not_found", "Dead letter not found");
		if (letter.replayedAt !== null) throw new ApiError("invalid_state", "This dead letter was already replayed");
		const now = Date.now();
		const done = await replayFailedEmail(db, tenant.id, letter.emailId, { now, provider: provider ?? null, deadLetterId: letter.id });
		if (!done) {
			const email = await getEmail(db, tenant.id, letter.emailId);
			if (email?.status === "failed" && email.html === null && email.text === null) {
				throw new ApiError("invalid_state", "This email's body was purged by retention; it can no longer be replayed");
			}
			throw new ApiError("invalid_state", "Only a failed email can be replayed");
		}
		const { row } = done;
		await db
			.update(deadLetters)
			.set({ replayedAt: now })
			.where(and(eq(deadLetters.id, letter.id), isNull(deadLetters.replayedAt)));
		await enqueueOne(sendQueues(c.env), { id: row.id, tenantId: tenant.id, priority: row.priority }).catch((e) =>
			log.warn("enqueue_failed", { ids: [row.id], ...errorFields(e) }),
		);
		return c.json({ object: "email" as const, id: row.id }, 200);
	},
);
