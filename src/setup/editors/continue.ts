/**
 * Continue (VS Code, JetBrains): ~/.continue/config.yaml. Setup's entries in `models` are named "ZombieCoder …":
 * they are replaced where they stand on the next run, and every other model, key and comment stays.
 */
import YAML from "yaml";
import {EditorMergeError, OUR_PREFIX, type MergeResult, type ProviderFacts} from "./facts.js";
import {eolOf, readYaml, writeYaml} from "./yaml-doc.js";

function entries(f: ProviderFacts): Array<Record<string, unknown>> {
    const base = (model: string) => ({provider: "ollama", model, apiBase: f.baseUrl, ...(f.key ? {apiKey: f.key} : {})});
    const chat = {name: `${OUR_PREFIX} ${f.model}`, ...base(f.model), roles: ["chat", "edit", "apply"], ...(f.tools ? {capabilities: ["tool_use"]} : {})};
    if (!f.fimModel) return [chat];
    return [chat, {name: `${OUR_PREFIX} ${f.fimModel} (autocomplete)`, ...base(f.fimModel), roles: ["autocomplete"]}];
}

function isOurs(item: unknown): boolean {
    if (!YAML.isMap(item)) return false;
    const name = item.get("name");
    return typeof name === "string" && (name === OUR_PREFIX || name.startsWith(`${OUR_PREFIX} `));
}

export function mergeContinue(before: string | null, f: ProviderFacts, file: string): MergeResult {
    const y = readYaml(before, {name: "Local config", version: "1.0.0", schema: "v1"}, file);
    const doc = y.doc;
    let models = doc.get("models", true);
    if (models == null) {
        doc.set("models", doc.createNode([]));
        models = doc.get("models", true);
    }
    if (!YAML.isSeq(models)) throw new EditorMergeError(`${file}: "models" is not a list; setup only adds entries to a list`);
    const at = models.items.findIndex(isOurs);
    const kept = models.items.filter((i) => !isOurs(i));
    const ours = entries(f).map((e) => doc.createNode(e));
    models.items = at === -1 ? [...kept, ...ours] : [...kept.slice(0, at), ...ours, ...kept.slice(at)];
    return {text: writeYaml(y, eolOf(before)), notes: [`Continue lists "${OUR_PREFIX} ${f.model}" among its models${f.fimModel ? `, and "${OUR_PREFIX} ${f.fimModel} (autocomplete)" for tab completion` : ""}`]};
}
