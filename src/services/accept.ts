/**
 * The accept path (docs/architecture.md, "Accepting an email"): turns validated send requests into durable rows and queue messages.
 *
 * Plain emails — no template to read, no attachment bytes to store, not a permissive batch — take the optimistic
 * path: ONE D1 round trip, a write batch (one transaction) of the idempotency key inserted already completed, a
 * probe of the suppression list, the email rows, with a guard after each check that aborts the whole transaction
 * when the key is taken or a recipient is suppressed. Only then, on that error path, is D1 read to say which.
 *
 * The others read first, then write — two round trips whatever the number of emails:
 * 1. read batch  — idempotency claim (if a key was given, so a concurrent request sees it in flight while
 *    attachments upload) + suppression lookup of every recipient + every template the emails name, with its
 *    published version (one read for all, then rendered per email);
 * 2. write batch — idempotency completion + guard, the email rows.
 * Attachment bytes go to R2 between the two, keyed by email id, so a row never references missing bytes.
 * Then one queue send (or `sendBatch`) carrying only `{ v: 1, id, tenantId }`, to each email's priority lane
 * (src/queue/lanes.ts). If that send fails the rows stay `queued` in D1, the client still gets its ids, and the recover
 * cron re-enqueues them.
 */
import { and, eq, inArray, sql } from "drizzle-orm";
import { type Config, EMAIL_LIMITS, QUEUE_MAX_DELAY_SECONDS } from "../config";
import { abortUnless, chunk, type Db, isGuardAbort, MAX_BOUND_PARAMETERS, runBatch, type Statement } from "../db/client";
import { type EmailPriority, type EmailStatus, type NewEmailRow, type StoredAttachment, suppressions, type TenantRow } from "../db/schema";
import { indexPublishedTemplates, type PublishedTemplate, publishedTemplateReads } from "../db/templates";
import { ApiError } from "../errors";
import { bareAddress, parseMailbox } from "../lib/address";
import { newEmailId } from "../lib/ids";
import { errorFields, log } from "../lib/log";
import { parseScheduleTime } from "../lib/time";
import { urlProblem } from "../lib/url-policy";
import { decodeBase64 } from "../lib/webcrypto";
import { acceptStatements } from "../lifecycle/tenant-actions";
import { carryProblem, providerOrder } from "../providers/registry";
import { enqueueByLane, enqueueOne, type SendQueues } from "../queue/lanes";
import type { BatchEmailItem, SendEmailRequest } from "../schemas/email";
import { resolveTracking, type TrackingOverride } from "../tracking/settings";
import {
	claimGuardStatement,
	claimStatements,
	completedKeyStatement,
	completeStatement,
	type IdempotencyClaim,
	interpretClaim,
	releaseClaim,
	type StoredResponse,
	storedOutcome,
} from "./idempotency";
import { choosePriority } from "./priority";
import { type SenderRules, senderRefusal } from "./senders";
import { compiledVersion, renderTemplate, type VariableValue } from "./template-render";
import { deliveryIdsOf, enqueueDeliveries, type WebhookQueueMessage } from "./webhook-fanout";

export type AcceptDeps = {
	db: Db;
	attachments: R2Bucket;
	sendQueues: SendQueues;
	webhookQueue: Queue<WebhookQueueMessage>;
	config: Config;
	tenant: TenantRow;
	/** The sending API key's default priority (null: none). */
	keyPriority: EmailPriority | null;
	/** The domains this request may send from (read by authentication, maybe from the isolate's cache). */
	senders: SenderRules;
	/**
	 * The same rules read fresh from D1, asked once before a sender refusal stands (the cached ones may predate a
	 * domain's verification); null when nothing changed.
	 */
	freshSenders?: (() => Promise<SenderRules | null>) | undefined;
	/** Where the emails' tracking links will point: PUBLIC_URL, else the origin this request came in on. */
	trackingOrigin: string;
	now: number;
	/** Today's quota is spent: replays are still answered, new emails are refused with this error. */
	quotaExhausted?: ApiError | undefined;
};

