/**
 * Send a test email (`POST /emails`, one Idempotency-Key per form, so a double click sends once). Lists the sandbox
 * provider's addresses with what each does. Once the API has templates (`/templates` in its OpenAPI document), a
 * full-access session can pick a published template and fill its variables; without them the picker is absent.
 */

import { useMemo, useState } from "preact/hooks";
import { useLocation } from "preact-iso";
import { SANDBOX_ADDRESSES } from "../catalog";
import { DataTable } from "../components/table";
import { Notice, PageHeader, Problem } from "../components/ui";
import { useApiHas, useResource } from "../hooks";
import { BASE } from "../paths";
import { api, useSession } from "../session";
import type { List, Template, TemplateListItem, TemplateVariable } from "../types";

const SANDBOX_DOMAIN = "example.org";
const FROM_KEY = "mailroom.console.from";

const splitList = (value: string) =>
	value
		.split(/[,;\n]/)
		.map((s) => s.trim())
		.filter(Boolean);

/** `name:value` pairs, comma separated, as the API's tags. */
function parseTags(value: string): { name: string; value: string }[] {
	return splitList(value).map((pair) => {
		const [name = "", ...rest] = pair.split(":");
		return { name: name.trim(), value: rest.join(":").trim() };
	});
}

function newIdempotencyKey(): string {
	return `console-${crypto.randomUUID()}`;
}

type VariableValues = Record<string, string | boolean>;

/** The template's variables as the API wants them; a value that does not parse for its type is reported. */
function variablesFor(
	variables: TemplateVariable[],
	values: VariableValues,
): { ok: true; value: Record<string, unknown> } | { ok: false; error: string } {
	const out: Record<string, unknown> = {};
	for (const v of variables) {
		const raw = values[v.key];
		if (raw === undefined || raw === "") continue;
		if (v.type === "boolean") out[v.key] = raw === true;
		else if (v.type === "number") {
			const n = Number(raw);
			if (!Number.isFinite(n)) return { ok: false, error: `${v.key} must be a number.` };
			out[v.key] = n;
		} else if (v.type === "object" || v.type === "list") {
			try {
				out[v.key] = JSON.parse(String(raw));
			} catch {
				return { ok: false, error: `${v.key} must be JSON (${v.type === "list" ? "a list like [1, 2]" : 'an object like {"a": 1}'}).` };
			}
		} else out[v.key] = String(raw);
	}
	return { ok: true, value: out };
}

function TemplatePicker({
	chosen,
	onChoose,
	values,
	onValues,
}: {
	chosen: Template | null;
	onChoose: (t: Template | null) => void;
	values: VariableValues;
	onValues: (v: VariableValues) => void;
}) {
	const templates = useResource(() => api.get<List<TemplateListItem>>("/templates", { limit: 100 }), "templates");
	const [error, setError] = useState<unknown>(undefined);
	// A key without template access, or an older API: no picker, the form works without it.
	if (templates.error || !templates.data) return null;
	const published = templates.data.data.filter((t) => t.status === undefined || t.status === "published");
	return (
		<fieldset class="template-picker">
			<legend>Template</legend>
			<label for="send-template">Send with a template</label>
			<select
				id="send-template"
				value={chosen?.id ?? ""}
				onChange={(e) => {
					const id = e.currentTarget.value;
					setError(undefined);
					if (!id) return onChoose(null);
					api.get<Template>(`/templates/${encodeURIComponent(id)}`).then(onChoose, setError);
				}}
			>
				<option value="">No template: write the body below</option>
				{published.map((t) => (
					<option key={t.id} value={t.id}>
						{t.name}
						{t.alias ? ` (${t.alias})` : ""}
					</option>
				))}
			</select>
			{published.length === 0 ? <p class="hint">No published templates yet.</p> : null}
			<Problem error={error} action="Could not load the template" />
			{chosen?.variables?.map((v) => {
				const id = `var-${v.key}`;
				const fallback = v.fallback_value === undefined || v.fallback_value === null ? null : JSON.stringify(v.fallback_value);
				return (
					<div class="field" key={v.key}>
						{v.type === "boolean" ? (
							<label class="inline" for={id}>
								<input
									id={id}
									type="checkbox"
									checked={values[v.key] === true}
									onChange={(e) => onValues({ ...values, [v.key]: e.currentTarget.checked })}
								/>{" "}
								{v.key}
							</label>
						) : (
							<>
								<label for={id}>
									{v.key} <span class="muted">({v.type})</span>
								</label>
								{v.type === "object" || v.type === "list" ? (
									<textarea
										id={id}
										rows={3}
										value={String(values[v.key] ?? "")}
										onInput={(e) => onValues({ ...values, [v.key]: e.currentTarget.value })}
									/>
								) : (
									<input
										id={id}
										inputMode={v.type === "number" ? "decimal" : "text"}
										value={String(values[v.key] ?? "")}
										onInput={(e) => onValues({ ...values, [v.key]: e.currentTarget.value })}
									/>
								)}
							</>
						)}
						{fallback ? <p class="hint">Empty uses the fallback {fallback}.</p> : null}
					</div>
				);
			})}
		</fieldset>
	);
}

