import { env } from "cloudflare:workers";
import { afterEach, describe, expect, it, vi } from "vitest";
import { ATTACHMENT_LINK_TTL_SECONDS } from "../../src/services/attachment-links";
import { call, seedTenant } from "../helpers/api";
import { seedEmail } from "../helpers/send";

afterEach(() => vi.restoreAllMocks());

type Attachment = {
	id: string;
	filename: string | null;
	content_type: string;
	content_id?: string;
	content_disposition: string;
	size?: number;
	download_url: string;
	expires_at?: string;
	source: string;
};
type ErrorBody = { name: string; message: string };

const PDF = btoa("%PDF-1.4 hello");
const HTML = btoa("<script>alert(1)</script>");

async function emailWithAttachments() {
	const t = await seedTenant();
	const id = await seedEmail(t, {
		attachments: [
			{ filename: "report.pdf", content: PDF, content_type: "application/pdf" },
			{ filename: "logo.png", content: btoa("png"), content_id: "logo" },
			{ filename: "terms.txt", path: "https://files.example.org/terms.txt" },
			{ filename: 'Résumé "v2".html', content: HTML, content_type: "text/html" },
		],
	});
	return { t, id };
}

/** Fetches a download link through the Worker (the link is on the test origin). */
async function download(url: string) {
	const { pathname, search } = new URL(url);
	return call<string>("GET", `${pathname}${search}`);
}

describe("GET /emails/:id/attachments", () => {
	it("lists each attachment with its metadata and a signed link; a path attachment reports its URL", async () => {
		const { t, id } = await emailWithAttachments();
		const before = Date.now();
		const res = await call<{ object: string; has_more: boolean; data: Attachment[] }>("GET", `/emails/${id}/attachments`, { key: t.key });
		expect(res.status).toBe(200);
		expect(res.body).toMatchObject({ object: "list", has_more: false });
		const [pdf, logo, terms] = res.body.data;
		expect(pdf).toEqual({
			id: expect.stringMatching(/^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/),
			filename: "report.pdf",
			content_type: "application/pdf",
			content_disposition: "attachment",
			size: 14,
			download_url: expect.stringMatching(new RegExp(`/attachments/${id}/${pdf?.id}\\?expires=\\d+&signature=[\\w-]+$`)),
			expires_at: expect.any(String),
			source: "stored",
		});
		const expiresAt = Date.parse(pdf?.expires_at ?? "");
		expect(expiresAt).toBeGreaterThanOrEqual(before + ATTACHMENT_LINK_TTL_SECONDS * 1000 - 1000);
		expect(expiresAt).toBeLessThanOrEqual(Date.now() + ATTACHMENT_LINK_TTL_SECONDS * 1000);
		expect(logo).toMatchObject({ content_id: "logo", content_disposition: "inline", content_type: "application/octet-stream" });
		expect(terms).toEqual({
			id: expect.any(String),
			filename: "terms.txt",
			content_type: "application/octet-stream",
			content_disposition: "attachment",
			download_url: "https://files.example.org/terms.txt",
			source: "path",
		});
	});

	it("gives the same id to an attachment every time, and a different one per email", async () => {
		const { t, id } = await emailWithAttachments();
		const ids = async (emailId: string) =>
			(await call<{ data: Attachment[] }>("GET", `/emails/${emailId}/attachments`, { key: t.key })).body.data.map((a) => a.id);
		expect(await ids(id)).toEqual(await ids(id));
		const other = await seedEmail(t, { attachments: [{ filename: "report.pdf", content: PDF }] });
		expect((await ids(other))[0]).not.toBe((await ids(id))[0]);
	});

	it("pages with limit, after and before (attachment ids)", async () => {
		const { t, id } = await emailWithAttachments();
		const all = (await call<{ data: Attachment[] }>("GET", `/emails/${id}/attachments`, { key: t.key })).body.data.map((a) => a.id);
		const first = await call<{ has_more: boolean; data: Attachment[] }>("GET", `/emails/${id}/attachments?limit=2`, { key: t.key });
		expect(first.body.data.map((a) => a.id)).toEqual(all.slice(0, 2));
		expect(first.body.has_more).toBe(true);
		const next = await call<{ has_more: boolean; data: Attachment[] }>("GET", `/emails/${id}/attachments?limit=2&after=${all[1]}`, {
			key: t.key,
		});
		expect(next.body.data.map((a) => a.id)).toEqual(all.slice(2));
		expect(next.body.has_more).toBe(false);
		const back = await call<{ data: Attachment[] }>("GET", `/emails/${id}/attachments?limit=1&before=${all[2]}`, { key: t.key });
		expect(back.body.data.map((a) => a.id)).toEqual([all[1]]);
		expect((await call("GET", `/emails/${id}/attachments?after=${crypto.randomUUID()}`, { key: t.key })).status).toBe(422);
	});

	it("lists none for an email without attachments", async () => {
		const t = await seedTenant();
		const id = await seedEmail(t);
		expect((await call<{ data: unknown[] }>("GET", `/emails/${id}/attachments`, { key: t.key })).body.data).toEqual([]);
	});

	it("answers 404 for another tenant's email", async () => {
		const { id } = await emailWithAttachments();
		const other = await seedTenant();
		const res = await call<ErrorBody>("GET", `/emails/${id}/attachments`, { key: other.key });
		expect(res.status).toBe(404);
		expect(res.body.message).toBe("Email not found");
	});
});

