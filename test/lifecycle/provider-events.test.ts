import { env } from "cloudflare:workers";
import { describe, expect, it } from "vitest";
import { getDb } from "../../src/db/client";
import { type ProviderEvent, recordProviderEvents } from "../../src/lifecycle/provider-events";
import { seedTenant } from "../helpers/api";
import { emailRow, eventTypes, seedEmail } from "../helpers/send";

async function setup() {
	const t = await seedTenant();
	const id = await seedEmail(t, { to: "user@example.org" });
	await env.DB.prepare("UPDATE emails SET status = 'sent', last_event = 'sent' WHERE id = ?").bind(id).run();
	const event = (type: ProviderEvent["type"], at: number, extra: Partial<ProviderEvent> = {}): ProviderEvent => ({
		emailId: id,
		tenantId: t.tenantId,
		type,
		at,
		provider: "resend",
		...extra,
	});
	return { t, id, event, db: getDb(env.DB) };
}

describe("recording provider events", () => {
	it("never moves status backwards: a late sent or delayed after delivered changes nothing", async () => {
		const { id, event, db } = await setup();
		await recordProviderEvents(db, [event("delivered", 2)]);
		await recordProviderEvents(db, [event("delivery_delayed", 1), event("sent", 3)]);
		expect(await emailRow(id)).toMatchObject({ status: "delivered", last_event: "delivered" });
	});

	it("lets a bounce win over delivered, whatever the order", async () => {
		const a = await setup();
		await recordProviderEvents(a.db, [a.event("bounced", 2, { bounce: "hard" }), a.event("delivered", 1)]);
		expect((await emailRow(a.id)).status).toBe("bounced");
	});

	it("sets last_event for engagement without changing the status, in either order", async () => {
		const { id, event, db } = await setup();
		await recordProviderEvents(db, [event("opened", 2)]);
		expect(await emailRow(id)).toMatchObject({ status: "sent", last_event: "opened" });
		await recordProviderEvents(db, [event("delivered", 1)]);
		expect(await emailRow(id)).toMatchObject({ status: "delivered", last_event: "opened" });
		await recordProviderEvents(db, [event("clicked", 3)]);
		expect(await emailRow(id)).toMatchObject({ status: "delivered", last_event: "clicked" });
	});

	it("treats a soft bounce as a delay: no suppression, delivery can still follow", async () => {
		const { t, id, event, db } = await setup();
		await recordProviderEvents(db, [event("bounced", 1, { bounce: "soft", recipient: "user@example.org" })]);
		expect((await emailRow(id)).status).toBe("delivery_delayed");
		await recordProviderEvents(db, [event("delivered", 2)]);
		expect((await emailRow(id)).status).toBe("delivered");
		const sup = await env.DB.prepare("SELECT count(*) AS n FROM suppressions WHERE tenant_id = ?").bind(t.tenantId).first<number>("n");
		expect(sup).toBe(0);
	});

	it("ignores a replayed event with the same dedupe key", async () => {
		const { id, event, db } = await setup();
		await recordProviderEvents(db, [event("delivered", 1, { dedupeKey: "resend:evt_1" })]);
		await recordProviderEvents(db, [event("delivered", 1, { dedupeKey: "resend:evt_1" })]);
		expect((await eventTypes(id)).filter((e) => e === "delivered")).toHaveLength(1);
	});

	it("does not revive a canceled or failed email", async () => {
		const { id, event, db } = await setup();
		await env.DB.prepare("UPDATE emails SET status = 'failed', last_event = 'failed' WHERE id = ?").bind(id).run();
		await recordProviderEvents(db, [event("delivered", 1), event("opened", 2)]);
		expect(await emailRow(id)).toMatchObject({ status: "failed", last_event: "failed" });
	});
});
