/** The console's page URLs and who may see which: one list, read by the navigation, the router and sign-in. */
import type { Session } from "./types";

export const BASE = "/console";
export const SIGN_IN = `${BASE}/sign-in`;

export type NavItem = { href: string; label: string };

const TENANT_NAV: NavItem[] = [
	{ href: `${BASE}/emails`, label: "Emails" },
	{ href: `${BASE}/send`, label: "Send" },
	{ href: `${BASE}/analytics`, label: "Analytics" },
	{ href: `${BASE}/suppressions`, label: "Suppressions" },
	{ href: `${BASE}/dead-letters`, label: "Dead letters" },
	{ href: `${BASE}/webhooks`, label: "Webhooks" },
	{ href: `${BASE}/api-keys`, label: "API keys" },
	{ href: `${BASE}/health`, label: "Health" },
];
const SENDING_NAV: NavItem[] = [{ href: `${BASE}/send`, label: "Send" }];
const OPERATOR_NAV: NavItem[] = [
	{ href: `${BASE}/tenants`, label: "Tenants" },
	{ href: `${BASE}/providers`, label: "Providers" },
];

export function navOf(session: Session): NavItem[] {
	if (session.kind === "operator") return OPERATOR_NAV;
	return session.permission === "full_access" ? TENANT_NAV : SENDING_NAV;
}

export function homeOf(session: Session): string {
	return navOf(session)[0]?.href ?? `${BASE}/send`;
}

function within(url: string, page: string): boolean {
	return url === page || url.startsWith(`${page}/`) || url.startsWith(`${page}?`);
}

/** `next` (a console URL from before sign-in) if this session may see it, else the session's home page. */
export function destinationAfterSignIn(next: string | undefined, session: Session): string {
	if (!next?.startsWith(`${BASE}/`) || within(next, SIGN_IN)) return homeOf(session);
	return navOf(session).some((item) => within(next, item.href)) ? next : homeOf(session);
}
