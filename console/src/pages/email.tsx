/**
 * One email: what was sent, its whole timeline (`GET /emails/:id/events`: every attempt with its provider, error
 * and retry delay), the html rendered in a sandboxed frame (no scripts, no same-origin access, no remote images
 * under the console's CSP), and the raw MIME message. Refreshes while the email is still on its way.
 */
import { Fragment } from "preact";
import { useEffect, useState } from "preact/hooks";
import { useRoute } from "preact-iso";
import { Loading, Notice, PageHeader, Problem, StatusBadge, TableWrap, Tags, Time } from "../components/ui";
import { describeDetail, formatSeconds, MOVING_STATUSES } from "../format";
import { useResource } from "../hooks";
import { BASE } from "../paths";
import { api } from "../session";
import type { EmailEvent, EmailObject, List } from "../types";

const REFRESH_MS = 2000;

type Loaded = { email: EmailObject; events: EmailEvent[] };

/** Provider, attempts, last error and the next retry, read off the events. */
function deliverySummary(email: EmailObject, events: EmailEvent[]) {
	const withProvider = events.filter((e) => e.provider);
	const attempts = events.reduce((n, e) => Math.max(n, typeof e.detail?.attempt === "number" ? e.detail.attempt : 0), 0);
	const failures = events.filter((e) => e.type === "attempt_failed" || e.type === "failed");
	const lastFailure = failures.at(-1);
	const retry = lastFailure?.type === "attempt_failed" ? lastFailure.detail?.retry_in_seconds : undefined;
	const retryAt =
		typeof retry === "number" && lastFailure && MOVING_STATUSES.has(email.last_event)
			? new Date(Date.parse(lastFailure.at) + retry * 1000).toISOString()
			: null;
	return {
		provider: withProvider.at(-1)?.provider ?? null,
		attempts,
		lastError: typeof lastFailure?.detail?.error === "string" ? lastFailure.detail.error : null,
		retryAt,
	};
}

function RawMessage({ id }: { id: string }) {
	const [raw, setRaw] = useState<string | null>(null);
	const [error, setError] = useState<unknown>(undefined);
	const [url, setUrl] = useState<string | null>(null);
	useEffect(() => () => void (url && URL.revokeObjectURL(url)), [url]);
	const load = () => {
		setError(undefined);
		api.text(`/emails/${id}/raw`).then((text) => {
			setRaw(text);
			setUrl(URL.createObjectURL(new Blob([text], { type: "message/rfc822" })));
		}, setError);
	};
	return (
		<section aria-labelledby="raw-heading" class="card">
			<h2 id="raw-heading">Raw message</h2>
			<p class="muted">
				The RFC 5322 message as sent, from <code>GET /emails/{id}/raw</code> (Bcc not shown).
			</p>
			<Problem error={error} action="Could not load the raw message" />
			{raw === null ? (
				<button type="button" class="button secondary" onClick={load}>
					Show the raw message
				</button>
			) : (
				<>
					{url ? (
						<a class="button secondary" href={url} download={`${id}.eml`}>
							Download {id}.eml
						</a>
					) : null}
					<TableWrap label="Raw MIME message" className="raw">
						<pre>{raw}</pre>
					</TableWrap>
				</>
			)}
		</section>
	);
}

