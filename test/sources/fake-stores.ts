/**
 * Generated stores in the real layouts of Ollama (manifests + content-addressed blobs), LM Studio
 * (publisher/repo/file.gguf) and the Hugging Face hub cache (models--org--repo/snapshots + blobs), plus a hash
 * of a whole tree to prove a store was left byte-for-byte untouched.
 */
import {createHash} from "node:crypto";
import fs from "node:fs";
import path from "node:path";

export function sha256(b: Buffer): string {
    return createHash("sha256").update(b).digest("hex");
}

/** Bytes that pass the GGUF magic check (not a loadable model; use writeTestModel for that). */
export function fakeGguf(n: number, seed: number): Buffer {
    const b = Buffer.alloc(Math.max(8, n));
    b.write("GGUF", 0, "latin1");
    let x = (seed * 2654435761) >>> 0;
    for (let i = 4; i < b.length; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        b[i] = x >>> 24;
    }
    return b;
}

export interface OllamaFixtureModel {
    host?: string;
    namespace?: string;
    model: string;
    tag: string;
    gguf: Buffer;
    params?: Record<string, unknown>;
    system?: string;
    template?: string;
    messages?: Array<{role: string; content: string}>;
    projector?: Buffer;
    adapter?: Buffer;
}

function writeBlob(store: string, content: Buffer): {digest: string; size: number} {
    const hex = sha256(content);
    const p = path.join(store, "blobs", `sha256-${hex}`);
    fs.mkdirSync(path.dirname(p), {recursive: true});
    if (!fs.existsSync(p)) fs.writeFileSync(p, content);
    return {digest: `sha256:${hex}`, size: content.length};
}

/** Writes an Ollama store: one manifest per model, blobs shared by content as Ollama does. */
export function makeOllamaStore(store: string, models: OllamaFixtureModel[]): void {
    for (const m of models) {
        const layers: Array<{mediaType: string; digest: string; size: number}> = [];
        const add = (mediaType: string, content: Buffer): void => {
            layers.push({mediaType, ...writeBlob(store, content)});
        };
        add("application/vnd.ollama.image.model", m.gguf);
        if (m.projector) add("application/vnd.ollama.image.projector", m.projector);
        if (m.adapter) add("application/vnd.ollama.image.adapter", m.adapter);
        if (m.template) add("application/vnd.ollama.image.template", Buffer.from(m.template));
        if (m.system) add("application/vnd.ollama.image.system", Buffer.from(m.system));
        if (m.params) add("application/vnd.ollama.image.params", Buffer.from(JSON.stringify(m.params)));
        if (m.messages) add("application/vnd.ollama.image.messages", Buffer.from(JSON.stringify(m.messages)));
        add("application/vnd.ollama.image.license", Buffer.from("MIT"));
        const config = writeBlob(store, Buffer.from(JSON.stringify({model_format: "gguf", model_family: "llama", file_type: "Q4_K_M"})));
        const manifest = {
            schemaVersion: 2,
            mediaType: "application/vnd.docker.distribution.manifest.v2+json",
            config: {mediaType: "application/vnd.docker.container.image.v1+json", ...config},
            layers
        };
        const file = path.join(store, "manifests", m.host ?? "registry.ollama.ai", m.namespace ?? "library", m.model, m.tag);
        fs.mkdirSync(path.dirname(file), {recursive: true});
        fs.writeFileSync(file, JSON.stringify(manifest));
    }
}

/** LM Studio: `<models>/<publisher>/<repo>/<file>`. */
export function makeLmStudioStore(store: string, files: Array<{rel: string; content: Buffer}>): void {
    for (const f of files) {
        const p = path.join(store, ...f.rel.split("/"));
        fs.mkdirSync(path.dirname(p), {recursive: true});
        fs.writeFileSync(p, f.content);
    }
}

/**
 * The hub cache: blobs named by sha256, snapshot entries as relative symlinks (copies where the OS refuses links,
 * as the real cache does on Windows without developer mode).
 */
export function makeHfCache(hub: string, repo: string, commit: string, files: Array<{rel: string; content: Buffer}>): void {
    const repoDir = path.join(hub, `models--${repo.split("/").join("--")}`);
    fs.mkdirSync(path.join(repoDir, "refs"), {recursive: true});
    fs.writeFileSync(path.join(repoDir, "refs", "main"), commit);
    for (const f of files) {
        const blob = path.join(repoDir, "blobs", sha256(f.content));
        fs.mkdirSync(path.dirname(blob), {recursive: true});
        fs.writeFileSync(blob, f.content);
        const link = path.join(repoDir, "snapshots", commit, ...f.rel.split("/"));
        fs.mkdirSync(path.dirname(link), {recursive: true});
        try {
            fs.symlinkSync(path.relative(path.dirname(link), blob), link);
        } catch {
            fs.copyFileSync(blob, link);
        }
    }
}

/** sha256 over every path, type, size, mtime and content under `root`: any write, touch or new file changes it. */
export function hashTree(root: string): string {
    const h = createHash("sha256");
    const walk = (dir: string): void => {
        for (const name of fs.readdirSync(dir).sort()) {
            const p = path.join(dir, name);
            const st = fs.lstatSync(p);
            h.update(`${path.relative(root, p)}\0${st.isDirectory() ? "d" : st.isSymbolicLink() ? "l" : "f"}\0${st.size}\0${st.mtimeMs}\0`);
            if (st.isDirectory()) walk(p);
            else if (st.isSymbolicLink()) h.update(fs.readlinkSync(p));
            else h.update(fs.readFileSync(p));
        }
    };
    walk(root);
    return h.digest("hex");
}
