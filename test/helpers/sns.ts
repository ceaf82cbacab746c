/**
 * SNS deliveries signed as Amazon SNS signs them, for the SES webhook tests: RSA PKCS#1 v1.5 over the documented
 * string to sign, with SHA-1 (SignatureVersion 1) or SHA-256 (2), and the certificate served at SigningCertURL.
 *
 * The key pair and self-signed certificate below were made once for these tests with
 * `openssl req -x509 -newkey rsa:2048 -nodes -days 36500 -subj "/C=US/O=Mailroom tests/CN=sns.amazonaws.com"`
 * (valid until 2126); they sign nothing but test messages.
 */
import { vi } from "vitest";
import { decodeBase64, encodeBase64 } from "../../src/lib/webcrypto";
import { type SnsEnvelope, stringToSign } from "../../src/providers/ses/sns";

export const TEST_SNS_CERT_PEM = `-----BEGIN CERTIFICATE-----
MIIDZzCCAk+gAwIBAgIUTZ3Rg5lQiXYx+Yb7QHfONwGKniowDQYJKoZIhvcNAQEL
BQAwQjELMAkGA1UEBhMCVVMxFzAVBgNVBAoMDk1haWxyb29tIHRlc3RzMRowGAYD
VQQDDBFzbnMuYW1hem9uYXdzLmNvbTAgFw0yNjExMzAxOTUwMjVaGA8yMTI2MTEw
NjE5NTAyNVowQjELMAkGA1UEBhMCVVMxFzAVBgNVBAoMDk1haWxyb29tIHRlc3Rz
MRowGAYDVQQDDBFzbnMuYW1hem9uYXdzLmNvbTCCASIwDQYJKoZIhvcNAQEBBQAD
ggEPADCCAQoCggEBALHfpde6IIRNvng5w/LztrKbtJ+AwbzO4Rse+qqW4WlGHsqn
5EECvTPKnyLfwtcgPWXmjk363MbYuYN5g6RzNIS8MDZSDMvEez0bEUf+tMrAsCqq
+55r6AxUVf+wZoCgPufZi1EIoDyjWiyIsJKI34vP1B4007Dbx105dlfLqS8XDXV+
oxWhhxIKlID2Rm1zXSaeujSy1MY4O1gbSL8ZGUpzGvNvyhXpgM4gVEGWm43xHOwK
uIiobmoRoEPtYVV8YvPJejjXQHIuPdcL7XU05Sf0/XFej39iH85vRTNdw/2wrNN9
ficvd32OlesouqZ/jNXIjGI4v5ypZv1eKwc1RbECAwEAAaNTMFEwHQYDVR0OBBYE
FNi49lBJ8h/BrcuPt2q01QdKqhMlMB8GA1UdIwQYMBaAFNi49lBJ8h/BrcuPt2q0
1QdKqhMlMA8GA1UdEwEB/wQFMAMBAf8wDQYJKoZIhvcNAQELBQADggEBADAi4mME
B4LquCn9RJIGbJnushQQ1dEGS/zyVfUifw8hSvsfUAX0AidD6LuOn/YVMg+2rH31
UjVvQLAt8N8b6qgnpwyy6GK2e+/28Vtvm6/O4b51P4Th69zgFogxiEs9NQ+nTDvI
0GeJP6lPJRmEk4GWit/bElPDFbm4aFHH70UFYhHrvoVrhdGZOr4wA3NmSTI+5P7H
5IHiylZhI4R0hAKQf9NvIFGRqpV1TOmj3NmS1h4JDJV42z/m7do79WRf3Yt9DP9k
61t8QiHVZ8o2hro9Xo9CjXHPPWcyDalzYiXm1pyloVWRKhQsFb57LDoo41/Khlq1
ogd3js0z2arisG0=
-----END CERTIFICATE-----
`;

