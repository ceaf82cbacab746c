/**
 * The browser the console's tests drive: Debian's chromium at /usr/bin/chromium (playwright-core never downloads a
 * browser of its own). Installed with apt-get when missing and this process may (root, apt-get present), so a fresh
 * clone's `npm test` works on this project's machines; elsewhere the error says what to install.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const CHROMIUM = "/usr/bin/chromium";

/**
 * The flags every run uses: headless, no sandbox (tests run as root), no GPU, and none of Chromium's own network
 * traffic (updates, sync, QUIC probes), which this machine's closed network refuses.
 */
export const CHROMIUM_ARGS = [
	"--headless",
	"--no-sandbox",
	"--disable-gpu",
	"--disable-quic",
	"--no-first-run",
	"--disable-background-networking",
	"--disable-component-update",
	"--disable-sync",
];

/** Resolves to the chromium binary, installing Debian's package first when it is missing and root may. */
export function ensureChromium({ log = (line) => console.log(line) } = {}) {
	if (existsSync(CHROMIUM)) return CHROMIUM;
	const root = typeof process.getuid === "function" && process.getuid() === 0;
	const apt = spawnSync("sh", ["-c", "command -v apt-get"], { encoding: "utf8" }).status === 0;
	if (!root || !apt) {
		throw new Error(`The console's browser tests need ${CHROMIUM}: install it with \`apt-get install -y chromium\` (Debian's package).`);
	}
	log(`${CHROMIUM} is missing: installing Debian's chromium (apt-get update && apt-get install -y chromium)…`);
	for (const args of [["update"], ["install", "-y", "chromium"]]) {
		const run = spawnSync("apt-get", args, { stdio: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
		if (run.status !== 0) throw new Error(`apt-get ${args.join(" ")} failed (exit ${run.status}); install chromium by hand.`);
	}
	if (!existsSync(CHROMIUM)) throw new Error(`apt-get installed chromium, but ${CHROMIUM} is still missing.`);
	return CHROMIUM;
}
