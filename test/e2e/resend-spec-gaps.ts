/**
 * The one allow-list of the conformance test (resend-conformance.test.ts): every place where Mailroom's traffic differs
 * from Resend's OpenAPI document (test/specs/resend.openapi.yaml) on purpose, each with its reason. Prism reports a
 * violation as a location (`request.body.from`, `response.body.records.0.record`) and a message; an entry matches when
 * its operation is the call's (or `*`), its location pattern matches the location (numbers of array items become
 * `[]`), and its message fragment is in the message. Anything else fails the test.
 */

export type SpecGap = {
	/** `METHOD /path` as in Resend's document (or as the SDK calls it where the document lacks it); `*` for any. */
	operation: string;
	/** The violation's location with array indexes as `[]`, e.g. `response.body.data.[].html`; `*` for any. */
	location: string;
	/** A fragment of Prism's message. */
	message: string;
	reason: string;
};

export const SPEC_GAPS: readonly SpecGap[] = [
	{
		operation: "*",
		location: "response",
		message: "Unable to match the returned status code",
		reason:
			"Resend's document describes no error responses at all; Mailroom's errors (4xx) have Resend's documented shape {statusCode, name, message} and names, which the test checks call by call.",
	},
	{
		operation: "GET /emails/{email_id}",
		location: "response.body.html",
		message: "must be string",
		reason:
			"`html` is null for an email sent without html. The document types it as a string while Resend's own examples and the SDK's types (`html: string | null`) return null; an empty string would claim an empty html part.",
	},
	{
		operation: "GET /emails/{email_id}",
		location: "response.body.text",
		message: "must be string",
		reason: "`text` is null for an email sent without text, as `html` above (SDK: `text: string | null`).",
	},
	{
		operation: "GET /emails",
		location: "response.body.data.[].html",
		message: "must be string",
		reason: "As for GET /emails/{email_id}: null when the email has no html.",
	},
	{
		operation: "GET /emails",
		location: "response.body.data.[].text",
		message: "must be string",
		reason: "As for GET /emails/{email_id}: null when the email has no text.",
	},
	{
		operation: "POST /domains",
		location: "response.body.records.[].record",
		message: "must be equal to one of the allowed values",
		reason:
			"The first record is Mailroom's ownership record (`record: Verification`, TXT `mailroom-verification=<token>`): Resend proves ownership through its DKIM record and has no such kind; the others are the providers' DKIM and SPF records.",
	},
	{
		operation: "GET /domains/{domain_id}",
		location: "response.body.records.[].record",
		message: "must be equal to one of the allowed values",
		reason: "As for POST /domains: the ownership record's kind `Verification`.",
	},
	{
		operation: "POST /emails",
		location: "request.body",
		message: "must have required property 'from'",
		reason:
			"A templated send may leave `from` to the published template (Resend's templates do the same; the document's SendEmailRequest predates templates and still requires it).",
	},
	{
		operation: "POST /emails",
		location: "request.body",
		message: "must have required property 'subject'",
		reason: "A templated send may leave `subject` to the template, as `from` above.",
	},
	{
		operation: "POST /emails/batch",
		location: "request.body.[]",
		message: "must have required property 'from'",
		reason: "Batch items with a template may leave `from` to it, as for POST /emails.",
	},
	{
		operation: "POST /emails/batch",
		location: "request.body.[]",
		message: "must have required property 'subject'",
		reason: "Batch items with a template may leave `subject` to it, as for POST /emails.",
	},
	{
		operation: "GET /templates/{id}",
		location: "response.body.alias",
		message: "must be string",
		reason:
			"A template without an alias has `alias: null` (the SDK's Template type: `alias: string | null`); the document types it as a string.",
	},
	{
		operation: "GET /templates/{id}",
		location: "response.body.text",
		message: "must be string",
		reason: "A template without a text part has `text: null` (SDK: `text: string | null`), as Resend's examples show.",
	},
	{
		operation: "GET /templates/{id}",
		location: "response.body.variables.[].fallback_value",
		message: "fallback_value must",
		reason:
			"A variable declared without a fallback has `fallback_value: null` (SDK: `fallback_value?: string | number | null`); the document's oneOf has no null branch.",
	},
	{
		operation: "GET /templates",
		location: "response.body.data.[].alias",
		message: "must be string",
		reason: "As for GET /templates/{id}: `alias: null` for a template without an alias.",
	},
	{
		operation: "PATCH /emails/{email_id}",
		location: "request",
		message: "No supported content types, but request included a non-empty body",
		reason:
			"Rescheduling sends `{scheduled_at}` (Resend's documented update-email body, and what `resend.emails.update()` sends); the document's emails/update declares no request body.",
	},
	...[
		"GET /usage",
		"GET /webhooks/{id}/events",
		"GET /webhooks/{id}/events/{event_id}",
		"POST /webhooks/{id}/events/{event_id}/replay",
		"POST /webhooks/{id}/signing-secret/rotate",
	].map(
		(operation): SpecGap => ({
			operation,
			location: "request",
			message: "Selected route not found",
			reason: "The `resend` SDK calls this path (usage, webhook events, secret rotation) but Resend's document does not describe it yet.",
		}),
	),
];
