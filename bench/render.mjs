/**
 * Render cost of a templated send, measured in Node on the Worker's own module (bundled with esbuild):
 * workerd's clocks do not advance during CPU work (a Spectre mitigation), so in-Worker timings would read zero.
 * Same code, same V8 family; an approximation of the Worker's CPU, not the request's latency.
 *
 * - compile: parsing a version's fields once per isolate (then cached by version id), and deriving its text part;
 * - render: one email's subject, html and text from the compiled version, with that recipient's variables.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import { pathToFileURL } from "node:url";
import { build } from "esbuild";
import { PROJECT_ROOT } from "../scripts/lib/dev-server.mjs";
import { orderConfirmationTemplate, orderValues } from "./template-fixture.mjs";

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const ms = (n) => Number(n.toFixed(3));

export async function measureRender({ emails = 5000 } = {}) {
	const dir = await mkdtemp(path.join(tmpdir(), "mailroom-render-"));
	try {
		const outfile = path.join(dir, "render.mjs");
		await build({
			entryPoints: [path.join(PROJECT_ROOT, "src", "services", "template-render.ts")],
			bundle: true,
			format: "esm",
			platform: "neutral",
			mainFields: ["module", "main"],
			outfile,
			logLevel: "silent",
		});
		const { compileTemplate, renderTemplate, textOf } = await import(pathToFileURL(outfile).href);
		const fixture = orderConfirmationTemplate();
		const now = new Date().toISOString();
		const content = {
			from: "Example Shop <orders@example.com>",
			subject: fixture.subject,
			replyTo: null,
			html: fixture.html,
			text: null,
			variables: fixture.variables.map((v) => ({ id: v.key, fallback_value: null, ...v, created_at: now, updated_at: now })),
		};

		// Cold: the first compile in a fresh module pays for V8's warm-up too; then steady-state compiles.
		const compileTimes = [];
		let compiled;
		for (let i = 0; i < 30; i++) {
			const started = performance.now();
			const result = compileTemplate(content);
			if (!result.ok) throw new Error(result.error);
			textOf(result.value);
			compileTimes.push(performance.now() - started);
			compiled = result.value;
		}

		const times = [];
		let htmlBytes = 0;
		for (let i = 0; i < emails; i++) {
			const values = orderValues(i);
			const started = performance.now();
			const result = renderTemplate(compiled, values);
			const elapsed = performance.now() - started;
			if (!result.ok) throw new Error(result.error);
			if (i >= 200) times.push(elapsed); // after warm-up
			htmlBytes = result.value.html.length;
		}
		times.sort((a, b) => a - b);
		const warm = compileTimes.slice(1).sort((a, b) => a - b);
		return {
			template_bytes: Buffer.byteLength(fixture.html),
			variables: fixture.variables.length,
			rendered_html_bytes: htmlBytes,
			compile_first_ms: ms(compileTimes[0]),
			compile_p50_ms: ms(percentile(warm, 50)),
			render_p50_ms: ms(percentile(times, 50)),
			render_p99_ms: ms(percentile(times, 99)),
			emails_measured: times.length,
			note: "Node on the Worker's bundled module; compile runs once per version per isolate, render once per email",
		};
	} finally {
		await rm(dir, { recursive: true, force: true });
	}
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) console.log(await measureRender());