const TEST_SNS_KEY_PKCS8 =
	"MIIEvAIBADANBgkqhkiG9w0BAQEFAASCBKYwggSiAgEAAoIBAQCx36XXuiCETb54OcPy87aym7SfgMG8zuEbHvqqluFpRh7Kp+RBAr0zyp8i38LXID1l5o5N+tzG2LmDeYOkczSEvDA2UgzLxHs9GxFH/rTKwLAqqvuea+gMVFX/sGaAoD7n2YtRCKA8o1osiLCSiN+Lz9QeNNOw28ddOXZXy6kvFw11fqMVoYcSCpSA9kZtc10mnro0stTGODtYG0i/GRlKcxrzb8oV6YDOIFRBlpuN8RzsCriIqG5qEaBD7WFVfGLzyXo410ByLj3XC+11NOUn9P1xXo9/Yh/Ob0UzXcP9sKzTfX4nL3d9jpXrKLqmf4zVyIxiOL+cqWb9XisHNUWxAgMBAAECgf8spDS7L7t5eQmUourKzt/Lc8ihP29gM4vLgrrmlXd9NFwGAJ0Is+dIWFIYLpB37V97c6HDcHJ4dWwZ0yV24HMN3S08dNtBSM6lR2XO6930BOgxzTfZSruyXHg488zF+3HOPor4i3GrxlObWbL3E+MG8+IIsrluabpfa0yIPFT5vCP6e0VNzNW4//JiQyTWIvGgcOghgdHpzaDaYAXE3oCR4aXx8pTpryfbsawGOJiedTvNiE/N05iAw+KXNLM+K3RE4tNYDkiUBlLYyAAO+CqX/GDREKWAZMsqj2wHzwrdQG4cC3Q8GxSXrxd+7w9j2+QXX4Q4zeLyeja1/LGrFIECgYEA5gl+/EOA0TRN+8R5F3or3FZWYyX09DYY11UAeCgewempuQccgMW8+qMAs5/CUCD4kj7EAv+RgMa5/ApXXhloyIoFYdFe+IKOMzc+bx69WmhtsoFz7FyditCpxF/gyIO0zNV5eAsjFzr9UvQ7dubYRl/AweFtsXniK+uv7PigsiECgYEAxfL7q6kBRzUOmTMwX12961g2RtVPgUDwaF67ryTbYJYLQL8eYsWmxcAkfOX9prV4oYtYLrdbEC9aFF0VWhm7KRm3w9CItPlatHmIYBjUR8HpBf8VnePaUQRUl2AEKZquAGuwGOsAKa4XAIFIrwixHNKcxyLgiaXPjf30WVQ2QZECgYEA0XGX8usrIE91KWRLtHqB8M2TPhbTHn8awwQbt0sgJgIvi83Tv9NKKxG6k9FDxF0gtVb8dJZozk0iDT8FKSINa3lvSQ6uX6nO+wazi8z7LpOiPULsXyo8LqWpzKhXK3nvZgh/3jKVspL9D0hb0/h+tiR8hopPq6WDreWbejEtbsECgYAIdc8d0hZU5cae85ogqVABq/593oYMXysnOs1IugmKQj9u3/w7enkbQJAOqoHBy0XBmcQGEx4YPf3amvPbqvfd1NSO0O3W1kVzKzKR8N25x2bfM7zHx8I/7jBzW84xvQOszu1y0zBpl6AyDFR/7p4rPjEnLa1tFKIfTnhQDRJYkQKBgQCpFG3pbjeRykzkkVIuEkdLKEighOArpFBZyEVmRwAFnLgLPj16WVkL0K+AGveU8ZSheXGCIM0MRdk911tI8YKcqFGgEiWD1lGbAmQ8JYT14qNoyKq4rcgR1yGB56jgZlRv/rgKoqb1J4Ek6xGPIxtA1T5wz4DicjZujFA3iTuO5A==";

export const TOPIC_ARN = "arn:aws:sns:eu-west-1:123456789012:mailroom-ses-events";
export const CERT_URL = "https://sns.eu-west-1.amazonaws.com/SimpleNotificationService-0123456789abcdef0123456789abcdef.pem";

