/**
 * Queue message bodies, versioned. The body carries only ids: the email itself stays in D1/R2, so a message
 * is small, carries no personal data, and a stale duplicate can never send an outdated version.
 */
import { z } from "zod";

export const SendQueueMessage = z.object({ v: z.literal(1), id: z.string().min(1), tenantId: z.string().min(1) });
export type SendQueueMessage = z.infer<typeof SendQueueMessage>;
