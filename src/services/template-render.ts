/**
 * Template rendering: Resend's variable syntax, strict variables, and a text part derived from the html.
 *
 * Syntax: `{{NAME}}` inserts a value (HTML-escaped in html), `{{{NAME}}}` (or `{{& NAME}}`) inserts it as is;
 * `{{! comment }}` renders nothing. Sections, partials and delimiter changes are refused at create/update, so a
 * template is a flat list of text and variables. mustache.js parses (tag scanning, standalone lines, error
 * offsets); rendering a flat list is a join, done here so the exact output size is known before any string is
 * built and no view lookup can reach a prototype or call a function.
 *
 * Values are strings or numbers. A variable the template uses takes the value given at send time, else its
 * declared `fallback_value`; with neither the send is refused naming it. A declared type is enforced.
 * subject, from and reply_to are rendered without HTML escaping and may not receive line breaks.
 *
 * The text part is the template's own `text`, or else derived from the html once per version with html-to-text
 * (links as "text (url)", no tags, entities decoded): variables are swapped for placeholders, the html
 * converted, and the placeholders turned back into variables, so a send only joins strings. A variable that was
 * raw html (`{{{…}}}`) is converted to text per send when its value holds markup.
 */
import { compile as compileHtmlToText } from "html-to-text";
import Mustache from "mustache";
import { EMAIL_LIMITS } from "../config";
import type { StoredVariable } from "../db/schema";
import { err, ok, type Result } from "../lib/result";

export type VariableValue = string | number;

/** The renderable part of a template: a draft or a published version. */
export type TemplateContent = {
	from: string | null;
	subject: string | null;
	replyTo: string[] | null;
	html: string;
	text: string | null;
	variables: StoredVariable[];
};

export type RenderedTemplate = {
	from: string | null;
	subject: string | null;
	replyTo: string[] | null;
	html: string;
	text: string;
};

/** `{{NAME}}`: letters, digits and `_`, not starting with a digit; dots would be mustache's nested lookups. */
export const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

type Segment = { text: string } | { name: string; raw: boolean };
type Field = { segments: Segment[]; staticBytes: number };

/** A parsed template. Immutable: cached per version id, shared by every send of that version. */
export type CompiledTemplate = {
	from: Field | null;
	subject: Field | null;
	replyTo: Field[] | null;
	html: Field;
	/** The template's own text; null when it is derived from the html (see `textOf`). */
	ownText: Field | null;
	declared: Map<string, StoredVariable>;
	/** Every variable any field uses. */
	used: Set<string>;
	/** Variables used in subject, from or reply_to: their values become header text. */
	inHeaders: Set<string>;
	sourceBytes: number;
	derivedText?: Field;
};

const encoder = new TextEncoder();
const utf8Length = (s: string) => encoder.encode(s).byteLength;

/** Our own writer with its template cache off: mustache's default cache keeps every template string forever. */
const writer = Object.assign(new Mustache.Writer(), { templateCache: undefined });

/**
 * Parses every field of `content`; a syntax error names the field and its line and column.
 *
 * @example
 * compileTemplate({ html: "<p>Hi {{NAME}", ... }) // err("html: unclosed tag {{ at line 1, column 7")
 */
export function compileTemplate(content: TemplateContent): Result<CompiledTemplate, string> {
	const fields: [string, string | null][] = [
		["subject", content.subject],
		["from", content.from],
		["html", content.html],
		["text", content.text],
		...(content.replyTo ?? []).map((r, i): [string, string] => [`reply_to[${i}]`, r]),
	];
	const parsed = new Map<string, Field>();
	for (const [label, source] of fields) {
		if (source === null) continue;
		const field = parseField(label, source);
		if (!field.ok) return field;
		parsed.set(label, field.value);
	}
	const html = parsed.get("html") as Field;
	const subject = parsed.get("subject") ?? null;
	const from = parsed.get("from") ?? null;
	const replyTo = content.replyTo ? content.replyTo.map((_, i) => parsed.get(`reply_to[${i}]`) as Field) : null;
	const namesOf = (fs: (Field | null)[]) => fs.flatMap((f) => (f ? f.segments.flatMap((s) => ("name" in s ? [s.name] : [])) : []));
	return ok({
		from,
		subject,
		replyTo,
		html,
		ownText: parsed.get("text") ?? null,
		declared: new Map(content.variables.map((v) => [v.key, v])),
		used: new Set(namesOf([...parsed.values()])),
		inHeaders: new Set(namesOf([subject, from, ...(replyTo ?? [])])),
		sourceBytes: fields.reduce((n, [, s]) => n + (s === null ? 0 : utf8Length(s)), 0),
	});
}

