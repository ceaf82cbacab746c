/** Types of scripts/lib/console-build.mjs, for the TypeScript tests that import it. */

/** wrangler.jsonc `assets.directory`, relative to the project. */
export declare const ASSETS_DIRECTORY: string;

export declare const SCALAR_ASSET: string;

export declare function ensureAssetsDirectory(cwd?: string): Promise<void>;

export declare function buildConsole(options?: {
	cwd?: string;
	force?: boolean;
	log?: (line: string) => void;
}): Promise<{ built: boolean }>;
