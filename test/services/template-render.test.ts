import { describe, expect, it } from "vitest";
import { EMAIL_LIMITS } from "../../src/config";
import type { StoredVariable } from "../../src/db/schema";
import {
	type CompiledTemplate,
	compiledVersion,
	compileTemplate,
	type RenderedTemplate,
	renderTemplate,
	type TemplateContent,
} from "../../src/services/template-render";

const declare = (key: string, type: "string" | "number", fallback: string | number | null = null): StoredVariable => ({
	id: key,
	key,
	type,
	fallback_value: fallback,
	created_at: "2026-01-01T00:00:00.000Z",
	updated_at: "2026-01-01T00:00:00.000Z",
});

function content(overrides: Partial<TemplateContent>): TemplateContent {
	return { from: null, subject: null, replyTo: null, html: "<p>Hi</p>", text: null, variables: [], ...overrides };
}

function compiled(overrides: Partial<TemplateContent>): CompiledTemplate {
	const result = compileTemplate(content(overrides));
	if (!result.ok) throw new Error(result.error);
	return result.value;
}

function rendered(overrides: Partial<TemplateContent>, values: Record<string, string | number> = {}): RenderedTemplate {
	const result = renderTemplate(compiled(overrides), values);
	if (!result.ok) throw new Error(result.error);
	return result.value;
}

function syntaxError(overrides: Partial<TemplateContent>): string {
	const result = compileTemplate(content(overrides));
	if (result.ok) throw new Error("expected a syntax error");
	return result.error;
}

function renderError(overrides: Partial<TemplateContent>, values: Record<string, string | number> = {}): string {
	const result = renderTemplate(compiled(overrides), values);
	if (result.ok) throw new Error("expected a render error");
	return result.error;
}