function parseField(label: string, source: string): Result<Field, string> {
	let tokens: unknown[][];
	try {
		tokens = writer.parse(source) as unknown[][];
	} catch (e) {
		return err(`${label}: ${describeParseError(source, e instanceof Error ? e.message : String(e))}`);
	}
	const segments: Segment[] = [];
	for (const token of tokens) {
		const [type, value, start] = token as [string, string, number];
		const at = position(source, start);
		switch (type) {
			case "text":
				segments.push({ text: value });
				break;
			case "name":
			case "&": {
				const name = value.trim();
				if (!VARIABLE_NAME.test(name) || name.length > 100) {
					return err(
						`${label}: ${JSON.stringify(name)} at ${at} is not a variable name (letters, digits and _, not starting with a digit)`,
					);
				}
				segments.push({ name, raw: type === "&" });
				break;
			}
			case "!":
				break;
			case "#":
			case "^":
				return err(`${label}: sections ({{${type}${value}}}) at ${at} are not supported; templates take variables only`);
			case ">":
				return err(`${label}: partials ({{>${value}}}) at ${at} are not supported`);
			case "=":
				return err(`${label}: changing delimiters at ${at} is not supported`);
			default:
				return err(`${label}: unsupported tag at ${at}`);
		}
	}
	const staticBytes = segments.reduce((n, s) => n + ("text" in s ? utf8Length(s.text) : 0), 0);
	return ok({ segments, staticBytes });
}

/** mustache.js reports offsets ("Unclosed tag at 57"); users want the tag's line and column. */
function describeParseError(source: string, message: string): string {
	const unclosed = /^Unclosed tag at (\d+)/.exec(message);
	if (unclosed) {
		const open = unclosedTagStart(source) ?? Number(unclosed[1]);
		return `unclosed tag {{ at ${position(source, open)}`;
	}
	const section = /^(Unclosed|Unopened) section "(.*)" at (\d+)/.exec(message);
	if (section) {
		const [, kind, name = "", offset] = section;
		// For an unclosed section mustache reports the end of the template; the opening tag is the useful place.
		const opener = kind === "Unclosed" ? sectionStart(source, name) : null;
		const what = kind === "Unclosed" ? `{{#${name}}}` : `{{/${name}}}`;
		return `sections (${what}) at ${position(source, opener ?? Number(offset))} are not supported; templates take variables only`;
	}
	return message;
}

function sectionStart(source: string, name: string): number | null {
	const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
	const match = new RegExp(`\\{\\{\\s*[#^]\\s*${escaped}\\s*\\}\\}`).exec(source);
	return match ? match.index : null;
}

/** Where the tag that never closes opens, scanning as mustache does with the default delimiters. */
function unclosedTagStart(source: string): number | null {
	let from = 0;
	for (;;) {
		const open = source.indexOf("{{", from);
		if (open === -1) return null;
		const triple = source[open + 2] === "{";
		const close = source.indexOf(triple ? "}}}" : "}}", open + (triple ? 3 : 2));
		if (close === -1) return open;
		from = close + (triple ? 3 : 2);
	}
}

function position(source: string, offset: number): string {
	const before = source.slice(0, offset);
	const line = before.split("\n").length;
	const column = offset - before.lastIndexOf("\n");
	return `line ${line}, column ${column}`;
}

/**
 * Renders `compiled` with the values of one send. Errors are messages for a 422 `validation_error`.
 *
 * @example
 * renderTemplate(compiled, { NAME: "Ada" }) // ok({ subject: "Hi Ada", html: "<p>Hi Ada</p>", text: "Hi Ada", ... })
 */
export function renderTemplate(compiled: CompiledTemplate, given: Record<string, VariableValue> = {}): Result<RenderedTemplate, string> {
	const values = new Map<string, VariableValue>();
	for (const [key, value] of Object.entries(given)) {
		const declared = compiled.declared.get(key);
		if (declared && typeof value !== declared.type) {
			return err(`Template variable ${key} must be a ${declared.type} (as the template declares it), not a ${typeof value}`);
		}
		values.set(key, value);
	}
	const missing: string[] = [];
	for (const name of compiled.used) {
		if (values.has(name)) continue;
		const fallback = compiled.declared.get(name)?.fallback_value;
		if (fallback === undefined || fallback === null) missing.push(name);
		else values.set(name, fallback);
	}
	if (missing.length > 0) {
		return err(
			`Missing template variable${missing.length > 1 ? "s" : ""} ${missing.join(", ")}: give a value in template.variables or declare a fallback_value`,
		);
	}
	for (const name of compiled.inHeaders) {
		if (/[\r\n]/.test(String(values.get(name)))) {
			return err(`Template variable ${name} is used in the subject, from or reply_to and may not contain line breaks`);
		}
	}
	const text = textOf(compiled);
	const bytes = renderedBytes(compiled.html, values, true) + renderedBytes(text, values, false);
	if (bytes > EMAIL_LIMITS.bodyBytes) {
		return err(`The rendered html and text would be ${bytes} bytes; the limit is ${EMAIL_LIMITS.bodyBytes}`);
	}
	const plain = (f: Field) => join(f, values, plainValue);
	return ok({
		from: compiled.from ? plain(compiled.from) : null,
		subject: compiled.subject ? plain(compiled.subject) : null,
		replyTo: compiled.replyTo ? compiled.replyTo.map(plain) : null,
		html: join(compiled.html, values, (v, raw) => (raw ? String(v) : escapeHtml(String(v)))),
		text: join(text, values, compiled.ownText ? plainValue : derivedTextValue),
	});
}