export function EmailPage() {
	const { params } = useRoute();
	const id = params.id ?? "";
	const loaded = useResource<Loaded>(
		async () => {
			const [email, events] = await Promise.all([api.get<EmailObject>(`/emails/${id}`), api.get<List<EmailEvent>>(`/emails/${id}/events`)]);
			return { email, events: events.data };
		},
		id,
		{ refreshMs: ({ email }) => (MOVING_STATUSES.has(email.last_event) ? REFRESH_MS : null) },
	);
	const [cancelError, setCancelError] = useState<unknown>(undefined);

	if (!loaded.data) {
		return (
			<>
				<PageHeader title="Email" />
				<Problem error={loaded.error} action="Could not load this email" />
				{loaded.error ? null : <Loading what="the email" />}
				<p>
					<a href={`${BASE}/emails`}>← All emails</a>
				</p>
			</>
		);
	}

	const { email, events } = loaded.data;
	const summary = deliverySummary(email, events);
	const moving = MOVING_STATUSES.has(email.last_event);
	const cancel = () => {
		setCancelError(undefined);
		api.post(`/emails/${id}/cancel`).then(loaded.reload, setCancelError);
	};

	return (
		<>
			<PageHeader title={email.subject || "(no subject)"} description={<a href={`${BASE}/emails`}>← All emails</a>}>
				{email.last_event === "scheduled" || email.last_event === "queued" ? (
					<button type="button" class="button secondary" onClick={cancel}>
						Cancel sending
					</button>
				) : null}
			</PageHeader>
			<Problem error={cancelError} action="Could not cancel" />
			<Problem error={loaded.error} action="Could not refresh" />
			<p class="status-line" aria-live="polite">
				Status: <StatusBadge status={email.last_event} />
				{moving ? <span class="muted"> · refreshing every few seconds</span> : null}
			</p>
			<div class="grid-2">
				<section class="card" aria-labelledby="message-heading">
					<h2 id="message-heading">Message</h2>
					<dl class="facts">
						<dt>Id</dt>
						<dd>
							<code>{email.id}</code>
						</dd>
						<dt>From</dt>
						<dd>{email.from}</dd>
						<dt>To</dt>
						<dd>{email.to.join(", ")}</dd>
						{(
							[
								["Cc", email.cc],
								["Bcc", email.bcc],
								["Reply to", email.reply_to],
							] as const
						).map(([label, addresses]) =>
							addresses.length > 0 ? (
								<Fragment key={label}>
									<dt>{label}</dt>
									<dd>{addresses.join(", ")}</dd>
								</Fragment>
							) : null,
						)}
						<dt>Created</dt>
						<dd>
							<Time iso={email.created_at} />
						</dd>
						{email.scheduled_at ? (
							<>
								<dt>Scheduled for</dt>
								<dd>
									<Time iso={email.scheduled_at} />
								</dd>
							</>
						) : null}
						{email.tags.length > 0 ? (
							<>
								<dt>Tags</dt>
								<dd>
									<Tags tags={email.tags} />
								</dd>
							</>
						) : null}
						{email.template_id ? (
							<>
								<dt>Template</dt>
								<dd>
									<code>{email.template_id}</code>
									{email.template_version_id ? (
										<>
											{" "}
											version <code>{email.template_version_id}</code>
										</>
									) : null}
								</dd>
							</>
						) : null}
					</dl>
				</section>
				<section class="card" aria-labelledby="delivery-heading">
					<h2 id="delivery-heading">Delivery</h2>
					<dl class="facts">
						<dt>Provider</dt>
						<dd>{summary.provider ?? <span class="muted">not yet chosen</span>}</dd>
						<dt>Attempts</dt>
						<dd>{summary.attempts}</dd>
						<dt>Last error</dt>
						<dd>{summary.lastError ?? <span class="muted">none</span>}</dd>
						{summary.retryAt ? (
							<>
								<dt>Next attempt</dt>
								<dd>
									<Time iso={summary.retryAt} />
								</dd>
							</>
						) : null}
					</dl>
				</section>
			</div>
			<section class="card" aria-labelledby="timeline-heading">
				<h2 id="timeline-heading">Timeline</h2>
				{events.length === 0 ? <p class="muted">No events yet.</p> : null}
				<ol class="timeline">
					{events.map((event, i) => (
						<li key={`${event.type}-${event.at}-${i}`}>
							<div class="timeline-head">
								<StatusBadge status={event.type} />
								<Time iso={event.at} />
								{event.provider ? <span class="muted">via {event.provider}</span> : null}
							</div>
							{event.detail ? (
								<dl class="facts small">
									{describeDetail(event.detail).map((d) => (
										<Fragment key={d.label}>
											<dt>{d.label}</dt>
											<dd>{d.value}</dd>
										</Fragment>
									))}
								</dl>
							) : null}
						</li>
					))}
				</ol>
				{summary.retryAt ? (
					<p class="muted">
						Retries back off exponentially with jitter; the last delay was{" "}
						{formatSeconds(Number(events.filter((e) => e.type === "attempt_failed").at(-1)?.detail?.retry_in_seconds ?? 0))}.
					</p>
				) : null}
			</section>
			<section class="card" aria-labelledby="html-heading">
				<h2 id="html-heading">HTML</h2>
				{email.html !== null ? (
					<>
						<p class="muted">Rendered in a sandbox: scripts do not run and remote images are not loaded.</p>
						<iframe
							class="email-html"
							title={`HTML body of “${email.subject}”`}
							sandbox=""
							referrerpolicy="no-referrer"
							srcdoc={email.html}
						/>
					</>
				) : (
					<p class="muted">
						This email has no HTML part{email.html === null && email.text === null ? " (or its body was removed by retention)" : ""}.
					</p>
				)}
			</section>
			<section class="card" aria-labelledby="text-heading">
				<h2 id="text-heading">Text</h2>
				{email.text !== null ? (
					<TableWrap label="Text body" className="text-body">
						<pre>{email.text}</pre>
					</TableWrap>
				) : (
					<p class="muted">This email has no text part.</p>
				)}
			</section>
			<RawMessage id={email.id} />
			{email.last_event === "failed" ? (
				<Notice tone="warn">
					This email failed. If it ran out of attempts it is listed under <a href={`${BASE}/dead-letters`}>Dead letters</a>, where it can be
					sent again.
				</Notice>
			) : null}
		</>
	);
}
