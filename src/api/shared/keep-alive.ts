import {badRequest} from "../../runtime/errors.js";

const UNIT_NS: Record<string, number> = {ns: 1, us: 1e3, "µs": 1e3, "μs": 1e3, ms: 1e6, s: 1e9, m: 60e9, h: 3600e9};

/**
 * keep_alive exactly as Ollama parses it: a JSON number is seconds; a string is a Go duration and needs a unit
 * ("5m", "1h30m", "0"); negative means forever. Returns seconds, or undefined when absent.
 */
export function parseKeepAlive(v: unknown): number | undefined {
    if (v == null) return undefined;
    if (typeof v === "number") {
        if (!Number.isFinite(v)) throw badRequest("keep_alive must be a finite number of seconds or a duration string like \"5m\"");
        return v;
    }
    if (typeof v !== "string") throw badRequest(`keep_alive must be a number of seconds or a duration string like "5m", got ${JSON.stringify(v)}`);
    const s = v.trim();
    if (s === "0") return 0;
    const m = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|μs|ms|s|m|h))+$/.exec(s);
    if (!m) {
        if (/^[-+]?\d+(\.\d*)?$/.test(s)) throw badRequest(`time: missing unit in duration "${s}"`);
        throw badRequest(`time: invalid duration "${s}"`);
    }
    let ns = 0;
    for (const part of s.replace(/^[-+]/, "").matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/g)) ns += Number(part[1]) * UNIT_NS[part[2]!]!;
    return (m[1] === "-" ? -1 : 1) * ns / 1e9;
}
