/** Structured logs: one JSON object per line, which Workers Logs indexes by field. */
type Fields = Record<string, unknown>;

function write(level: "info" | "warn" | "error", event: string, fields: Fields): void {
	const line = JSON.stringify({ level, event, ...fields });
	if (level === "error") console.error(line);
	else if (level === "warn") console.warn(line);
	else console.log(line);
}

export const log = {
	info: (event: string, fields: Fields = {}) => write("info", event, fields),
	warn: (event: string, fields: Fields = {}) => write("warn", event, fields),
	error: (event: string, fields: Fields = {}) => write("error", event, fields),
};

export function errorFields(err: unknown): Fields {
	if (err instanceof Error) {
		const cause = err.cause instanceof Error ? err.cause.message : undefined;
		return { error: err.message, cause, stack: err.stack };
	}
	return { error: String(err) };
}