/** How a request with several emails treats invalid ones (Resend's `x-batch-validation`). */
export type ValidationMode = "single" | "strict" | "permissive";

/** One email of the request: validated by zod already, or the message of the schema error it failed with. */
export type AcceptItem = { ok: true; email: SendEmailRequest | BatchEmailItem } | { ok: false; error: ApiError };

/** `accepted`: how many emails became rows (0 for a replay), for the quota. */
export type AcceptResult = { replayed: boolean; response: StoredResponse; accepted: number };

type PendingBlob = { key: string; bytes: Uint8Array; contentType: string };
type Prepared = {
	row: NewEmailRow & { id: string; status: EmailStatus; priority: EmailPriority };
	blobs: PendingBlob[];
	/** Seconds to delay the queue message; null when the schedule is beyond the queue's delay limit. */
	delaySeconds: number | null;
	recipients: string[];
	/** A templated email's reference and the request's own fields, applied once the template is read. */
	template: TemplateUse | null;
};
type TemplateUse = {
	ref: string;
	variables: Record<string, VariableValue> | undefined;
	from: string | undefined;
	subject: string | undefined;
	replyTo: string[] | undefined;
	tracking: TrackingOverride | undefined;
};

/**
 * Accepts the emails of one request.
 *
 * @example
 * const { response } = await acceptEmails(deps, [{ ok: true, email }], "single", claim);
 * return c.body(response.body, response.status);
 */
export async function acceptEmails(
	deps: AcceptDeps,
	items: AcceptItem[],
	mode: ValidationMode,
	claim: IdempotencyClaim | null,
): Promise<AcceptResult> {
	let checked = prepareAll(items, deps);
	if (deps.freshSenders && [...checked.errors.values()].some((e) => e.errorName === "invalid_from_address")) {
		const senders = await deps.freshSenders();
		if (senders !== null) {
			deps = { ...deps, senders };
			checked = prepareAll(items, deps);
		}
	}
	const { prepared, errors } = checked;
	throwUnlessPermissive(errors, mode);
	const plain = mode !== "permissive" && [...prepared.values()].every((p) => p.template === null && p.blobs.length === 0);
	return plain ? acceptOptimistically(deps, prepared, errors, mode, claim) : acceptAfterReads(deps, prepared, errors, mode, claim);
}

function prepareAll(items: AcceptItem[], deps: AcceptDeps): { prepared: Map<number, Prepared>; errors: Map<number, ApiError> } {
	const errors = new Map<number, ApiError>();
	const prepared = new Map<number, Prepared>();
	items.forEach((item, index) => {
		const result = item.ok ? prepareEmail(item.email, deps, items.length) : item.error;
		if (result instanceof ApiError) errors.set(index, result);
		else prepared.set(index, result);
	});
	return { prepared, errors };
}

/**
 * The optimistic path (see the top of this file): one write batch whose guards stand in for the reads. A guard's
 * abort is answered from a read of the key (a replay wins over a recipient suppressed since) and then of the
 * suppression list; when neither explains it any more (the key expired, the suppression was lifted in between),
 * the write is tried once more.
 */
