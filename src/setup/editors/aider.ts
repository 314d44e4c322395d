/**
 * aider: ~/.aider.conf.yml. The model goes through litellm's `ollama_chat/` provider, whose address and key aider
 * takes from OLLAMA_API_BASE and OLLAMA_API_KEY; `set-env` sets them for aider alone. Other `set-env` entries stay.
 */
import YAML from "yaml";
import {EditorMergeError, type MergeResult, type ProviderFacts} from "./facts.js";
import {eolOf, readYaml, writeYaml} from "./yaml-doc.js";

const OUR_VARS = ["OLLAMA_API_BASE", "OLLAMA_API_KEY"];

export function mergeAider(before: string | null, f: ProviderFacts, file: string): MergeResult {
    const y = readYaml(before, {}, file);
    const doc = y.doc;
    doc.set("model", `ollama_chat/${f.model}`);
    const wanted = [`OLLAMA_API_BASE=${f.baseUrl}`, ...(f.key ? [`OLLAMA_API_KEY=${f.key}`] : [])];
    const current = doc.get("set-env", true);
    const ours = (v: unknown) => typeof v === "string" && OUR_VARS.some((k) => v.startsWith(`${k}=`));
    if (current == null) doc.set("set-env", doc.createNode(wanted));
    else if (YAML.isSeq(current)) {
        const at = current.items.findIndex((i) => ours(YAML.isScalar(i) ? i.value : i));
        const kept = current.items.filter((i) => !ours(YAML.isScalar(i) ? i.value : i));
        const add = wanted.map((w) => doc.createNode(w));
        current.items = at === -1 ? [...kept, ...add] : [...kept.slice(0, at), ...add, ...kept.slice(at)];
    } else if (YAML.isScalar(current) && typeof current.value === "string") {
        doc.set("set-env", doc.createNode([...(ours(current.value) ? [] : [current.value]), ...wanted]));
    } else throw new EditorMergeError(`${file}: "set-env" is neither a list nor a string; setup only edits those`);
    return {text: writeYaml(y, eolOf(before)), notes: [`aider uses ollama_chat/${f.model} (run aider in any project)`]};
}
