/** Reads the Prometheus text of `GET /metrics` (one sample per line: `name{label="value",…} number`). */

export type Sample = { name: string; labels: Record<string, string>; value: number };

const LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

export function parseMetrics(text: string): Sample[] {
	const samples: Sample[] = [];
	for (const raw of text.split("\n")) {
		const line = raw.trim();
		if (!line || line.startsWith("#")) continue;
		const match = LINE.exec(line);
		if (!match) continue;
		const [, name = "", labelText = "", value = ""] = match;
		const number = value === "+Inf" ? Number.POSITIVE_INFINITY : value === "-Inf" ? Number.NEGATIVE_INFINITY : Number(value);
		if (Number.isNaN(number) && value !== "NaN") continue;
		const labels: Record<string, string> = {};
		for (const [, key = "", v = ""] of labelText.matchAll(LABEL)) labels[key] = v.replace(/\\(.)/g, "$1");
		samples.push({ name, labels, value: number });
	}
	return samples;
}

/** The samples of one metric as `label value → number`, e.g. emails by status. */
export function byLabel(samples: Sample[], name: string, label: string): Record<string, number> {
	const out: Record<string, number> = {};
	for (const s of samples) if (s.name === name && s.labels[label] !== undefined) out[s.labels[label]] = s.value;
	return out;
}

export function single(samples: Sample[], name: string): number | null {
	return samples.find((s) => s.name === name)?.value ?? null;
}