async function acceptOptimistically(
	deps: AcceptDeps,
	prepared: Map<number, Prepared>,
	errors: Map<number, ApiError>,
	mode: ValidationMode,
	claim: IdempotencyClaim | null,
	retried = false,
): Promise<AcceptResult> {
	if (deps.quotaExhausted) {
		const stored = claim ? await storedOutcome(deps.db, claim, deps.now) : null;
		if (stored?.kind === "replay") return { replayed: true, response: stored.response, accepted: 0 };
		throw deps.quotaExhausted;
	}
	const accepted = [...prepared.values()];
	const response = responseFor(accepted, errors, mode);
	const recipients = recipientsOf(prepared);
	const writes = [
		...(claim ? [completedKeyStatement(deps.db, claim, response, deps.now), claimGuardStatement(deps.db)] : []),
		...suppressionGuards(deps.db, deps.tenant.id, recipients),
		...acceptStatements(
			deps.db,
			accepted.map((p) => p.row),
			deps.now,
		),
	];
	let deliveryIds: string[];
	try {
		deliveryIds = deliveryIdsOf(await runBatch(deps.db, writes));
	} catch (err) {
		if (!isGuardAbort(err)) throw err;
		const stored = claim ? await storedOutcome(deps.db, claim, deps.now) : null;
		if (stored?.kind === "replay") return { replayed: true, response: stored.response, accepted: 0 };
		refuseSuppressed(prepared, errors, await suppressedAmong(deps.db, deps.tenant.id, recipients));
		throwUnlessPermissive(errors, mode);
		if (retried && claim) {
			throw new ApiError(
				"concurrent_idempotent_requests",
				"Same idempotency key used while original request is still in progress. Try the request again later.",
			);
		}
		if (retried) throw err;
		return acceptOptimistically(deps, prepared, errors, mode, claim, true);
	}
	return announce(deps, accepted, deliveryIds, response);
}

/** After the write: the emails' queue messages and the webhook deliveries the write created, then the answer. */
async function announce(deps: AcceptDeps, accepted: Prepared[], deliveryIds: string[], response: StoredResponse): Promise<AcceptResult> {
	await enqueue(deps, accepted);
	await enqueueDeliveries(deps.webhookQueue, deliveryIds);
	return { replayed: false, response, accepted: accepted.length };
}

/**
 * For each chunk of recipients, a no-op UPDATE of the tenant's suppressions among them (it writes nothing: each
 * matched row keeps its value) and a guard that aborts the batch when it matched any.
 */
function suppressionGuards(db: Db, tenantId: string, recipients: string[]): Statement[] {
	return chunk(recipients, MAX_BOUND_PARAMETERS - 1).flatMap((addresses) => [
		db
			.update(suppressions)
			.set({ reason: sql`${suppressions.reason}` })
			.where(and(eq(suppressions.tenantId, tenantId), inArray(suppressions.email, addresses))),
		abortUnless(db, "changes() = 0"),
	]);
}

function recipientsOf(prepared: Map<number, Prepared>): string[] {
	return [...new Set([...prepared.values()].flatMap((p) => p.recipients))];
}

function suppressionReads(db: Db, tenantId: string, recipients: string[]) {
	return chunk(recipients, MAX_BOUND_PARAMETERS - 1).map((addresses) =>
		db
			.select({ email: suppressions.email, reason: suppressions.reason })
			.from(suppressions)
			.where(and(eq(suppressions.tenantId, tenantId), inArray(suppressions.email, addresses))),
	);
}

async function suppressedAmong(db: Db, tenantId: string, recipients: string[]): Promise<Map<string, string>> {
	const results = (await runBatch(db, suppressionReads(db, tenantId, recipients))) as { email: string; reason: string }[][];
	return new Map(results.flat().map((row) => [row.email, row.reason]));
}

/** Moves every email with a suppressed recipient from `prepared` to `errors`. */
function refuseSuppressed(prepared: Map<number, Prepared>, errors: Map<number, ApiError>, suppressed: Map<string, string>): void {
	for (const [index, p] of prepared) {
		const hit = p.recipients.find((r) => suppressed.has(r));
		if (hit !== undefined) {
			errors.set(index, new ApiError("validation_error", `${hit} is on the suppression list (${suppressed.get(hit)})`));
			prepared.delete(index);
		}
	}
}

