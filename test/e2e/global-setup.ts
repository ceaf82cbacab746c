/**
 * Before the e2e run: the console's build (dist/public, skipped when its sources are unchanged) and the browser its
 * test drives. Here rather than in a hook, so a first build or a chromium install is not cut short by hook timeouts.
 */
import { ensureChromium } from "../../scripts/lib/chromium.mjs";
import { buildConsole } from "../../scripts/lib/console-build.mjs";

export default async function setup(): Promise<void> {
	await buildConsole();
	ensureChromium();
}
