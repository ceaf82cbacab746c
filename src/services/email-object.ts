/** The Resend `Email` object (GET /emails/:id, list items) built from a row. */
import type { EmailPriority, EmailRow } from "../db/schema";
import { iso, isoOrNull } from "../lib/time";

export type EmailObject = {
	object: "email";
	id: string;
	from: string;
	to: string[];
	cc: string[];
	bcc: string[];
	reply_to: string[];
	subject: string;
	html: string | null;
	text: string | null;
	created_at: string;
	scheduled_at: string | null;
	last_event: string;
	tags: { name: string; value: string }[];
	template_id: string | null;
	template_version_id: string | null;
	priority: EmailPriority;
};

export function toEmailObject(row: EmailRow): EmailObject {
	return {
		object: "email",
		id: row.id,
		from: row.from,
		to: row.to,
		cc: row.cc,
		bcc: row.bcc,
		reply_to: row.replyTo,
		subject: row.subject,
		html: row.html,
		text: row.text,
		created_at: iso(row.createdAt),
		scheduled_at: isoOrNull(row.scheduledAt),
		last_event: row.lastEvent,
		tags: row.tags,
		template_id: row.templateId,
		template_version_id: row.templateVersionId,
		priority: row.priority,
	};
}
