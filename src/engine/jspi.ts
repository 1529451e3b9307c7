/**
 * JavaScript Promise Integration (JSPI): `WebAssembly.Suspending` imports and `WebAssembly.promising` exports let a
 * guest's stack be suspended while a host promise is pending, so the thread can run other work meanwhile. Node 24
 * and later have it by default; Node 20 and 22 do not (22 only behind a flag), and there guests block instead.
 * Facts the callers rely on (measured on Node 24 and 26): a Suspending import suspends the stack on every call,
 * even when its function returns a plain value (the guest then goes on in a microtask); calling one outside a
 * promising export throws WebAssembly.SuspendError; each promising call runs on a stack of its own (~5 memory
 * mappings with its instance's memory: the kernel's vm.max_map_count, 65530 by default, bounds how many can be
 * suspended at once, and running out aborts the process, so callers keep far below it).
 */
export const JSPI: boolean = typeof WebAssembly.Suspending === 'function' && typeof WebAssembly.promising === 'function';