/** Templated, attachment-carrying and permissive requests: read (claim, suppressions, templates), then write. */
async function acceptAfterReads(
	deps: AcceptDeps,
	prepared: Map<number, Prepared>,
	errors: Map<number, ApiError>,
	mode: ValidationMode,
	claim: IdempotencyClaim | null,
): Promise<AcceptResult> {
	// Round trip 1: claim the idempotency key, look up suppressed recipients and read the named templates together.
	const suppressionStatements = suppressionReads(deps.db, deps.tenant.id, recipientsOf(prepared));
	const templateRefs = [...new Set([...prepared.values()].flatMap((p) => (p.template ? [p.template.ref] : [])))];
	const templateReads = publishedTemplateReads(deps.db, deps.tenant.id, templateRefs);
	const claimReads = claim ? claimStatements(deps.db, claim, deps.now) : [];
	const reads = [...claimReads, ...suppressionStatements, ...templateReads] as Statement[];
	const results = await runBatch(deps.db, reads);
	if (claim) {
		const outcome = interpretClaim(claim, results[1] as Parameters<typeof interpretClaim>[1]);
		if (outcome.kind === "replay") return { replayed: true, response: outcome.response, accepted: 0 };
	}
	if (deps.quotaExhausted) {
		if (claim) await releaseClaim(deps.db, claim);
		throw deps.quotaExhausted;
	}
	const suppressed = new Map<string, string>();
	const templatesStart = claimReads.length + suppressionStatements.length;
	for (const rows of results.slice(claimReads.length, templatesStart) as { email: string; reason: string }[][]) {
		for (const row of rows) suppressed.set(row.email, row.reason);
	}
	const templates = indexPublishedTemplates(results.slice(templatesStart));

	try {
		for (const [index, p] of prepared) {
			const failed = p.template
				? (applyTemplate(p, p.template, templates.get(p.template.ref), deps) ??
					transportProblem({ headers: p.row.headers, replyTo: p.row.replyTo ?? [], recipients: p.recipients }, deps) ??
					undefined)
				: undefined;
			if (failed) {
				errors.set(index, failed);
				prepared.delete(index);
			}
		}
		refuseSuppressed(prepared, errors, suppressed);
		throwUnlessPermissive(errors, mode);

		const accepted = [...prepared.values()];
		const response = responseFor(accepted, errors, mode);
		await storeBlobs(deps.attachments, accepted);
		const writes = writeStatements(deps, accepted, claim, response);
		let deliveryIds: string[] = [];
		try {
			// Empty only for a permissive batch without a key whose every email was rejected.
			deliveryIds = deliveryIdsOf(await runBatch(deps.db, writes));
		} catch (err) {
			await deleteBlobs(deps.attachments, accepted);
			if (isGuardAbort(err)) {
				throw new ApiError(
					"concurrent_idempotent_requests",
					"Same idempotency key used while original request is still in progress. Try the request again later.",
				);
			}
			throw err;
		}
		return await announce(deps, accepted, deliveryIds, response);
	} catch (err) {
		if (claim) await releaseClaim(deps.db, claim).catch((e) => log.error("idempotency_release_failed", errorFields(e)));
		throw err;
	}
}

function throwUnlessPermissive(errors: Map<number, ApiError>, mode: ValidationMode): void {
	if (mode === "permissive" || errors.size === 0) return;
	const [index, first] = [...errors.entries()].sort(([a], [b]) => a - b)[0] as [number, ApiError];
	if (mode === "single") throw first;
	throw new ApiError(first.errorName, `emails[${index}]: ${first.message}`, first.status);
}

function responseFor(accepted: Prepared[], errors: Map<number, ApiError>, mode: ValidationMode): StoredResponse {
	if (mode === "single") {
		const only = accepted[0];
		if (!only) throw new Error("single send with nothing to accept");
		return { status: 200, body: JSON.stringify({ id: only.row.id }) };
	}
	const data = accepted.map((p) => ({ id: p.row.id }));
	if (mode === "strict") return { status: 200, body: JSON.stringify({ data }) };
	const list = [...errors.entries()].sort(([a], [b]) => a - b).map(([index, e]) => ({ index, message: e.message }));
	return { status: 200, body: JSON.stringify({ data, errors: list }) };
}

