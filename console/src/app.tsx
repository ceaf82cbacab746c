/**
 * The console's shell: sign-in gate, header, navigation and the page router. Pages live under /console/…; the
 * Worker answers any such path with this app (src/routes/console.ts), so every page has a URL that survives a
 * reload and a sign-in.
 */
import type { ComponentChildren, FunctionComponent } from "preact";
import { useEffect } from "preact/hooks";
import { LocationProvider, Route, Router, useLocation } from "preact-iso";
import { Notice } from "./components/ui";
import { AnalyticsPage } from "./pages/analytics";
import { ApiKeysPage } from "./pages/api-keys";
import { DeadLettersPage } from "./pages/dead-letters";
import { EmailPage } from "./pages/email";
import { EmailsPage } from "./pages/emails";
import { HealthPage } from "./pages/health";
import { ProvidersPage } from "./pages/operator/providers";
import { TenantPage } from "./pages/operator/tenant";
import { TenantsPage } from "./pages/operator/tenants";
import { SendPage } from "./pages/send";
import { SignInPage } from "./pages/sign-in";
import { SuppressionsPage } from "./pages/suppressions";
import { WebhookPage } from "./pages/webhook";
import { WebhooksPage } from "./pages/webhooks";
import { BASE, homeOf, navOf, SIGN_IN } from "./paths";
import { endSession, type Session, useSession } from "./session";

function who(session: Session): string {
	if (session.kind === "operator") return "Operator (admin token)";
	return session.permission === "full_access" ? "Tenant · full access" : "Tenant · sending access only";
}

/** Sends the browser somewhere else once rendered (routing during render is not allowed). */
function Redirect({ to }: { to: string }) {
	const { route } = useLocation();
	useEffect(() => route(to, true), [to, route]);
	return null;
}

/** Pages that need a tenant's key or the admin token explain themselves to the other kind of session. */
function only(kind: Session["kind"], Page: FunctionComponent) {
	return function Guarded() {
		const session = useSession();
		if (session && session.kind !== kind) {
			return (
				<Notice tone="warn">
					{kind === "operator"
						? "This page is for the operator: sign out and sign in with the admin token."
						: "This page shows one tenant's data: sign out and sign in with that tenant's API key."}
				</Notice>
			);
		}
		return <Page />;
	};
}

const pages = {
	emails: only("tenant", EmailsPage),
	email: only("tenant", EmailPage),
	send: only("tenant", SendPage),
	analytics: only("tenant", AnalyticsPage),
	suppressions: only("tenant", SuppressionsPage),
	deadLetters: only("tenant", DeadLettersPage),
	webhooks: only("tenant", WebhooksPage),
	webhook: only("tenant", WebhookPage),
	apiKeys: only("tenant", ApiKeysPage),
	health: only("tenant", HealthPage),
	tenants: only("operator", TenantsPage),
	tenant: only("operator", TenantPage),
	providers: only("operator", ProvidersPage),
};

function NotFound() {
	return <Notice tone="warn">There is no such page in the console. Use the navigation above.</Notice>;
}

function Home() {
	const session = useSession();
	return session ? <Redirect to={homeOf(session)} /> : null;
}

function Layout({ session, children }: { session: Session | null; children: ComponentChildren }) {
	const { path } = useLocation();
	return (
		<>
			<a class="skip-link" href="#main">
				Skip to content
			</a>
			<header class="topbar">
				<a class="brand" href={session ? homeOf(session) : SIGN_IN}>
					<span aria-hidden="true" class="brand-mark" />
					Mailroom
				</a>
				{session ? (
					<div class="whoami">
						<span class="muted">{who(session)}</span>
						<button type="button" class="button secondary small" onClick={() => endSession("signed_out")}>
							Sign out
						</button>
					</div>
				) : null}
			</header>
			{session ? (
				<nav class="mainnav" aria-label="Console">
					<ul>
						{navOf(session).map((item) => (
							<li key={item.href}>
								<a href={item.href} aria-current={path === item.href || path.startsWith(`${item.href}/`) ? "page" : undefined}>
									{item.label}
								</a>
							</li>
						))}
						<li>
							<a href="/docs">API reference</a>
						</li>
					</ul>
				</nav>
			) : null}
			<main id="main" tabIndex={-1}>
				{children}
			</main>
		</>
	);
}

function Routes() {
	const session = useSession();
	const { path, url } = useLocation();
	const onSignIn = path === SIGN_IN;

	if (!session && !onSignIn) {
		// Not signed in (or the key just stopped working): sign in first, then come back to this page.
		return (
			<Layout session={null}>
				<Redirect to={`${SIGN_IN}?next=${encodeURIComponent(url)}`} />
			</Layout>
		);
	}

	return (
		<Layout session={session}>
			<Router
				onRouteChange={() => {
					// Screen readers and keyboard users start at the new page, not at the link they used.
					document.getElementById("main")?.focus({ preventScroll: true });
				}}
			>
				<Route path={SIGN_IN} component={SignInPage} />
				<Route path={`${BASE}`} component={Home} />
				<Route path={`${BASE}/emails`} component={pages.emails} />
				<Route path={`${BASE}/emails/:id`} component={pages.email} />
				<Route path={`${BASE}/send`} component={pages.send} />
				<Route path={`${BASE}/analytics`} component={pages.analytics} />
				<Route path={`${BASE}/suppressions`} component={pages.suppressions} />
				<Route path={`${BASE}/dead-letters`} component={pages.deadLetters} />
				<Route path={`${BASE}/webhooks`} component={pages.webhooks} />
				<Route path={`${BASE}/webhooks/:id`} component={pages.webhook} />
				<Route path={`${BASE}/api-keys`} component={pages.apiKeys} />
				<Route path={`${BASE}/health`} component={pages.health} />
				<Route path={`${BASE}/tenants`} component={pages.tenants} />
				<Route path={`${BASE}/tenants/:id`} component={pages.tenant} />
				<Route path={`${BASE}/providers`} component={pages.providers} />
				<Route default component={NotFound} />
			</Router>
		</Layout>
	);
}

export function App() {
	return (
		<LocationProvider scope={BASE}>
			<Routes />
		</LocationProvider>
	);
}
