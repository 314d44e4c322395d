/** `zombiecoder show <model>`: what the running provider knows about one model (`POST /api/show`). */
import {CONFIG_OPTIONS, CONFIG_USAGE, parseCliOrExit} from "./args.js";
import {withClient} from "./client-command.js";

export const usage = (prog = "zombiecoder show"): string => `usage: ${prog} <model> [options]
Shows a model's details: architecture, parameters, context length, quantization, capabilities, defaults.
  --modelfile      print its Modelfile only
  --template       print its chat template only
  --json           print the provider's whole answer as JSON
${CONFIG_USAGE}`;

export interface ShowAnswer {
    modelfile?: string;
    parameters?: string;
    template?: string;
    system?: string;
    details?: {family?: string; parameter_size?: string; quantization_level?: string; format?: string};
    model_info?: Record<string, unknown>;
    capabilities?: string[];
}

/** The context length from model_info (`<arch>.context_length`), when the model states one. */
function contextLength(info: Record<string, unknown> | undefined): unknown {
    if (!info) return undefined;
    const key = Object.keys(info).find((k) => k.endsWith(".context_length"));
    return key ? info[key] : undefined;
}

/** The sections `ollama show` prints, in its layout: a heading, then indented `key  value` lines. */
export function describeModel(name: string, a: ShowAnswer): string {
    const section = (title: string, rows: Array<[string, unknown]>): string[] => {
        const shown = rows.filter(([, v]) => v !== undefined && v !== null);
        if (shown.length === 0) return [];
        const width = Math.max(...shown.map(([k]) => k.length));
        return [`  ${title}`, ...shown.map(([k, v]) => v === "" ? `    ${k}` : `    ${k.padEnd(width)}    ${String(v)}`), ""];
    };
    const params = (a.parameters ?? "").split("\n").map((l) => l.trim()).filter((l) => l !== "")
        .map((l): [string, string] => {
            const at = l.search(/\s/);
            return at < 0 ? [l, ""] : [l.slice(0, at), l.slice(at).trim()];
        });
    return [
        name,
        "",
        ...section("Model", [
            ["architecture", a.details?.family],
            ["parameters", a.details?.parameter_size],
            ["context length", contextLength(a.model_info)],
            ["quantization", a.details?.quantization_level]
        ]),
        ...section("Capabilities", (a.capabilities ?? []).map((c): [string, string] => [c, ""])),
        ...section("Parameters", params),
        ...(a.system ? section("System", [[a.system, ""]]) : [])
    ].join("\n").trimEnd() + "\n";
}

export async function main(argv: string[], prog?: string): Promise<number> {
    const {values, positionals} = parseCliOrExit({
        usage: usage(prog),
        options: {...CONFIG_OPTIONS, json: {type: "boolean"}, modelfile: {type: "boolean"}, template: {type: "boolean"}},
        positionals: {min: 1, max: 1, name: "model"}
    }, argv);
    const name = positionals[0]!;
    return withClient(values, async (client) => {
        const a = await client.json<ShowAnswer>("POST", "/api/show", {model: name});
        if (values.json === true) process.stdout.write(`${JSON.stringify(a, null, 2)}\n`);
        else if (values.modelfile === true) process.stdout.write(`${a.modelfile ?? ""}\n`);
        else if (values.template === true) process.stdout.write(`${a.template ?? ""}\n`);
        else process.stdout.write(describeModel(name, a));
        return 0;
    });
}
