import fs from "node:fs";
import path from "node:path";
import {writeFileAtomic} from "./files.js";
import {type JobRecord, now} from "./job.js";

interface SidecarRecord {
    version: 1;
    files: Record<string, unknown>;
}

/**
 * `<folder>/.download.json`: where each file came from and its verified sha256, so the registry can offer the
 * `hf.co/org/repo:quant` alias and the audit knows the hash without reading the file. Entries of earlier
 * downloads into the same folder are kept; nothing is written when this job verified no file.
 */
export async function writeSidecar(r: JobRecord): Promise<void> {
    const s = r.snap;
    if (!s.files.some((f) => f.verified)) return;
    const file = path.join(s.folder, ".download.json");
    let record: SidecarRecord = {version: 1, files: {}};
    try {
        const old = JSON.parse(await fs.promises.readFile(file, "utf8")) as SidecarRecord;
        if (old && old.version === 1 && old.files && typeof old.files === "object") record = old;
    } catch {
        // first download into this folder
    }
    s.files.forEach((f, i) => {
        if (!f.verified) return;
        const u = new URL(r.urls[i]!);
        record.files[f.name] = {
            source: s.source, repo: s.repo, revision: s.revision, url: `${u.origin}${u.pathname}`,
            role: f.role, size_bytes: f.size_bytes, sha256: f.sha256, ollama_name: f.role === "model" ? s.ollama_name : null,
            downloaded_at: now()
        };
    });
    await writeFileAtomic(file, JSON.stringify(record, null, 2));
}
