/** Types of scripts/lib/chromium.mjs, for the TypeScript tests that import it. */

export declare const CHROMIUM: string;

export declare const CHROMIUM_ARGS: string[];

export declare function ensureChromium(options?: { log?: (line: string) => void }): string;