/** Signs `envelope` (without Signature) as SNS would, with the test key. */
export async function signSns(envelope: Omit<SnsEnvelope, "Signature">): Promise<SnsEnvelope> {
	const hash = envelope.SignatureVersion === "1" ? "SHA-1" : "SHA-256";
	const key = await crypto.subtle.importKey(
		"pkcs8",
		decodeBase64(TEST_SNS_KEY_PKCS8) ?? new Uint8Array(),
		{ name: "RSASSA-PKCS1-v1_5", hash },
		false,
		["sign"],
	);
	const unsigned = { ...envelope, Signature: "" };
	const text = stringToSign(unsigned);
	if (text === null) throw new Error("envelope lacks a signed field");
	const signature = await crypto.subtle.sign("RSASSA-PKCS1-v1_5", key, new TextEncoder().encode(text));
	return { ...envelope, Signature: encodeBase64(new Uint8Array(signature)) };
}

/** A signed SNS Notification carrying `message` (an SES event) on the test topic. */
export function snsNotification(
	message: unknown,
	options: { messageId?: string; version?: "1" | "2"; topic?: string; certUrl?: string; subject?: string } = {},
): Promise<SnsEnvelope> {
	return signSns({
		Type: "Notification",
		MessageId: options.messageId ?? crypto.randomUUID(),
		TopicArn: options.topic ?? TOPIC_ARN,
		...(options.subject !== undefined && { Subject: options.subject }),
		Message: typeof message === "string" ? message : JSON.stringify(message),
		Timestamp: new Date().toISOString(),
		SignatureVersion: options.version ?? "2",
		SigningCertURL: options.certUrl ?? CERT_URL,
		UnsubscribeURL: `https://sns.eu-west-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=${TOPIC_ARN}:0000`,
	});
}

/** A signed SubscriptionConfirmation for the test topic. */
export function snsSubscriptionConfirmation(options: { subscribeUrl?: string; messageId?: string } = {}): Promise<SnsEnvelope> {
	const token = "2336412f37fb687f5d51e6e2425a8a587149894bade3909e4f0bd4f812f336dc";
	return signSns({
		Type: "SubscriptionConfirmation",
		MessageId: options.messageId ?? crypto.randomUUID(),
		Token: token,
		TopicArn: TOPIC_ARN,
		Message: `You have chosen to subscribe to the topic ${TOPIC_ARN}.\nTo confirm the subscription, visit the SubscribeURL included in this message.`,
		SubscribeURL:
			options.subscribeUrl ?? `https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=${TOPIC_ARN}&Token=${token}`,
		Timestamp: new Date().toISOString(),
		SignatureVersion: "1",
		SigningCertURL: CERT_URL,
	});
}

/**
 * Answers fetches of the signing certificate (and of anything else with `other`), recording every URL asked.
 * Certificates are cached per URL for the isolate's life, so tests vary the URL when they need a fresh fetch.
 */
export function serveSnsCertificate(other: (url: string) => Response = () => new Response("not found", { status: 404 })) {
	const urls: string[] = [];
	vi.spyOn(globalThis, "fetch").mockImplementation(async (input) => {
		const url = input instanceof Request ? input.url : String(input);
		urls.push(url);
		return url.endsWith(".pem") ? new Response(TEST_SNS_CERT_PEM) : other(url);
	});
	return urls;
}

/** An SES event (configuration-set event publishing) as SNS carries it in `Message`. */
export function sesEvent(eventType: string, about: { emailId?: string; messageId: string }, fields: Record<string, unknown> = {}) {
	return {
		eventType,
		mail: {
			timestamp: "2026-11-22T09:00:00.000Z",
			source: "Acme <hello@acme.example.com>",
			sourceArn: "arn:aws:ses:eu-west-1:123456789012:identity/acme.example.com",
			sendingAccountId: "123456789012",
			messageId: about.messageId,
			destination: ["alice@example.com"],
			headersTruncated: false,
			tags: {
				"ses:configuration-set": ["mailroom"],
				"ses:source-ip": ["192.0.2.0"],
				...(about.emailId !== undefined && { mailroom_id: [about.emailId] }),
			},
		},
		...fields,
	};
}
