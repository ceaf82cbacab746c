import { defineConfig } from "drizzle-kit";

/** drizzle-kit generates SQL from the schema; wrangler applies it (`migrations_dir` in wrangler.jsonc). */
export default defineConfig({
	dialect: "sqlite",
	schema: "./src/db/schema.ts",
	out: "./migrations",
});
