/** Types of bench/profile.mjs, for the Node-side tests. */

export interface CallFrame {
	functionName: string;
	scriptId: string;
	url: string;
	lineNumber: number;
	columnNumber: number;
}

/** DevTools' `Profiler.Profile`. */
export interface CpuProfile {
	nodes: { id: number; callFrame: CallFrame; children?: number[] }[];
	startTime: number;
	endTime: number;
	samples: number[];
	timeDeltas: number[];
}

export interface ModuleStart {
	line: number;
	module: string;
}

export interface ProfileSummary {
	window_ms: number;
	idle_ms: number;
	cpu_ms: number;
	worker_ms: number;
	bundle_ms: number;
	runtime_ms: number;
	native_ms: number;
	gc_ms: number;
	program_ms: number;
	do_ms: number;
	samples: number;
	self: { name: string; ms: number }[];
	phases: Record<string, number>;
}

export declare function bundleModules(source: string): ModuleStart[];
export declare function moduleAt(modules: ModuleStart[], line: number): string;
export declare function ownerOf(module: string): string;
export declare function summariseProfile(
	profile: CpuProfile,
	options?: { bundle?: { scriptId: string; url: string; modules: ModuleStart[] }; durableObject?: RegExp; phases?: [RegExp, string][] },
): ProfileSummary;
export declare function addSummaries(summaries: ProfileSummary[]): ProfileSummary;