/**
 * Everything about one email that can be checked without D1: sender domain, schedule, sizes, attachments.
 * A templated email's from, subject and body are checked once its template is read (`applyTemplate`).
 */
function prepareEmail(input: SendEmailRequest | BatchEmailItem, deps: AcceptDeps, requestSize: number): Prepared | ApiError {
	const { tenant, config, now } = deps;
	if (input.template === undefined) {
		const refused = senderRefusal(input.from ?? "", deps.senders);
		if (refused) return refused;
		const bodyBytes = utf8Length(input.html) + utf8Length(input.text);
		if (bodyBytes > EMAIL_LIMITS.bodyBytes) {
			return new ApiError("validation_error", `html and text together are ${bodyBytes} bytes; the limit is ${EMAIL_LIMITS.bodyBytes}`);
		}
	}
	const uncarried = transportProblem(
		{
			headers: input.headers ?? null,
			replyTo: input.reply_to ?? [],
			recipients: input.to.length + (input.cc?.length ?? 0) + (input.bcc?.length ?? 0),
		},
		deps,
	);
	if (uncarried) return uncarried;

	const schedule = "scheduled_at" in input && input.scheduled_at !== undefined ? parseSchedule(input.scheduled_at, now) : null;
	if (schedule instanceof ApiError) return schedule;

	const id = newEmailId(now);
	const files =
		"attachments" in input && input.attachments ? decodeAttachments(id, input.attachments, config) : { stored: null, blobs: [] };
	if (files instanceof ApiError) return files;

	const status: EmailStatus = schedule !== null && schedule > now ? "scheduled" : "queued";
	const delay = schedule !== null && schedule > now ? Math.ceil((schedule - now) / 1000) : 0;
	const enqueued = delay <= QUEUE_MAX_DELAY_SECONDS;
	const to = input.to;
	const cc = input.cc ?? [];
	const bcc = input.bcc ?? [];
	const recipients = [...new Set([...to, ...cc, ...bcc].map(bareAddress))];
	return {
		row: {
			id,
			tenantId: tenant.id,
			status,
			lastEvent: status,
			priority: choosePriority(input, { keyPriority: deps.keyPriority, requestSize, bulkBatchThreshold: config.bulkBatchThreshold }),
			// A templated email's from and subject are filled in by applyTemplate.
			from: input.from?.trim() ?? "",
			to,
			cc,
			bcc,
			replyTo: input.reply_to ?? [],
			recipients,
			subject: input.subject ?? "",
			html: input.html ?? null,
			text: input.text ?? null,
			headers: input.headers ?? null,
			tags: input.tags ?? [],
			attachments: files.stored,
			templateId: null,
			templateVariables: null,
			// A templated email's is resolved with its from, by applyTemplate.
			tracking:
				input.template === undefined
					? resolveTracking(input.from ?? "", input.tracking, deps.senders.verifiedDomains, deps.trackingOrigin)
					: null,
			scheduledAt: schedule,
			// Due now, at the schedule, or (beyond the queue's delay limit) not enqueued until the release cron.
			nextAttemptAt: enqueued ? (status === "scheduled" ? schedule : now) : null,
			attempts: 0,
			createdAt: now,
			updatedAt: now,
		},
		blobs: files.blobs,
		delaySeconds: enqueued ? delay : null,
		recipients,
		template: input.template
			? {
					ref: input.template.id,
					variables: input.template.variables,
					from: input.from,
					subject: input.subject,
					replyTo: input.reply_to,
					tracking: input.tracking,
				}
			: null,
	};
}

/**
 * Renders a templated email from the template's published version and fills in its row: the request's own
 * from, subject and reply_to win over the template's. Unknown templates (another tenant's included) and drafts
 * are refused; so is anything the rendering produced that a plain send would refuse.
 */
