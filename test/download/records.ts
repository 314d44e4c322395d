import path from "node:path";
import {type JobRecord, recordFromPlan} from "../../src/download/job.js";
import type {Plan} from "../../src/download/plan.js";
import {parseModelRef} from "../../src/download/ref.js";
import type {DownloadFileState} from "../../src/download/types.js";

/** A queued job record for `org/<name>` with one model file of `size` bytes under `modelsDir`, none downloaded. */
export function testRecord(modelsDir: string, name: string, size: number | null = 1000): JobRecord {
    const dest = path.join(modelsDir, name, `${name}-Q4_K_M.gguf`);
    const plan: Plan = {
        ref: parseModelRef(`hf:org/${name}:Q4_K_M`),
        folder: name,
        files: [{url: `https://example.invalid/org/${name}/resolve/main/${name}-Q4_K_M.gguf`, dest, size, sha256: null, role: "model"}],
        quant: "Q4_K_M",
        ollamaName: `hf.co/org/${name}:Q4_K_M`
    };
    const files: DownloadFileState[] = [{
        name: path.basename(dest), path: dest, role: "model", size_bytes: size,
        downloaded_bytes: 0, sha256: null, done: false, verified: false
    }];
    return recordFromPlan(plan, files);
}
