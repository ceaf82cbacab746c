/** Step 1, parse: queue bodies to email ids. A body of no known version is dead-lettered, never dropped silently. */
import { SendQueueMessage } from "../../schemas/queue";

export type ParsedBatch = {
	/** One message per email id; a repeat of the same id within the batch is acked at once (one is enough). */
	byId: Map<string, { message: Message<unknown>; tenantId: string }>;
	malformed: Message<unknown>[];
};

export function parseMessages(messages: readonly Message<unknown>[]): ParsedBatch {
	const byId = new Map<string, { message: Message<unknown>; tenantId: string }>();
	const malformed: Message<unknown>[] = [];
	for (const message of messages) {
		const parsed = SendQueueMessage.safeParse(message.body);
		if (!parsed.success) malformed.push(message);
		else if (byId.has(parsed.data.id)) message.ack();
		else byId.set(parsed.data.id, { message, tenantId: parsed.data.tenantId });
	}
	return { byId, malformed };
}
