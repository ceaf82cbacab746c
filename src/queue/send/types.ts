/**
 * The send consumer's working state: one `Attempt` per claimed email, carried through the steps
 * parse → claim → plan → send → decide → record (docs/architecture.md, "The send consumer").
 */
import type { Config } from "../../config";
import type { Db } from "../../db/client";
import type { EmailRow, Rate } from "../../db/schema";
import type { AttemptRef } from "../../lifecycle/attempts";
import type { NamedProvider, ProviderFactory, ProviderName } from "../../providers/registry";
import type { FollowUpEvent, ProviderError } from "../../providers/types";
import type { SendQueueMessage } from "../../schemas/queue";
import type { Pacer } from "../../services/pacing";
import type { WebhookQueueMessage } from "../../services/webhook-fanout";

export type SendConsumerDeps = {
	db: Db;
	config: Config;
	attachments: R2Bucket;
	webhookQueue: Queue<WebhookQueueMessage>;
	sendQueue: Queue<SendQueueMessage>;
	providers: ProviderFactory;
	pacer: Pacer;
	now: () => number;
	random: () => number;
};

/** What to do with one claimed email; every attempt ends with exactly one. */
export type Decision =
	| {
			kind: "sent";
			provider: ProviderName;
			providerMessageId: string;
			followUps: FollowUpEvent[];
			/** The provider cannot be asked about it later (no lookup): it leaves the open set now. */
			ends: boolean;
	  }
	| {
			kind: "retry";
			/** The provider called (null when none could be). */
			provider: ProviderName | null;
			next: ProviderName | null;
			/** It may have been sent at this provider: retried only there from now on. */
			pin?: ProviderName;
			delaySeconds: number;
			error: ProviderError;
	  }
	| { kind: "uncertain"; provider: ProviderName; error: ProviderError }
	| {
			kind: "failed";
			provider: ProviderName | null;
			reason: string;
			error?: ProviderError;
			/** The dead letter's reason, when the tenant may replay it. */
			deadLetter?: string;
			suppress?: string[];
	  }
	/** No provider was called: back to `queued` without spending an attempt, `provider` the next one to use. */
	| { kind: "deferred"; delaySeconds: number; reason: string; provider?: ProviderName }
	/** The row stopped being this attempt's before any call (a lost race): nothing to record. */
	| { kind: "lost" };

export type Attempt = {
	message: Message<unknown>;
	/** The row as the claim returned it: `sending`, with its token, lease and the provider it was assigned. */
	row: EmailRow;
	ref: AttemptRef;
	/** The tenant's failover order (its own list, else PROVIDERS). */
	order: ProviderName[];
	/** It may already have been sent there: no other provider, ever. */
	pinned: ProviderName | null;
	/** Recipients on the tenant's suppression list. */
	suppressed: string[];
	tenantRate: Rate;
	/** The provider the attempt will call, once planned. */
	provider: NamedProvider | null;
	/** True once the provider call started (its outcome may be uncertain). */
	called: boolean;
	decision: Decision | null;
};
