/**
 * Resend adapter: `POST {baseUrl}/emails` (resend.openapi.yaml `SendEmailRequest`, providers.md §1).
 *
 * Our email id goes out twice: as the `Idempotency-Key` (Resend replays the first answer for 24 h, so any retry
 * is safe, including after an uncertain outcome) and as the `mailroom_id` tag, which Resend echoes in webhooks.
 * A UUID is a valid tag value (letters, digits, `-`). Classification: 429 `rate_limit_exceeded` is rate limited,
 * 429 daily/monthly quota is a provider-level permanent error, 409 `concurrent_idempotent_requests` is transient
 * (the first request is still running), anything else follows `classifyStatus` with Resend's error name as `code`.
 *
 * Lookup: `GET {baseUrl}/emails/{id}` (resend.openapi.yaml `emails/get`, providers.md §1 "Status lookup"); a 404
 * `not_found` means Resend has no such email. Resend reports only its latest state, `last_event`, and no time for
 * it, so the events are dated `created_at`. They are read as the webhooks read Resend's events: a bounce without a
 * type is hard, `suppressed` is `failed` with reason `suppressed`; `opened` and `clicked` also report the delivery
 * they imply (engagement alone never moves the status); `canceled` (a Resend-side scheduled send canceled, which we
 * never create) is `failed` with reason `canceled`; `queued`, `scheduled` and values Resend adds later report no
 * event. The lookup needs Resend's id: searching by our `mailroom_id` tag is not possible, and it is never needed,
 * as the idempotency key makes the consumer retry an uncertain Resend send instead of leaving it to reconciliation.
 */
import { z } from "zod";
import { parseMailbox } from "../../lib/address";
import { err, ok, type Result } from "../../lib/result";
import { bodySnippet, callProvider, classifyStatus, lookupError, parseJsonOrUndefined, retryAfterSeconds } from "../http";
import type {
	EmailProvider,
	HttpProviderOptions,
	LookupEvent,
	LookupQuery,
	LookupResult,
	OutboundEmail,
	ProviderError,
	SendOutcome,
} from "../types";

export type ResendProviderOptions = { apiKey: string } & HttpProviderOptions;

/** The tag carrying our email id, read back from Resend's webhook `data.tags`. */
export const RESEND_ID_TAG = "mailroom_id";

const QUOTA_ERRORS = new Set(["daily_quota_exceeded", "monthly_quota_exceeded"]);
/** Error bodies are a few hundred bytes; read enough to parse them whole. */

const SendEmailResponse = z.object({ id: z.string().min(1) });
const ErrorResponse = z.object({ name: z.string().min(1), message: z.string().optional() });

const optionalString = z.string().optional().catch(undefined);

/** resend.openapi.yaml `Email`: only `id` is required; what we merely read degrades to absent. */
const EmailResponse = z.object({
	id: z.string().min(1),
	to: z
		.union([z.array(z.string()), z.string().transform((to) => [to])])
		.optional()
		.catch(undefined),
	created_at: optionalString,
	last_event: optionalString,
});

type SendEmailRequest = {
	from: string;
	to: string[];
	cc?: string[];
	bcc?: string[];
	reply_to?: string[];
	subject: string;
	html?: string;
	text?: string;
	headers?: Record<string, string>;
	attachments?: { filename: string; content: string; content_type: string; content_id?: string }[];
	tags: { name: string; value: string }[];
};

/**
 * @example
 * const resend = createResendProvider({ apiKey: env.RESEND_API_KEY, baseUrl: "https://api.resend.com", timeoutMs: 15_000 });
 * const outcome = await resend.send(email, { attempt: 1 });
 */
