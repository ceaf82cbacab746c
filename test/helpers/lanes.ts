/** Both send lanes held: what each queue was sent, in order, instead of the live consumers getting it. */
import { env } from "cloudflare:workers";
import { vi } from "vitest";
import type { Lane } from "../../src/queue/lanes";
import type { SendQueueMessage } from "../../src/schemas/queue";

export type HeldMessage = SendQueueMessage & { delaySeconds: number };

export function holdLanes() {
	const sent: Record<Lane, HeldMessage[]> = { send: [], sendBulk: [] };
	const queues: Record<Lane, Queue> = { send: env.SEND_QUEUE, sendBulk: env.SEND_BULK_QUEUE };
	for (const lane of ["send", "sendBulk"] as const) {
		vi.spyOn(queues[lane], "send").mockImplementation(async (body, options) => {
			sent[lane].push({ ...(body as SendQueueMessage), delaySeconds: options?.delaySeconds ?? 0 });
			return undefined as never;
		});
		vi.spyOn(queues[lane], "sendBatch").mockImplementation(async (messages) => {
			for (const m of messages) sent[lane].push({ ...(m.body as SendQueueMessage), delaySeconds: m.delaySeconds ?? 0 });
			return undefined as never;
		});
	}
	return {
		sent,
		/** The email ids sent to `lane`, in order (repeats included). */
		ids: (lane: Lane) => sent[lane].map((m) => m.id),
		/** Forgets what was held so far. */
		clear: () => {
			sent.send.length = 0;
			sent.sendBulk.length = 0;
		},
	};
}
