/**
 * Amazon SNS HTTP(S) deliveries, verified as https://docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html
 * describes, with WebCrypto only (AWS's `sns-validator` needs Node's https and crypto).
 *
 * - The body (sent as `text/plain`) is the JSON envelope `{Type, MessageId, TopicArn, Message, Timestamp,
 *   SignatureVersion, Signature, SigningCertURL, …}` (https://docs.aws.amazon.com/sns/latest/dg/http-header.html).
 * - `SigningCertURL` must be `https://sns.<region>.amazonaws.com[.cn]/….pem` (the host pattern of AWS's own validator);
 *   anything else is refused before it is fetched, so a forged message cannot make us trust its own certificate. The
 *   certificate is parsed with @peculiar/asn1-x509 (the ASN.1 layer of @peculiar/x509, without its DI container
 *   that needs a `reflect-metadata` global), must be valid at the request's time, and its SubjectPublicKeyInfo is
 *   imported for RSASSA-PKCS1-v1_5 with SHA-1 (`SignatureVersion` 1) or SHA-256 (2). Certificates are cached per URL
 *   for the isolate's life (AWS rotates them under new URLs).
 * - The string to sign is `Key\nValue\n` for each present key in the documented order: Notification `Message,
 *   MessageId, Subject, Timestamp, TopicArn, Type`; (Un)SubscriptionConfirmation `Message, MessageId, SubscribeURL,
 *   Timestamp, Token, TopicArn, Type`.
 * - `SubscribeURL` must be on the same host allow-list, as the route fetches it to confirm the subscription.
 *
 * Tests and local fakes only: `SES_SNS_CERT_HOST` replaces the allow-list with exactly that host (http allowed only
 * when it is a loopback address). It is never set by default; do not set it in production.
 */
import { AsnConvert } from "@peculiar/asn1-schema";
import { Certificate } from "@peculiar/asn1-x509";
import { z } from "zod";
import { err, ok, type Result } from "../../lib/result";
import { decodeBase64 } from "../../lib/webcrypto";
import { parseJsonOrUndefined } from "../http";
import type { InboundError } from "../types";

export const SNS_CERT_HOST_SETTING = "SES_SNS_CERT_HOST";
/** `sns.<region>.amazonaws.com` (or `.com.cn`), as AWS's aws-js-sns-message-validator allows. */
const SNS_HOST = /^sns\.[a-z0-9-]{3,}\.amazonaws\.com(\.cn)?$/;
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);
const CERT_TIMEOUT_MS = 5_000;
const CERT_CACHE_MAX = 16;
const RSA_ENCRYPTION = "1.2.840.113549.1.1.1";
const encoder = new TextEncoder();

export const SnsEnvelope = z.object({
	Type: z.string().min(1),
	MessageId: z.string().min(1).max(200),
	TopicArn: z.string().min(1),
	Message: z.string(),
	Timestamp: z.string().min(1),
	SignatureVersion: z.string(),
	Signature: z.string().min(1),
	SigningCertURL: z.string().min(1),
	Subject: z.string().optional(),
	SubscribeURL: z.string().optional(),
	Token: z.string().optional(),
	UnsubscribeURL: z.string().optional(),
});
export type SnsEnvelope = z.infer<typeof SnsEnvelope>;

const HASHES: Record<string, "SHA-1" | "SHA-256"> = { "1": "SHA-1", "2": "SHA-256" };

type CachedCert = { spki: Uint8Array<ArrayBuffer>; notBefore: number; notAfter: number };
const certificates = new Map<string, CachedCert>();

/** The envelope of an SNS delivery, or null when the body is not one. */
export function readEnvelope(rawBody: string): SnsEnvelope | null {
	const envelope = SnsEnvelope.safeParse(parseJsonOrUndefined(rawBody));
	return envelope.success ? envelope.data : null;
}

/**
 * Checks the envelope's signature against the certificate at its (allow-listed) `SigningCertURL`, and the
 * `SubscribeURL` of a confirmation against the same allow-list. 401 for anything that does not verify; 503 when the
 * certificate cannot be fetched (SNS retries).
 */