describe("GET /emails/:id/attachments/:attachment_id", () => {
	it("retrieves one attachment with object: attachment", async () => {
		const { t, id } = await emailWithAttachments();
		const [first] = (await call<{ data: Attachment[] }>("GET", `/emails/${id}/attachments`, { key: t.key })).body.data;
		const res = await call<Attachment & { object: string }>("GET", `/emails/${id}/attachments/${first?.id}`, { key: t.key });
		expect(res.body).toMatchObject({ object: "attachment", id: first?.id, filename: "report.pdf", source: "stored" });
	});

	it("answers 404 for an attachment id of another email, and for another tenant", async () => {
		const { t, id } = await emailWithAttachments();
		const otherEmail = await seedEmail(t, { attachments: [{ filename: "x.txt", content: btoa("x") }] });
		const [foreign] = (await call<{ data: Attachment[] }>("GET", `/emails/${otherEmail}/attachments`, { key: t.key })).body.data;
		const res = await call<ErrorBody>("GET", `/emails/${id}/attachments/${foreign?.id}`, { key: t.key });
		expect(res.status).toBe(404);
		expect(res.body.message).toBe("Attachment not found");
		const stranger = await seedTenant();
		expect((await call("GET", `/emails/${otherEmail}/attachments/${foreign?.id}`, { key: stranger.key })).status).toBe(404);
	});
});

describe("signed download links", () => {
	async function links() {
		const { t, id } = await emailWithAttachments();
		const data = (await call<{ data: Attachment[] }>("GET", `/emails/${id}/attachments`, { key: t.key })).body.data;
		return { t, id, data };
	}

	it("serve the bytes from R2 without an API key, as a download", async () => {
		const { data } = await links();
		const res = await download(data[0]?.download_url ?? "");
		expect(res.status).toBe(200);
		expect(res.body).toBe("%PDF-1.4 hello");
		expect(res.headers.get("content-type")).toBe("application/pdf");
		expect(res.headers.get("content-disposition")).toBe(`attachment; filename="report.pdf"; filename*=UTF-8''report.pdf`);
	});

	it("never let an HTML attachment run as a page of this origin", async () => {
		const { data } = await links();
		const res = await download(data[3]?.download_url ?? "");
		expect(res.headers.get("content-disposition")).toBe(
			`attachment; filename="R_sum_ _v2_.html"; filename*=UTF-8''R%C3%A9sum%C3%A9%20%22v2%22.html`,
		);
		expect(res.headers.get("content-security-policy")).toBe("sandbox; default-src 'none'");
		expect(res.headers.get("x-content-type-options")).toBe("nosniff");
	});

	it.each([
		["a changed signature", (u: URL) => u.searchParams.set("signature", `${u.searchParams.get("signature")?.slice(0, -2)}AA`)],
		["a later expiry", (u: URL) => u.searchParams.set("expires", String(Number(u.searchParams.get("expires")) + 3600))],
		["no signature", (u: URL) => u.searchParams.delete("signature")],
		["another attachment's id", (u: URL) => (u.pathname = u.pathname.replace(/[^/]+$/, crypto.randomUUID()))],
	])("refuse %s with 403", async (_label, tamper) => {
		const { data } = await links();
		const url = new URL(data[0]?.download_url ?? "");
		tamper(url);
		const res = await download(url.toString());
		expect(res.status).toBe(403);
		expect((res.body as unknown as ErrorBody).message).toBe("This download link is not valid");
	});

	it("expire", async () => {
		const { data } = await links();
		const expires = Date.parse(data[0]?.expires_at ?? "");
		vi.spyOn(Date, "now").mockReturnValue(expires + 1000);
		const res = await download(data[0]?.download_url ?? "");
		expect(res.status).toBe(403);
		expect((res.body as unknown as ErrorBody).message).toContain("has expired");
	});

	it("answer 404 once the bytes are gone (retention)", async () => {
		const { id, data } = await links();
		await env.ATTACHMENTS.delete(`${id}/0`);
		expect((await download(data[0]?.download_url ?? "")).status).toBe(404);
	});
});
