/**
 * The sandbox: offline, no credentials, the default. Behaviour by recipient local part (see ./client.ts); it reports
 * the events a real provider would send later as follow-ups of its send, so it drives the whole pipeline.
 */
import type { ProviderModule } from "../types";
import { SandboxProvider } from "./client";

export const sandbox = {
	name: "sandbox",
	title: "Sandbox",
	requiredSettings: [],
	optionalSettings: {},
	defaultRate: { per_second: 1000, burst: 1000 },
	deduplicatesById: true,
	create: () => new SandboxProvider(),
} as const satisfies ProviderModule<"sandbox">;