export function createResendProvider(options: ResendProviderOptions): EmailProvider {
	const url = `${options.baseUrl.replace(/\/+$/, "")}/emails`;
	return {
		name: "resend",
		supportsIdempotency: true,
		async send(email: OutboundEmail): Promise<SendOutcome> {
			const init: RequestInit = {
				method: "POST",
				headers: {
					Authorization: `Bearer ${options.apiKey}`,
					"Content-Type": "application/json",
					"Idempotency-Key": email.id,
				},
				body: JSON.stringify(toSendEmailRequest(email)),
			};
			const call = await callProvider(url, init, options.timeoutMs, options.fetch);
			if (!call.ok) return err(call.error);
			const { response } = call;
			if (!response.ok) return err(await classifyResendError(response));
			// A 2xx we cannot read may still mean sent; the idempotency key makes the consumer's retry safe.
			const body = SendEmailResponse.safeParse(await response.json().catch(() => undefined));
			if (!body.success) return err({ kind: "uncertain", message: `HTTP ${response.status} without an email id` });
			return ok({ providerMessageId: body.data.id });
		},
		async lookup(query: LookupQuery): Promise<Result<LookupResult, ProviderError>> {
			if (query.providerMessageId === null) {
				return err({ kind: "permanent", scope: "provider", message: "Resend lookup needs the provider message id" });
			}
			const init: RequestInit = { method: "GET", headers: { Authorization: `Bearer ${options.apiKey}` } };
			const call = await callProvider(`${url}/${encodeURIComponent(query.providerMessageId)}`, init, options.timeoutMs, options.fetch);
			if (!call.ok) return err(lookupError(call.error));
			const { response } = call;
			if (!response.ok) {
				const error = await classifyResendError(response);
				if (response.status === 404 && error.kind === "permanent" && error.code === "not_found") return ok({ found: false });
				return err(lookupError(error));
			}
			const body = EmailResponse.safeParse(await response.json().catch(() => undefined));
			if (!body.success) return err({ kind: "transient", message: `HTTP ${response.status} without an email object` });
			const created = Date.parse(body.data.created_at ?? "");
			const at = Number.isNaN(created) ? (query.sentAt ?? Date.now()) : created;
			const first = body.data.to?.[0];
			const recipient = first === undefined ? undefined : parseMailbox(first)?.address.toLowerCase();
			return ok({
				found: true,
				providerMessageId: query.providerMessageId,
				events: eventsOfLastEvent(body.data.last_event, at, recipient),
			});
		},
	};
}

function toSendEmailRequest(email: OutboundEmail): SendEmailRequest {
	const tags = email.tags.filter((tag) => tag.name !== RESEND_ID_TAG);
	return {
		from: email.from,
		to: email.to,
		...(email.cc.length > 0 && { cc: email.cc }),
		...(email.bcc.length > 0 && { bcc: email.bcc }),
		...(email.replyTo.length > 0 && { reply_to: email.replyTo }),
		subject: email.subject,
		...(email.html !== null && { html: email.html }),
		...(email.text !== null && { text: email.text }),
		...(Object.keys(email.headers).length > 0 && { headers: email.headers }),
		...(email.attachments.length > 0 && {
			attachments: email.attachments.map((a) => ({
				filename: a.filename,
				content: a.content,
				content_type: a.contentType,
				...(a.contentId !== null && { content_id: a.contentId }),
			})),
		}),
		tags: [...tags, { name: RESEND_ID_TAG, value: email.id }],
	};
}

/** Resend's latest state as the events it stands for, oldest first (see the module comment). */
function eventsOfLastEvent(lastEvent: string | undefined, at: number, recipient: string | undefined): LookupEvent[] {
	const about = recipient === undefined ? {} : { recipient };
	switch (lastEvent) {
		case "sent":
		case "delivered":
		case "delivery_delayed":
			return [{ type: lastEvent, at, detail: {} }];
		case "bounced":
			return [{ type: "bounced", bounce: "hard", at, ...about, detail: {} }];
		case "complained":
			return [{ type: "complained", at, ...about, detail: {} }];
		case "opened":
		case "clicked":
			return [
				{ type: "delivered", at, detail: {} },
				{ type: lastEvent, at, detail: {} },
			];
		case "failed":
			return [{ type: "failed", at, detail: {} }];
		case "suppressed":
		case "canceled":
			return [{ type: "failed", at, detail: { reason: lastEvent } }];
		default:
			return [];
	}
}

async function classifyResendError(response: Response): Promise<ProviderError> {
	const { status, headers } = response;
	const text = await bodySnippet(response);
	const body = ErrorResponse.safeParse(parseJsonOrUndefined(text));
	if (!body.success) return classifyStatus(status, `HTTP ${status}: ${text.slice(0, 500)}`, headers);
	const { name } = body.data;
	const message = `HTTP ${status} ${name}: ${body.data.message ?? ""}`;
	if (status === 429 && QUOTA_ERRORS.has(name)) return { kind: "permanent", message, status, code: name, scope: "provider" };
	if (status === 409 && name === "concurrent_idempotent_requests") {
		const retry = retryAfterSeconds(headers);
		return { kind: "transient", message, status, ...(retry !== undefined && { retryAfterSeconds: retry }) };
	}
	const error = classifyStatus(status, message, headers);
	return error.kind === "permanent" ? { ...error, code: name } : error;
}