export async function verifySnsSignature(
	envelope: SnsEnvelope,
	settings: Record<string, string | undefined>,
	now: number,
	fetcher: typeof fetch = fetch,
): Promise<Result<void, InboundError>> {
	const hash = HASHES[envelope.SignatureVersion];
	if (hash === undefined) return unauthorized(`SignatureVersion ${JSON.stringify(envelope.SignatureVersion)} is not 1 or 2`);
	const override = settings[SNS_CERT_HOST_SETTING];
	const certUrl = allowedSnsUrl(envelope.SigningCertURL, override);
	if (certUrl === null || !certUrl.pathname.endsWith(".pem")) return unauthorized("SigningCertURL is not an SNS certificate URL");
	if (envelope.Type === "SubscriptionConfirmation" && (!envelope.SubscribeURL || allowedSnsUrl(envelope.SubscribeURL, override) === null)) {
		return unauthorized("SubscribeURL is not an SNS URL");
	}
	const signature = decodeBase64(envelope.Signature);
	if (signature === null) return unauthorized("Signature is not base64");
	const text = stringToSign(envelope);
	if (text === null) return unauthorized(`${envelope.Type} lacks a field its signature covers`);

	const cert = await certificate(certUrl.href, fetcher);
	if (!cert.ok) return cert;
	if (now < cert.value.notBefore || now > cert.value.notAfter) return unauthorized("The signing certificate is not valid now");
	let key: CryptoKey;
	try {
		key = await crypto.subtle.importKey("spki", cert.value.spki, { name: "RSASSA-PKCS1-v1_5", hash }, false, ["verify"]);
	} catch {
		return unauthorized("The signing certificate has no RSA public key");
	}
	const valid = await crypto.subtle.verify("RSASSA-PKCS1-v1_5", key, signature, encoder.encode(text)).catch(() => false);
	return valid ? ok(undefined) : unauthorized("Signature does not match");
}

/** `Key\nValue\n` for each key the message type signs, in AWS's order; null when a required one is missing. */
export function stringToSign(envelope: SnsEnvelope): string | null {
	const keys: (keyof SnsEnvelope)[] =
		envelope.Type === "Notification"
			? ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"]
			: ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"];
	let text = "";
	for (const key of keys) {
		const value = envelope[key];
		if (value === undefined) {
			if (key === "Subject") continue;
			return null;
		}
		text += `${key}\n${value}\n`;
	}
	return text;
}

/** The URL when it is an SNS endpoint we may call (see the module comment); null otherwise. */
export function allowedSnsUrl(value: string, override: string | undefined): URL | null {
	let url: URL;
	try {
		url = new URL(value);
	} catch {
		return null;
	}
	if (url.username !== "" || url.password !== "") return null;
	if (override) {
		if (url.host !== override.toLowerCase()) return null;
		const secure = url.protocol === "https:" || (url.protocol === "http:" && LOOPBACK.has(url.hostname));
		return secure ? url : null;
	}
	return url.protocol === "https:" && url.port === "" && SNS_HOST.test(url.hostname) ? url : null;
}

async function certificate(url: string, fetcher: typeof fetch): Promise<Result<CachedCert, InboundError>> {
	const cached = certificates.get(url);
	if (cached) return ok(cached);
	let pem: string;
	try {
		const response = await fetcher(url, { signal: AbortSignal.timeout(CERT_TIMEOUT_MS) });
		if (!response.ok) {
			await response.body?.cancel();
			return err({ status: 503, message: `The SNS signing certificate answered HTTP ${response.status}` });
		}
		pem = await response.text();
	} catch {
		return err({ status: 503, message: "The SNS signing certificate could not be fetched" });
	}
	const parsed = parseCertificate(pem);
	if (parsed === null) return unauthorized("The SNS signing certificate is not an X.509 RSA certificate");
	if (certificates.size >= CERT_CACHE_MAX) certificates.clear();
	certificates.set(url, parsed);
	return ok(parsed);
}

/** The public key and validity of a PEM (or bare base64 DER) certificate; null when it is not one. */
export function parseCertificate(pem: string): CachedCert | null {
	const body = /-----BEGIN CERTIFICATE-----([\s\S]+?)-----END CERTIFICATE-----/.exec(pem)?.[1] ?? pem;
	const der = decodeBase64(body);
	if (der === null || der.length === 0) return null;
	try {
		const cert = AsnConvert.parse(der, Certificate);
		const info = cert.tbsCertificate.subjectPublicKeyInfo;
		if (info.algorithm.algorithm !== RSA_ENCRYPTION) return null;
		const { notBefore, notAfter } = cert.tbsCertificate.validity;
		return {
			spki: new Uint8Array(AsnConvert.serialize(info)),
			notBefore: notBefore.getTime().getTime(),
			notAfter: notAfter.getTime().getTime(),
		};
	} catch {
		return null;
	}
}

function unauthorized(message: string): { ok: false; error: InboundError } {
	return err({ status: 401, message });
}
