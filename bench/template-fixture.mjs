/**
 * A realistic transactional template for the render benchmark: an order confirmation of about 20 KB of table
 * layout with inline styles (as email builders produce), ten declared variables used in html and subject, and
 * per-recipient values.
 */

const ITEM_ROW = (i) => `
<tr>
	<td style="padding:12px 0;border-bottom:1px solid #eaeaea;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:20px;color:#333333;" width="64">
		<img src="https://cdn.example.com/products/${i}.png" width="56" height="56" alt="Product ${i}" style="display:block;border:0;border-radius:4px;" />
	</td>
	<td style="padding:12px 8px;border-bottom:1px solid #eaeaea;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:20px;color:#333333;">
		<strong style="font-weight:600;">Catalogue item ${i}</strong><br />
		<span style="color:#888888;font-size:12px;">Colour: graphite &middot; Size: M &middot; SKU 10${i}4-${i}7</span>
	</td>
	<td align="right" style="padding:12px 0;border-bottom:1px solid #eaeaea;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:20px;color:#333333;">1 &times; &euro;${i}9.00</td>
</tr>`;

const PARAGRAPH = (n) => `
<tr>
	<td style="padding:0 32px 16px 32px;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:22px;color:#555555;">
		Section ${n}: we pack every order by hand in recycled material. If anything arrives damaged, reply to this email
		within 30 days and we will replace it at no cost &mdash; you do not need to send the item back. Questions about
		delivery times, customs or returns are answered in our <a href="https://help.example.com/shipping?ref=email&amp;s=${n}" style="color:#0b57d0;text-decoration:underline;">help centre</a>.
	</td>
</tr>`;

export const TEMPLATE_VARIABLES = [
	{ key: "CUSTOMER_NAME", type: "string" },
	{ key: "ORDER_ID", type: "string" },
	{ key: "ORDER_TOTAL", type: "number" },
	{ key: "CURRENCY", type: "string", fallback_value: "EUR" },
	{ key: "ITEM_COUNT", type: "number" },
	{ key: "DELIVERY_DATE", type: "string" },
	{ key: "TRACKING_URL", type: "string" },
	{ key: "ADDRESS", type: "string" },
	{ key: "SUPPORT_EMAIL", type: "string", fallback_value: "help@example.com" },
	{ key: "PROMO_HTML", type: "string", fallback_value: "" },
];

export function orderConfirmationTemplate() {
	const items = Array.from({ length: 15 }, (_, i) => ITEM_ROW(i + 1)).join("");
	const paragraphs = Array.from({ length: 10 }, (_, i) => PARAGRAPH(i + 1)).join("");
	const html = `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8" /><meta name="viewport" content="width=device-width" />
<title>Your order {{ORDER_ID}}</title>
<style>body{margin:0;padding:0;background:#f4f4f5}a{color:#0b57d0}@media (max-width:600px){.container{width:100%!important}}</style>
</head>
<body style="margin:0;padding:0;background-color:#f4f4f5;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background-color:#f4f4f5;">
<tr><td align="center" style="padding:24px 8px;">
<table role="presentation" class="container" width="600" cellpadding="0" cellspacing="0" border="0" style="background-color:#ffffff;border-radius:8px;">
<tr><td style="padding:32px 32px 8px 32px;font-family:Helvetica,Arial,sans-serif;font-size:22px;line-height:28px;color:#111111;font-weight:700;">
	Thanks for your order, {{CUSTOMER_NAME}}!
</td></tr>
<tr><td style="padding:0 32px 24px 32px;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:22px;color:#555555;">
	Order <strong>#{{ORDER_ID}}</strong> with {{ITEM_COUNT}} items is confirmed and will arrive by <strong>{{DELIVERY_DATE}}</strong>.
	Track it here: <a href="{{TRACKING_URL}}" style="color:#0b57d0;">track my parcel</a>.
</td></tr>
<tr><td style="padding:0 32px;">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0">${items}
<tr><td colspan="2" style="padding:16px 0;font-family:Helvetica,Arial,sans-serif;font-size:16px;font-weight:700;color:#111111;">Total</td>
<td align="right" style="padding:16px 0;font-family:Helvetica,Arial,sans-serif;font-size:16px;font-weight:700;color:#111111;">{{ORDER_TOTAL}} {{CURRENCY}}</td></tr>
</table></td></tr>
<tr><td style="padding:8px 32px 24px 32px;font-family:Helvetica,Arial,sans-serif;font-size:14px;line-height:22px;color:#555555;">
	Shipping to: {{ADDRESS}}
</td></tr>
<tr><td style="padding:0 32px 24px 32px;">{{{PROMO_HTML}}}</td></tr>${paragraphs}
<tr><td style="padding:24px 32px 32px 32px;font-family:Helvetica,Arial,sans-serif;font-size:12px;line-height:18px;color:#999999;border-top:1px solid #eaeaea;">
	Need help? Write to <a href="mailto:{{SUPPORT_EMAIL}}" style="color:#999999;">{{SUPPORT_EMAIL}}</a>.<br />
	Example Shop GmbH &middot; Musterstra&szlig;e 1 &middot; 10115 Berlin &middot; <a href="https://example.com/privacy" style="color:#999999;">Privacy</a>
</td></tr>
</table></td></tr></table>
</body></html>`;
	return { subject: "Order {{ORDER_ID}} confirmed, {{CUSTOMER_NAME}}", html, variables: TEMPLATE_VARIABLES };
}

/** Values for recipient `i`: different per recipient, one with characters that must be escaped in html. */
export function orderValues(i) {
	return {
		CUSTOMER_NAME: i % 7 === 0 ? `Zoë <O'Brien> & co ${i}` : `Customer ${i}`,
		ORDER_ID: `A-${100000 + i}`,
		ORDER_TOTAL: 10 + i * 1.5,
		ITEM_COUNT: 15,
		DELIVERY_DATE: "Friday, 14 March",
		TRACKING_URL: `https://track.example.com/p/${i}?lang=en&ref=mail`,
		ADDRESS: `${i} High Street, Springfield`,
		...(i % 2 === 0 ? { PROMO_HTML: `<p style="color:#0b57d0">10% off your next order with code <b>THANKS${i}</b></p>` } : {}),
	};
}
