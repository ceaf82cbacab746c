/** A Durable Object namespace whose stubs run every RPC through `around` (counting, fault injection). */
export function aroundRpcs(namespace: Env["RATE_LIMITER"], around: (invoke: () => unknown) => unknown): Env["RATE_LIMITER"] {
	return new Proxy(namespace, {
		get(target, property) {
			const value = Reflect.get(target, property, target);
			if (property !== "getByName" || typeof value !== "function") return typeof value === "function" ? value.bind(target) : value;
			return (name: string) => {
				const stub = target.getByName(name);
				return new Proxy(stub, {
					get(s, method) {
						const fn = Reflect.get(s, method, s);
						if (typeof fn !== "function" || method === "fetch") return fn;
						// RPC stub methods are proxies: `fn.apply` would be read as a remote method named "apply".
						return (...args: unknown[]) => around(() => Reflect.apply(fn as (...a: unknown[]) => unknown, s, args));
					},
				});
			};
		},
	});
}
