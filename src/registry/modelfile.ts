import type {ModelDefaults} from "./types.js";

export interface ParsedModelfile {
    defaults: ModelDefaults;
    warnings: string[];
}

/** PARAMETER values Ollama parses as numbers or booleans; everything else stays a string. */
const NUMERIC = new Set(["num_ctx", "num_predict", "temperature", "top_k", "top_p", "min_p", "seed", "repeat_penalty",
    "repeat_last_n", "presence_penalty", "frequency_penalty", "num_keep", "typical_p", "num_batch", "num_gpu", "num_thread",
    "mirostat", "mirostat_eta", "mirostat_tau", "tfs_z"]);

function unquote(value: string): string {
    const v = value.trim();
    if (v.startsWith("\"\"\"") && v.endsWith("\"\"\"") && v.length >= 6) return v.slice(3, -3);
    if (v.length >= 2 && v.startsWith("\"") && v.endsWith("\"")) {
        try {
            return JSON.parse(v) as string;
        } catch {
            return v.slice(1, -1);
        }
    }
    return v;
}

/**
 * Parses Ollama's Modelfile syntax: PARAMETER, SYSTEM, MESSAGE and TEMPLATE lines, with `"""` multi-line values.
 * TEMPLATE is kept only for display: it is a Go template, and the GGUF's own chat template is what runs.
 */
export function parseModelfile(text: string): ParsedModelfile {
    const defaults: ModelDefaults = {modelfile: text};
    const warnings: string[] = [];
    const lines = text.replace(/\r\n/g, "\n").split("\n");
    for (let i = 0; i < lines.length; i++) {
        const line = lines[i]!;
        const trimmed = line.trim();
        if (trimmed === "" || trimmed.startsWith("#")) continue;
        const m = /^(\w+)\s+([\s\S]*)$/.exec(trimmed);
        if (!m) {
            warnings.push(`line ${i + 1}: cannot parse "${trimmed.slice(0, 80)}"`);
            continue;
        }
        const instruction = m[1]!.toUpperCase();
        let rest = m[2]!;
        // multi-line """ values may start on this line and end several lines later
        const tripleAt = rest.indexOf("\"\"\"");
        if (tripleAt !== -1 && rest.indexOf("\"\"\"", tripleAt + 3) === -1) {
            const collected = [rest];
            while (++i < lines.length) {
                collected.push(lines[i]!);
                if (lines[i]!.includes("\"\"\"")) break;
            }
            rest = collected.join("\n");
        }
        switch (instruction) {
            case "FROM":
            case "ADAPTER":
            case "LICENSE":
            case "REQUIRES":
                break;
            case "SYSTEM":
                defaults.system = unquote(rest);
                break;
            case "TEMPLATE":
                defaults.template = unquote(rest);
                warnings.push("TEMPLATE is a Go template and is ignored: the GGUF's own chat template is used");
                break;
            case "PARAMETER": {
                const pm = /^(\S+)\s+([\s\S]+)$/.exec(rest.trim());
                if (!pm) {
                    warnings.push(`line ${i + 1}: PARAMETER needs a name and a value`);
                    break;
                }
                const key = pm[1]!.toLowerCase();
                const value = unquote(pm[2]!);
                if (key === "stop") {
                    (defaults.stop ??= []).push(value);
                } else if (NUMERIC.has(key)) {
                    const n = Number(value);
                    if (Number.isFinite(n)) (defaults.options ??= {})[key] = n;
                    else warnings.push(`line ${i + 1}: PARAMETER ${key} expects a number, got "${value}"`);
                } else if (value === "true" || value === "false") {
                    (defaults.options ??= {})[key] = value === "true";
                } else {
                    (defaults.options ??= {})[key] = value;
                }
                break;
            }
            case "MESSAGE": {
                const mm = /^(system|user|assistant)\s+([\s\S]+)$/i.exec(rest.trim());
                if (!mm) warnings.push(`line ${i + 1}: MESSAGE needs a role (system, user, assistant) and content`);
                else (defaults.messages ??= []).push({role: mm[1]!.toLowerCase(), content: unquote(mm[2]!)});
                break;
            }
            default:
                warnings.push(`line ${i + 1}: unknown instruction ${instruction}`);
        }
    }
    return {defaults, warnings};
}

/** The `parameters` text block of /api/show: one `key value` line per option, padded as Ollama pads it. */
export function formatParameters(options: Record<string, unknown> | undefined, stop: string[] | undefined): string {
    const rows: Array<[string, string]> = [];
    for (const [k, v] of Object.entries(options ?? {})) rows.push([k, typeof v === "string" ? v : JSON.stringify(v)]);
    for (const s of stop ?? []) rows.push(["stop", JSON.stringify(s)]);
    return rows.map(([k, v]) => `${k.padEnd(30)} ${v}`).join("\n");
}