function applyTemplate(
	p: Prepared,
	use: TemplateUse,
	found: PublishedTemplate | undefined,
	deps: Pick<AcceptDeps, "senders" | "trackingOrigin">,
): ApiError | undefined {
	if (!found) return new ApiError("validation_error", `Template ${JSON.stringify(use.ref)} not found`);
	if (!found.version) {
		return new ApiError(
			"validation_error",
			`Template ${JSON.stringify(use.ref)} has no published version: publish it before sending with it`,
		);
	}
	const compiled = compiledVersion(found.version.id, found.version);
	const rendered = compiled.ok ? renderTemplate(compiled.value, use.variables) : compiled;
	if (!rendered.ok) return new ApiError("validation_error", rendered.error);
	const { value } = rendered;
	const from = use.from ?? value.from;
	if (from === null) return new ApiError("missing_required_field", "Missing `from` field: the template has no from");
	const refused = senderRefusal(from, deps.senders);
	if (refused) return refused;
	const subject = use.subject ?? value.subject;
	if (subject === null) return new ApiError("missing_required_field", "Missing `subject` field: the template has no subject");
	if (subject.length === 0 || subject.length > EMAIL_LIMITS.subjectChars) {
		return new ApiError(
			"validation_error",
			`The rendered subject must be 1 to ${EMAIL_LIMITS.subjectChars} characters, not ${subject.length}`,
		);
	}
	const replyTo = use.replyTo ?? value.replyTo ?? [];
	const badReplyTo = replyTo.find((r) => parseMailbox(r) === null);
	if (badReplyTo !== undefined)
		return new ApiError("validation_error", `The rendered reply_to ${JSON.stringify(badReplyTo)} is not an email address`);
	p.row = {
		...p.row,
		from: from.trim(),
		subject,
		replyTo,
		html: value.html,
		text: value.text,
		templateId: found.id,
		templateVersionId: found.version.id,
		templateVariables: use.variables ?? null,
		tracking: resolveTracking(from, use.tracking, deps.senders.verifiedDomains, deps.trackingOrigin),
	};
	return undefined;
}

/**
 * A header (or Reply-To list) one of the tenant's transports could not carry — SMTP's line length, Cloudflare
 * Email Sending's allowlist and sizes — refused now rather than failing at send time (src/providers/<name>/index.ts
 * `cannotCarry`). Checked on the request, and again once a template has filled in its Reply-To.
 */
function transportProblem(
	email: { headers?: Record<string, string> | null | undefined; replyTo: string[]; recipients: number | readonly string[] },
	deps: AcceptDeps,
): ApiError | null {
	const recipients = typeof email.recipients === "number" ? email.recipients : email.recipients.length;
	const problem = carryProblem(providerOrder(deps.config, deps.tenant), {
		headers: email.headers ?? {},
		replyTo: email.replyTo,
		recipients,
	});
	return problem === null ? null : new ApiError("validation_error", problem);
}

/** `scheduled_at` as epoch ms: ISO 8601 or `in N units`, not in the past, at most 30 days ahead. */
export function parseSchedule(input: string, now: number): number | ApiError {
	const at = parseScheduleTime(input, now);
	if (at === null) {
		return new ApiError("validation_error", "scheduled_at must be an ISO 8601 date-time with a time zone, or `in N minutes|hours|days`");
	}
	// A minute of grace for clocks: "now" written by a client a little behind ours still sends at once.
	if (at < now - 60_000) return new ApiError("validation_error", "scheduled_at must not be in the past");
	if (at > now + EMAIL_LIMITS.scheduleAheadDays * 86_400_000) {
		return new ApiError("validation_error", `scheduled_at may be at most ${EMAIL_LIMITS.scheduleAheadDays} days ahead`);
	}
	return at;
}

type AttachmentInput = NonNullable<SendEmailRequest["attachments"]>[number];

