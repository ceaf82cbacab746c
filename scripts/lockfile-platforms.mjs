#!/usr/bin/env node
// Completes package-lock.json with entries for other platforms' optional binary packages.
//
// Why: the npm registry mirror of this project's machines serves only some platforms' builds of packages such as
// @biomejs/cli-* and @cloudflare/workerd-* (the others answer 404). `npm install` then leaves them out of the
// lock file, and `npm ci` refuses that lock file as out of sync. An entry with the right os/cpu is all npm needs:
// it validates the lock file and skips the package on every other platform, exactly as it would with a full entry.
// Runs as `postinstall` (after npm has written the lock file); changes nothing when nothing is missing.
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const lockPath = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "package-lock.json");
const OS = {
	android: "android",
	darwin: "darwin",
	linux: "linux",
	win32: "win32",
	windows: "win32",
	freebsd: "freebsd",
	netbsd: "netbsd",
	openbsd: "openbsd",
	sunos: "sunos",
	aix: "aix",
	openharmony: "openharmony",
};
const CPU = {
	arm64: "arm64",
	x64: "x64",
	64: "x64",
	arm: "arm",
	ia32: "ia32",
	ppc64: "ppc64",
	s390x: "s390x",
	riscv64: "riscv64",
	loong64: "loong64",
	mips64el: "mips64el",
};

/** os/cpu/libc from a platform package name such as `@biomejs/cli-linux-x64-musl` or `@cloudflare/workerd-windows-64`. */
function platformOf(name) {
	const parts = name.split("/").pop().split("-");
	const os = parts.map((p) => OS[p]).find(Boolean);
	const cpu = parts.map((p) => CPU[p]).find(Boolean);
	if (!os || !cpu) return null;
	return { os: [os], cpu: [cpu], ...(parts.includes("musl") ? { libc: ["musl"] } : {}) };
}

let lock;
try {
	lock = JSON.parse(readFileSync(lockPath, "utf8"));
} catch {
	process.exit(0); // no lock file (e.g. installed as a dependency): nothing to complete
}
const packages = lock.packages ?? {};
let added = 0;
for (const [location, meta] of Object.entries(packages)) {
	for (const [name, version] of Object.entries(meta.optionalDependencies ?? {})) {
		const nested = `${location ? `${location}/` : ""}node_modules/${name}`;
		const hoisted = `node_modules/${name}`;
		if (packages[nested] || packages[hoisted]) continue;
		const platform = platformOf(name);
		if (!platform || !/^\d+\.\d+\.\d+/.test(version)) continue;
		packages[hoisted] = { version, ...platform, ...(meta.dev ? { dev: true } : {}), optional: true };
		added += 1;
	}
}
if (added > 0) {
	writeFileSync(lockPath, `${JSON.stringify(lock, null, "\t")}\n`);
	console.log(`lockfile-platforms: added ${added} platform package entries the registry did not serve`);
}