describe("template syntax", () => {
	it("reports an unclosed tag with the line and column where it opens", () => {
		expect(syntaxError({ html: "<p>Hello</p>\n<p>Dear {{NAME, welcome</p>" })).toBe("html: unclosed tag {{ at line 2, column 9");
	});

	it("reports an unclosed triple-brace tag where it opens", () => {
		expect(syntaxError({ html: "{{A}} and {{{B}}" })).toBe("html: unclosed tag {{ at line 1, column 11");
	});

	it("refuses sections with their position", () => {
		expect(syntaxError({ html: "<p>\n  {{#ITEMS}}x{{/ITEMS}}</p>" })).toMatch(
			/^html: sections \(\{\{#ITEMS\}\}\) at line 2, column 3 are not supported/,
		);
	});

	it("refuses an unclosed section as a section", () => {
		expect(syntaxError({ html: "{{#ITEMS}}x" })).toMatch(/^html: sections \(\{\{#ITEMS\}\}\) at line 1, column 1 are not supported/);
	});

	it("refuses partials and delimiter changes", () => {
		expect(syntaxError({ html: "{{> footer}}" })).toMatch(/^html: partials/);
		expect(syntaxError({ html: "{{=<% %>=}}" })).toMatch(/^html: changing delimiters at line 1, column 1/);
	});

	it("refuses a tag that is not a variable name, naming the field", () => {
		expect(syntaxError({ subject: "Hi {{first name}}" })).toBe(
			'subject: "first name" at line 1, column 4 is not a variable name (letters, digits and _, not starting with a digit)',
		);
		expect(syntaxError({ replyTo: ["a@example.com", "{{user.email}}"] })).toMatch(/^reply_to\[1\]: "user.email" at line 1, column 1/);
	});

	it("accepts comments and renders them as nothing", () => {
		expect(rendered({ html: "<p>a{{! note to self }}b</p>" }).html).toBe("<p>ab</p>");
	});
});

describe("rendering", () => {
	it("HTML-escapes {{NAME}} in html, so a <script> value cannot run", () => {
		const out = rendered({ html: "<p>Hi {{NAME}}</p>" }, { NAME: `<script>alert("x")</script> & 'co'` });
		expect(out.html).toBe("<p>Hi &lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;co&#39;</p>");
	});

	it("inserts {{{NAME}}} and {{& NAME}} as they are", () => {
		expect(rendered({ html: "<div>{{{SNIPPET}}}{{& SNIPPET}}</div>" }, { SNIPPET: "<b>x</b>" }).html).toBe("<div><b>x</b><b>x</b></div>");
	});

	it("does not HTML-escape subject, from, reply_to or the template's own text", () => {
		const out = rendered(
			{
				subject: "Order {{ID}} for {{NAME}}",
				from: "{{NAME}} <shop@example.com>",
				replyTo: ["{{NAME}} <help@example.com>"],
				text: "Hi {{NAME}} & welcome",
			},
			{ ID: 42, NAME: "Tom & Jerry's" },
		);
		expect(out).toMatchObject({
			subject: "Order 42 for Tom & Jerry's",
			from: "Tom & Jerry's <shop@example.com>",
			replyTo: ["Tom & Jerry's <help@example.com>"],
			text: "Hi Tom & Jerry's & welcome",
		});
	});

	it("uses a declared fallback when no value is given, and the given value over it", () => {
		const variables = [declare("NAME", "string", "there")];
		expect(rendered({ html: "Hi {{NAME}}", variables }).html).toBe("Hi there");
		expect(rendered({ html: "Hi {{NAME}}", variables }, { NAME: "Ada" }).html).toBe("Hi Ada");
	});

	it("renders numbers as written", () => {
		expect(rendered({ html: "{{PRICE}} {{COUNT}}" }, { PRICE: 19.99, COUNT: 3 }).html).toBe("19.99 3");
	});

	it("refuses a used variable with no value and no fallback, naming every one", () => {
		expect(renderError({ html: "{{A}} {{B}} {{C}}", variables: [declare("B", "string", "b")] })).toBe(
			"Missing template variables A, C: give a value in template.variables or declare a fallback_value",
		);
	});

	it("refuses a value of the wrong declared type", () => {
		const variables = [declare("PRICE", "number"), declare("NAME", "string")];
		expect(renderError({ html: "{{PRICE}}", variables }, { PRICE: "12" })).toBe(
			"Template variable PRICE must be a number (as the template declares it), not a string",
		);
		expect(renderError({ html: "{{PRICE}}", variables }, { PRICE: 1, NAME: 5 })).toMatch(/^Template variable NAME must be a string/);
	});

	it("refuses a line break in a value that lands in the subject", () => {
		expect(renderError({ subject: "Hi {{NAME}}" }, { NAME: "x\r\nBcc: victim@example.org" })).toMatch(
			/^Template variable NAME is used in the subject, from or reply_to and may not contain line breaks/,
		);
	});

	it("refuses a rendering larger than the body limit before building it", () => {
		const html = "{{BIG}}".repeat(200);
		expect(renderError({ html }, { BIG: "x".repeat(10_000) })).toMatch(
			new RegExp(`^The rendered html and text would be \\d+ bytes; the limit is ${EMAIL_LIMITS.bodyBytes}`),
		);
	});

	it("counts escaped characters in the rendered size", () => {
		const html = "{{V}}".repeat(100);
		// 1,200 "<" become 4,800 bytes each as "&lt;": 480,000 per copy of the html, 960,000 with the derived text.
		const result = renderTemplate(compiled({ html, text: "" }), { V: "<".repeat(4_000) });
		expect(result.ok).toBe(false);
	});
});

describe("the text part derived from the html", () => {
	it("keeps links as text (url), drops tags and decodes entities", () => {
		const html = `<html><head><title>t</title><style>p{color:red}</style></head><body>
			<h1>Welcome, {{NAME}}!</h1>
			<p>Fish &amp; chips for &euro;5 &lt;today&gt;. <a href="https://example.com/menu?a=1&amp;b=2">See the menu</a>.</p>
			<p><a href="{{URL}}">Track it</a> or write to <a href="mailto:{{EMAIL_ADDRESS}}">{{EMAIL_ADDRESS}}</a></p>
			<img src="https://example.com/logo.png" alt="Logo"></body></html>`;
		const out = rendered({ html }, { NAME: "Ada <3", URL: "https://t.example/p/1?x=1&y=2", EMAIL_ADDRESS: "help@example.com" });
		expect(out.text).toBe(
			[
				"Welcome, Ada <3!",
				"",
				"Fish & chips for €5 <today>. See the menu (https://example.com/menu?a=1&b=2).",
				"",
				"Track it (https://t.example/p/1?x=1&y=2) or write to help@example.com",
			].join("\n"),
		);
		expect(out.html).toContain("Welcome, Ada &lt;3!");
	});

	it("turns a raw html value into text", () => {
		const out = rendered(
			{ html: "<p>Hello</p><div>{{{PROMO}}}</div>" },
			{ PROMO: '<p>10% off with <a href="https://s.example">code</a></p>' },
		);
		expect(out.text).toBe("Hello\n\n10% off with code (https://s.example)");
	});

	it("keeps the template's own text when it has one", () => {
		expect(rendered({ html: "<p>{{A}}</p>", text: "plain {{A}}" }, { A: "x" }).text).toBe("plain x");
	});
});

describe("the compiled-version cache", () => {
	it("compiles a version once and reuses it", () => {
		const id = crypto.randomUUID();
		const first = compiledVersion(id, content({ html: "<p>{{A}}</p>" }));
		const second = compiledVersion(id, content({ html: "<p>something else</p>" }));
		expect(first.ok && second.ok && first.value === second.value).toBe(true);
	});
});
