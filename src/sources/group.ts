import path from "node:path";
import {isProjectorName, splitInfo} from "../download/names.js";

export interface GroupedModel {
    /** Load order: split parts by index. */
    files: string[];
    projector: string | null;
}

/**
 * Turns the GGUF files of one store into models: split parts join their set (incomplete sets are skipped, as the
 * engine cannot load them), and a projector in the same folder attaches to every model of that folder.
 */
export function groupGgufFiles(files: string[]): GroupedModel[] {
    const byDir = new Map<string, string[]>();
    for (const f of files) {
        const d = path.dirname(f);
        const list = byDir.get(d) ?? [];
        list.push(f);
        byDir.set(d, list);
    }
    const out: GroupedModel[] = [];
    for (const [, list] of [...byDir.entries()].sort(([a], [b]) => a.localeCompare(b))) {
        list.sort();
        const projectors = list.filter((f) => isProjectorName(f));
        const projector = projectors.find((p) => /f16/i.test(path.basename(p))) ?? projectors[0] ?? null;
        const sets = new Map<string, string[]>();
        for (const f of list) {
            if (isProjectorName(f)) continue;
            const s = splitInfo(f);
            if (!s) {
                out.push({files: [f], projector});
                continue;
            }
            const key = `${s.prefix}\u0000${s.count}`;
            const group = sets.get(key) ?? [];
            group.push(f);
            sets.set(key, group);
        }
        for (const group of sets.values()) {
            group.sort((a, b) => splitInfo(a)!.index - splitInfo(b)!.index);
            const count = splitInfo(group[0]!)!.count;
            if (group.length !== count || group.some((g, i) => splitInfo(g)!.index !== i + 1)) continue;
            out.push({files: group, projector});
        }
    }
    return out;
}
