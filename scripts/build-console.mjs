#!/usr/bin/env node
/** `npm run build:console`: builds dist/public (the console and the API reference's script); `--force` rebuilds. */
import { buildConsole } from "./lib/console-build.mjs";

const { built } = await buildConsole({ force: process.argv.includes("--force") });
console.log(built ? "Console built into dist/public." : "Console is up to date (dist/public).");
