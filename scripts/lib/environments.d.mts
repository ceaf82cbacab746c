/** Types of scripts/lib/environments.mjs, for the TypeScript tests that import it. */

export declare const NON_INHERITABLE_KEYS: string[];
export declare function deriveEnvironment(raw: Record<string, unknown>, env: string): Record<string, unknown>;
export declare function environmentNames(raw: Record<string, unknown>): string[];
export declare function readRawConfig(configPath: string): Promise<{ text: string; raw: Record<string, unknown> }>;
export declare function staleEnvironments(configPath: string): Promise<{ env: string; keys: string[] }[]>;
export declare function writeEnvironments(configPath: string): Promise<string[]>;