function TemplatePreview({ template, variables }: { template: Template; variables: Record<string, unknown> }) {
	const [preview, setPreview] = useState<{ subject?: string; html?: string | null; text?: string | null } | null>(null);
	const [error, setError] = useState<unknown>(undefined);
	return (
		<div>
			<button
				type="button"
				class="button secondary"
				onClick={() => {
					setError(undefined);
					// The published version: what a send would use (a draft edit never changes what is sent).
					api
						.post<typeof preview>(`/templates/${encodeURIComponent(template.id)}/render`, { variables, version: "published" })
						.then(setPreview, setError);
				}}
			>
				Preview
			</button>
			<Problem error={error} action="Could not render the template" />
			{preview ? (
				<section aria-label="Preview" class="preview">
					<p>
						<strong>Subject:</strong> {preview.subject}
					</p>
					{preview.html ? <iframe class="email-html" title="Preview of the rendered HTML" sandbox="" srcdoc={preview.html} /> : null}
					{preview.text ? <pre class="text-body">{preview.text}</pre> : null}
				</section>
			) : null}
		</div>
	);
}

export function SendPage() {
	const session = useSession();
	const { route } = useLocation();
	const fullAccess = session?.kind === "tenant" && session.permission === "full_access";
	const hasTemplates = useApiHas(/^\/templates$/);
	const canPreview = useApiHas(/^\/templates\/\{[^}]+\}\/render$/);
	const [from, setFrom] = useState(() => sessionStorage.getItem(FROM_KEY) ?? "");
	const [to, setTo] = useState("");
	const [subject, setSubject] = useState("");
	const [kind, setKind] = useState<"text" | "html">("text");
	const [content, setContent] = useState("");
	const [tags, setTags] = useState("");
	const [scheduledAt, setScheduledAt] = useState("");
	const [template, setTemplate] = useState<Template | null>(null);
	const [values, setValues] = useState<VariableValues>({});
	const [idempotencyKey, setIdempotencyKey] = useState(newIdempotencyKey);
	const [busy, setBusy] = useState(false);
	const [error, setError] = useState<unknown>(undefined);
	const [formError, setFormError] = useState<string | null>(null);
	const [accepted, setAccepted] = useState<string | null>(null);

	const chooseTemplate = (chosen: Template | null) => {
		setTemplate(chosen);
		setValues({});
	};

	const variables = useMemo(() => (template ? variablesFor(template.variables ?? [], values) : null), [template, values]);

	const submit = async (event: Event) => {
		event.preventDefault();
		setFormError(null);
		setError(undefined);
		setAccepted(null);
		const recipients = splitList(to);
		if ((!from.trim() && !template?.from) || recipients.length === 0) return setFormError("From and To are required.");
		if (!subject.trim() && !template?.subject) return setFormError("Subject is required.");
		if (!template && !content.trim()) return setFormError(`Write the ${kind === "html" ? "HTML" : "text"} body, or pick a template.`);
		if (variables && !variables.ok) return setFormError(variables.error);
		const body: Record<string, unknown> = { to: recipients };
		if (from.trim()) body.from = from.trim();
		if (subject.trim()) body.subject = subject.trim();
		if (template && variables?.ok) body.template = { id: template.id, variables: variables.value };
		else body[kind] = content;
		if (tags.trim()) body.tags = parseTags(tags);
		if (scheduledAt.trim()) body.scheduled_at = scheduledAt.trim();
		setBusy(true);
		try {
			const { id } = await api.post<{ id: string }>("/emails", body, { "Idempotency-Key": idempotencyKey });
			if (from.trim()) sessionStorage.setItem(FROM_KEY, from.trim());
			setIdempotencyKey(newIdempotencyKey());
			if (fullAccess) route(`${BASE}/emails/${id}`);
			else setAccepted(id);
		} catch (err) {
			setError(err);
		} finally {
			setBusy(false);
		}
	};

	return (
		<>
			<PageHeader
				title="Send a test email"
				description={
					fullAccess
						? "Accepted emails open on their own page, which follows them to delivered."
						: "This key can only send emails: it cannot list or open them afterwards."
				}
			/>
			{accepted ? (
				<Notice tone="good">
					Accepted: email <code>{accepted}</code> is queued.
				</Notice>
			) : null}
			<div class="grid-2 send">
				<form class="card form" onSubmit={submit} noValidate aria-label="Email to send">
					<label for="send-from">From</label>
					<input
						id="send-from"
						value={from}
						onInput={(e) => setFrom(e.currentTarget.value)}
						placeholder={template?.from ?? "Acme <hello@example.com>"}
						required={!template?.from}
					/>
					<p class="hint">{template?.from ? "Empty: the template's sender." : "An address at one of your tenant's allowed domains."}</p>
					<label for="send-to">To</label>
					<input
						id="send-to"
						value={to}
						onInput={(e) => setTo(e.currentTarget.value)}
						placeholder={`delivered@${SANDBOX_DOMAIN}`}
						required
					/>
					<p class="hint">Up to 50 addresses, separated by commas.</p>
					<label for="send-subject">Subject</label>
					<input
						id="send-subject"
						value={subject}
						onInput={(e) => setSubject(e.currentTarget.value)}
						placeholder={template?.subject ?? ""}
						required={!template?.subject}
					/>
					{template?.subject ? <p class="hint">Empty: the template's subject, with its variables filled in.</p> : null}
					{fullAccess && hasTemplates ? (
						<TemplatePicker chosen={template} onChoose={chooseTemplate} values={values} onValues={setValues} />
					) : null}
					{template ? (
						canPreview && variables?.ok ? (
							<TemplatePreview template={template} variables={variables.value} />
						) : null
					) : (
						<>
							<fieldset>
								<legend>Body</legend>
								<label class="inline">
									<input type="radio" name="kind" checked={kind === "text"} onChange={() => setKind("text")} /> Text
								</label>
								<label class="inline">
									<input type="radio" name="kind" checked={kind === "html"} onChange={() => setKind("html")} /> HTML
								</label>
							</fieldset>
							<label for="send-body">{kind === "html" ? "HTML body" : "Text body"}</label>
							<textarea id="send-body" rows={8} value={content} onInput={(e) => setContent(e.currentTarget.value)} />
						</>
					)}
					<details>
						<summary>Tags and scheduling</summary>
						<label for="send-tags">Tags</label>
						<input id="send-tags" value={tags} onInput={(e) => setTags(e.currentTarget.value)} placeholder="campaign:welcome, env:test" />
						<p class="hint">name:value pairs; letters, digits, _ and - only.</p>
						<label for="send-scheduled">Send at</label>
						<input
							id="send-scheduled"
							value={scheduledAt}
							onInput={(e) => setScheduledAt(e.currentTarget.value)}
							placeholder="in 10 minutes, or 2026-12-01T09:00:00Z"
						/>
					</details>
					{formError ? (
						<p class="notice notice-bad" role="alert">
							{formError}
						</p>
					) : null}
					<Problem error={error} action="Not sent" />
					<button class="button" type="submit" disabled={busy}>
						{busy ? "Sending…" : "Send"}
					</button>
				</form>
				<section class="card" aria-labelledby="sandbox-heading">
					<h2 id="sandbox-heading">Sandbox addresses</h2>
					<p class="muted">
						With the sandbox provider (<code>PROVIDERS=sandbox</code>, the local default) the recipient's name before the @ decides what
						happens. Any domain works.
					</p>
					<DataTable
						label="Sandbox addresses"
						rows={SANDBOX_ADDRESSES}
						rowKey={(a) => a.local}
						columns={[
							{
								header: "Address",
								cell: ({ local }) => (
									<code>
										{local}@{SANDBOX_DOMAIN}
									</code>
								),
							},
							{ header: "What happens", wrap: true, cell: ({ does }) => does },
							{
								header: "Use",
								hiddenHeader: true,
								cell: ({ local }) => (
									<button
										type="button"
										class="button secondary small"
										aria-label={`Use ${local}@${SANDBOX_DOMAIN}`}
										onClick={() => setTo(`${local}@${SANDBOX_DOMAIN}`)}
									>
										Use
									</button>
								),
							},
						]}
					/>
				</section>
			</div>
		</>
	);
}