type ValueFormat = (value: VariableValue, raw: boolean) => string;
const plainValue: ValueFormat = (v) => String(v);
/** In a text part derived from html, a raw-html value is itself converted to text; an escaped one is already text. */
const derivedTextValue: ValueFormat = (v, raw) => {
	const s = String(v);
	return raw && /[<&]/.test(s) ? htmlToText(s) : s;
};

function join(field: Field, values: Map<string, VariableValue>, format: ValueFormat): string {
	let out = "";
	for (const s of field.segments) out += "text" in s ? s.text : format(values.get(s.name) ?? "", s.raw);
	return out;
}

/** The exact UTF-8 size of the html (escaped values) or an upper bound for the text, before building it. */
function renderedBytes(field: Field, values: Map<string, VariableValue>, html: boolean): number {
	let n = field.staticBytes;
	for (const s of field.segments) {
		if ("text" in s) continue;
		const v = String(values.get(s.name) ?? "");
		n += utf8Length(html && !s.raw ? escapeHtml(v) : v);
	}
	return n;
}

/** The five characters that matter in element content and quoted attributes (mustache's default also escapes `/`, `=` and backtick, which only uglifies URLs). */
export function escapeHtml(s: string): string {
	return s.replace(/[&<>"']/g, (c) => HTML_ESCAPES[c] as string);
}
const HTML_ESCAPES: Record<string, string> = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };

const heading = (n: number) => ({ selector: `h${n}`, options: { uppercase: false } });
let converter: ((html: string) => string) | undefined;
/**
 * html-to-text, compiled on first use and kept for the isolate (building its selector tree costs more than
 * converting a snippet, and most requests never need it). Layout tables (what email builders emit) become blocks
 * rather than ASCII tables; nothing is wrapped or upper-cased, so placeholders and values come through intact.
 */
function htmlToText(html: string): string {
	converter ??= compileHtmlToText({
		wordwrap: false,
		selectors: [
			{ selector: "a", options: { linkBrackets: ["(", ")"], hideLinkHrefIfSameAsText: true } },
			{ selector: "img", format: "skip" },
			...[1, 2, 3, 4, 5, 6].map(heading),
			{ selector: "table", format: "block" },
			{ selector: "tr", format: "block" },
			{ selector: "td", format: "block" },
			{ selector: "th", format: "block" },
		],
	});
	return converter(html);
}

/** The text part's field: the template's own, or the one derived from its html (computed once, then kept). */
export function textOf(compiled: CompiledTemplate): Field {
	if (compiled.ownText) return compiled.ownText;
	compiled.derivedText ??= deriveText(compiled.html);
	return compiled.derivedText;
}

function deriveText(html: Field): Field {
	const source = html.segments.map((s) => ("text" in s ? s.text : "")).join("");
	let nonce: string;
	do nonce = Math.random().toString(36).slice(2, 10);
	while (source.includes(nonce));
	const slots: { name: string; raw: boolean }[] = [];
	const slotOf = new Map<string, number>();
	const skeleton = html.segments
		.map((s) => {
			if ("text" in s) return s.text;
			const key = `${s.raw ? "&" : ""}${s.name}`;
			let slot = slotOf.get(key);
			if (slot === undefined) {
				slot = slots.push({ name: s.name, raw: s.raw }) - 1;
				slotOf.set(key, slot);
			}
			return `mrv${nonce}x${slot}x`;
		})
		.join("");
	const segments: Segment[] = [];
	let last = 0;
	const converted = htmlToText(skeleton);
	for (const m of converted.matchAll(new RegExp(`mrv${nonce}x(\\d+)x`, "gi"))) {
		const slot = slots[Number(m[1])];
		if (!slot) continue;
		if (m.index > last) segments.push({ text: converted.slice(last, m.index) });
		segments.push(slot);
		last = m.index + m[0].length;
	}
	if (last < converted.length) segments.push({ text: converted.slice(last) });
	return { segments, staticBytes: segments.reduce((n, s) => n + ("text" in s ? utf8Length(s.text) : 0), 0) };
}

/**
 * Compiled versions by id. Versions never change, so entries never go stale; the cache is bounded by the
 * template bytes it holds, evicting the least recently used.
 */
const CACHE_BYTES = 8_000_000;
const cache = new Map<string, CompiledTemplate>();
let cachedBytes = 0;

/** The compiled form of an immutable version, parsed on first use in this isolate. */
export function compiledVersion(versionId: string, content: TemplateContent): Result<CompiledTemplate, string> {
	const hit = cache.get(versionId);
	if (hit) {
		cache.delete(versionId);
		cache.set(versionId, hit);
		return ok(hit);
	}
	const compiled = compileTemplate(content);
	if (!compiled.ok) return compiled;
	cache.set(versionId, compiled.value);
	cachedBytes += compiled.value.sourceBytes;
	for (const [id, entry] of cache) {
		if (cachedBytes <= CACHE_BYTES || id === versionId) break;
		cache.delete(id);
		cachedBytes -= entry.sourceBytes;
	}
	return compiled;
}
