/**
 * Runs wrangler commands for the operator scripts and captures what they print, so a failure can be turned into one
 * sentence. The CLI is the project's launcher (scripts/wrangler.mjs: wrangler's own bin refuses Node 20) unless
 * MAILROOM_WRANGLER names another JavaScript file to run in its place (the tests' stub).
 *
 * Commands run without a terminal, so wrangler never prompts: confirmations take their non-interactive answer and
 * `d1 migrations apply` applies without asking (CI=true).
 */
import { spawn } from "node:child_process";
import path from "node:path";
import { stripVTControlCharacters } from "node:util";
import { PROJECT_ROOT } from "./dev-server.mjs";

/**
 * @typedef {object} WranglerResult
 * @property {number} code exit code
 * @property {string} stdout
 * @property {string} stderr
 * @property {string} output stdout and stderr together, without colour codes in case a wrangler version colours
 *   piped output anyway (what error matching reads)
 */

/**
 * @param {object} [options]
 * @param {string} [options.cli] JavaScript file to run with this Node; default MAILROOM_WRANGLER or scripts/wrangler.mjs
 * @param {string} [options.cwd] project directory
 * @param {NodeJS.ProcessEnv} [options.env] environment for wrangler
 * @returns {(args: string[], options?: { echo?: (chunk: string) => void, env?: Record<string, string> }) => Promise<WranglerResult>}
 */
export function wranglerRunner({ cli, cwd = PROJECT_ROOT, env = process.env } = {}) {
	const script = cli ?? env.MAILROOM_WRANGLER ?? path.join(PROJECT_ROOT, "scripts", "wrangler.mjs");
	return (args, { echo, env: extra = {} } = {}) =>
		new Promise((resolve, reject) => {
			const child = spawn(process.execPath, [script, ...args], {
				cwd,
				env: { ...env, WRANGLER_SEND_METRICS: "false", FORCE_COLOR: "0", ...extra },
				stdio: ["ignore", "pipe", "pipe"],
			});
			let stdout = "";
			let stderr = "";
			child.stdout.setEncoding("utf8").on("data", (chunk) => {
				stdout += chunk;
				echo?.(chunk);
			});
			child.stderr.setEncoding("utf8").on("data", (chunk) => {
				stderr += chunk;
				echo?.(chunk);
			});
			child.once("error", reject);
			child.once("close", (code, signal) =>
				resolve({ code: code ?? (signal ? 1 : 0), stdout, stderr, output: stripVTControlCharacters(`${stdout}\n${stderr}`) }),
			);
		});
}

/**
 * The first error wrangler reported, as one line: the `[ERROR]` headline, followed by the API's own message when
 * the headline is only "A request to the Cloudflare API (…) failed.".
 */
export function wranglerError(output) {
	const lines = stripVTControlCharacters(output).split(/\r?\n/);
	const at = lines.findIndex((line) => line.includes("[ERROR]"));
	if (at === -1)
		return (
			lines
				.filter((l) => l.trim() !== "")
				.at(-1)
				?.trim() ?? "no output"
		);
	const headline = lines[at].replace(/^.*\[ERROR\]\s*/, "").trim();
	if (!/^A request to the Cloudflare API/.test(headline)) return headline;
	// The API's message follows after a blank line, wrapped over several lines.
	const rest = lines.slice(at + 1).map((l) => l.trim());
	const start = rest.findIndex((l) => l !== "");
	if (start === -1) return headline;
	const end = rest.indexOf("", start);
	return `${headline} ${rest.slice(start, end === -1 ? undefined : end).join(" ")}`;
}
