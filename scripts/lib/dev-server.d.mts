/** Types of scripts/lib/dev-server.mjs, for the TypeScript tests that import it. */

export declare const PROJECT_ROOT: string;

export interface StartDevServerOptions {
	/** Defaults to 8787. */
	port?: number;
	/** Defaults to 127.0.0.1. */
	ip?: string;
	/** Local state directory (`--persist-to`); omitted → wrangler's default, .wrangler/state. */
	persistTo?: string;
	/** Passed as `--var KEY:VALUE`; they override wrangler.jsonc vars and .dev.vars. */
	vars?: Record<string, string>;
	/** How long to wait for `GET /health` to answer 200; default 60 000 ms. */
	timeoutMs?: number;
	/** Sees wrangler's output as it arrives (it is also kept for error messages). */
	onOutput?: (chunk: string, stream: "stdout" | "stderr") => void;
	/** Project directory; defaults to this repository. */
	cwd?: string;
	/** Extra environment for wrangler, e.g. NODE_EXTRA_CA_CERTS (workerd's outbound TLS trusts those certificates). */
	env?: Record<string, string>;
	/** A wrangler configuration file other than `cwd`'s wrangler.jsonc. */
	config?: string;
	/** The DevTools (V8 inspector) port; 0, the default, lets the OS pick one. */
	inspectorPort?: number;
}

export interface DevServer {
	/** Origin without a trailing slash, e.g. `http://127.0.0.1:8787`. */
	url: string;
	port: number;
	/** Process id of the wrangler launcher, which leads the process group. */
	pid: number;
	/** Ends wrangler and every process it started (SIGTERM to the group, SIGKILL after 5 s). Idempotent. */
	stop(): Promise<void>;
	/** The last 64 KiB of wrangler's stdout and stderr. */
	output(): string;
	/** Settles when wrangler exits, for whatever reason. */
	exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export declare function startDevServer(options?: StartDevServerOptions): Promise<DevServer>;

export declare function applyLocalMigrations(options?: { persistTo?: string; cwd?: string; config?: string }): Promise<string>;

export declare function assertPortFree(port: number, host?: string): Promise<void>;

export declare function findFreePort(host?: string): Promise<number>;

export declare function parseDotenv(text: string): Record<string, string>;

export interface EnsureDevTenantOptions {
	url: string;
	adminToken: string;
	/** JSON file that keeps `{ tenantId, apiKeyId, token }` between runs. */
	stateFile: string;
	/** Tenant and key name; default "dev". */
	name?: string;
	/** Default ["example.com", "resend.dev"]. */
	allowedFromDomains?: string[];
}

export interface DevTenant {
	tenantId: string;
	apiKeyId: string;
	/** The API key (`mr_…`). */
	token: string;
	/** The tenant object from `GET|POST /admin/tenants`. */
	tenant: { id: string; name: string; allowed_from_domains: string[]; [field: string]: unknown };
	createdTenant: boolean;
	createdKey: boolean;
}

/** Limits of the local dev tenant. */
export declare const DEV_TENANT_LIMITS: {
	api_rate: { per_second: number; burst: number };
	send_rate: { per_second: number; burst: number };
	daily_quota: number;
};

export declare function ensureDevTenant(options: EnsureDevTenantOptions): Promise<DevTenant>;

export declare function request(
	url: string,
	method: string,
	pathname: string,
	token: string,
	body?: unknown,
	options?: { timeoutMs?: number },
): Promise<{ status: number; json: unknown; text: string }>;
