/** The tenant's own API keys (`/api-keys`). */
import { ApiKeyManager } from "../components/api-keys";
import { PageHeader } from "../components/ui";

const PATHS = { list: "/api-keys", create: "/api-keys", revoke: (id: string) => `/api-keys/${id}` };

export function ApiKeysPage() {
	return (
		<>
			<PageHeader
				title="API keys"
				description="Full-access keys can do everything this console does; sending-only keys can only send emails."
			/>
			<ApiKeyManager paths={PATHS} revokeWarning="If it is the key this console signed in with, you will be signed out." />
		</>
	);
}