function decodeAttachments(
	emailId: string,
	attachments: AttachmentInput[],
	config: Config,
): { stored: StoredAttachment[]; blobs: PendingBlob[] } | ApiError {
	const stored: StoredAttachment[] = [];
	const blobs: PendingBlob[] = [];
	let total = 0;
	for (const [index, a] of attachments.entries()) {
		const contentType = a.content_type ?? null;
		if (a.path !== undefined) {
			const problem = urlProblem(a.path, { allowInsecure: config.allowHttpWebhooks });
			if (problem) return new ApiError("invalid_attachment", `attachments[${index}].path ${problem}`);
		}
		if (a.content === undefined) {
			stored.push({
				filename: a.filename ?? null,
				contentType,
				contentId: a.content_id ?? null,
				size: null,
				r2Key: null,
				path: a.path ?? null,
			});
			continue;
		}
		const bytes = typeof a.content === "string" ? decodeBase64(a.content) : Uint8Array.from(a.content.data);
		if (bytes === null) return new ApiError("invalid_attachment", `attachments[${index}].content is not valid base64`);
		total += bytes.byteLength;
		if (total > config.maxAttachmentBytes) {
			return new ApiError("invalid_attachment", `Attachments exceed ${config.maxAttachmentBytes} bytes (decoded) per email`);
		}
		const key = `${emailId}/${index}`;
		blobs.push({ key, bytes, contentType: contentType ?? "application/octet-stream" });
		stored.push({
			filename: a.filename ?? null,
			contentType,
			contentId: a.content_id ?? null,
			size: bytes.byteLength,
			r2Key: key,
			path: null,
		});
	}
	return { stored, blobs };
}

const encoder = new TextEncoder();
function utf8Length(s: string | undefined): number {
	return s === undefined ? 0 : encoder.encode(s).byteLength;
}

async function storeBlobs(bucket: R2Bucket, accepted: Prepared[]): Promise<void> {
	const blobs = accepted.flatMap((p) => p.blobs);
	try {
		await Promise.all(blobs.map((b) => bucket.put(b.key, b.bytes, { httpMetadata: { contentType: b.contentType } })));
	} catch (err) {
		await deleteBlobs(bucket, accepted);
		throw err;
	}
}

async function deleteBlobs(bucket: R2Bucket, accepted: Prepared[]): Promise<void> {
	const keys = accepted.flatMap((p) => p.blobs.map((b) => b.key));
	if (keys.length === 0) return;
	await bucket.delete(keys).catch((e) => log.error("attachment_cleanup_failed", { keys, ...errorFields(e) }));
}

function writeStatements(deps: AcceptDeps, accepted: Prepared[], claim: IdempotencyClaim | null, response: StoredResponse): Statement[] {
	const guard = claim ? [completeStatement(deps.db, claim, response), claimGuardStatement(deps.db)] : [];
	return [
		...guard,
		...acceptStatements(
			deps.db,
			accepted.map((p) => p.row),
			deps.now,
		),
	];
}

/**
 * Sends one queue message per email that is due within the queue's delay limit, to its lane. A failure here loses
 * nothing: the rows are durable and the recover cron re-enqueues `queued` rows nobody picked up.
 */
async function enqueue(deps: AcceptDeps, accepted: Prepared[]): Promise<void> {
	const messages = accepted.flatMap((p) =>
		p.delaySeconds === null ? [] : [{ id: p.row.id, tenantId: p.row.tenantId, priority: p.row.priority, delaySeconds: p.delaySeconds }],
	);
	try {
		if (messages.length === 1 && messages[0]) await enqueueOne(deps.sendQueues, messages[0]);
		else await enqueueByLane(deps.sendQueues, messages);
	} catch (err) {
		log.warn("enqueue_failed", { count: messages.length, ids: messages.map((m) => m.id).slice(0, 10), ...errorFields(err) });
	}
}
