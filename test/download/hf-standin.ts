/**
 * A local stand-in for the Hugging Face Hub (127.0.0.1 only): the tree API and the resolve endpoint with Range,
 * sha256 headers, and switches for the failure cases (connection drop mid-file, slow chunks, a huge
 * Content-Length, a wrong published sha256, a server that ignores Range or refuses HEAD).
 */
import {createHash} from "node:crypto";
import http from "node:http";
import type {AddressInfo} from "node:net";

export interface StandinFile {
    path: string;
    content: Buffer;
    /** LFS files carry a sha256 in the tree and the headers; small git files do not. Default true. */
    lfs?: boolean;
    /** Publish this sha256 instead of the real one (mismatch test). */
    publishedSha256?: string;
    /** Advertise this size (tree, HEAD, Content-Length) instead of the real one (full-disk test). */
    advertisedSize?: number;
}

export interface RecordedRequest {
    method: string;
    url: string;
    range: string | null;
    authorization: string | null;
}

export function sha256(b: Buffer): string {
    return createHash("sha256").update(b).digest("hex");
}

/** Deterministic pseudo-random bytes, so a test can name a file's content without a fixture. */
export function bytes(n: number, seed = 1): Buffer {
    const b = Buffer.alloc(n);
    let x = seed * 2654435761 >>> 0;
    for (let i = 0; i < n; i++) {
        x = (x * 1103515245 + 12345) >>> 0;
        b[i] = x >>> 24;
    }
    return b;
}

export class HfStandin {
    readonly repos = new Map<string, StandinFile[]>();
    /** Direct-URL files served at `/direct/<name>`. */
    readonly direct = new Map<string, StandinFile>();
    readonly requests: RecordedRequest[] = [];
    /** path (repo file path or direct name) → drop the connection after this many body bytes, once. */
    readonly dropAfter = new Map<string, number>();
    chunkSize = 16 * 1024;
    chunkDelayMs = 0;
    ignoreRange = false;
    refuseHead = false;
    /** The next `remaining` file GETs answer `status` (5xx retry tests). */
    failGets: {status: number; remaining: number} | null = null;
    /** Tree answers with this status instead (401 gated, 404 unknown). */
    treeStatus: number | null = null;
    private server: http.Server | null = null;
    base = "";

    addRepo(repo: string, files: StandinFile[]): void {
        this.repos.set(repo, files);
    }

    resolveRequests(suffix: string): RecordedRequest[] {
        return this.requests.filter((r) => r.method === "GET" && r.url.endsWith(suffix));
    }

    async start(): Promise<string> {
        this.server = http.createServer((req, res) => {
            this.handle(req, res).catch(() => {
                if (!res.headersSent) res.writeHead(500).end();
                else res.destroy();
            });
        });
        await new Promise<void>((resolve) => this.server!.listen(0, "127.0.0.1", resolve));
        const port = (this.server.address() as AddressInfo).port;
        this.base = `http://127.0.0.1:${port}`;
        return this.base;
    }

    async close(): Promise<void> {
        if (!this.server) return;
        this.server.closeAllConnections();
        await new Promise<void>((resolve) => this.server!.close(() => resolve()));
        this.server = null;
    }

    private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
        const url = new URL(req.url ?? "/", this.base);
        this.requests.push({
            method: req.method ?? "GET", url: url.pathname + url.search,
            range: (req.headers.range as string | undefined) ?? null,
            authorization: (req.headers.authorization as string | undefined) ?? null
        });
        const tree = /^\/api\/models\/([^/]+\/[^/]+)\/tree\/([^/?]+)/.exec(url.pathname);
        if (tree) {
            const files = this.repos.get(tree[1]!);
            if (this.treeStatus != null) return void res.writeHead(this.treeStatus, {"content-type": "application/json"}).end(JSON.stringify({error: "refused"}));
            if (!files) return void res.writeHead(404, {"content-type": "application/json"}).end(JSON.stringify({error: "Repository not found"}));
            const body = files.map((f) => {
                const size = f.advertisedSize ?? f.content.length;
                const entry: Record<string, unknown> = {type: "file", oid: sha256(Buffer.from(f.path)).slice(0, 40), size, path: f.path};
                if (f.lfs !== false) entry.lfs = {oid: f.publishedSha256 ?? sha256(f.content), size, pointerSize: 134};
                return entry;
            });
            body.unshift({type: "directory", oid: "0".repeat(40), size: 0, path: "sub"});
            return void res.writeHead(200, {"content-type": "application/json"}).end(JSON.stringify(body));
        }
        const resolve = /^\/([^/]+\/[^/]+)\/resolve\/([^/]+)\/(.+)$/.exec(url.pathname);
        if (resolve) {
            const files = this.repos.get(resolve[1]!);
            const filePath = resolve[3]!.split("/").map(decodeURIComponent).join("/");
            const f = files?.find((x) => x.path === filePath);
            if (!f) return void res.writeHead(404).end("Entry not found");
            return this.serve(req, res, f, filePath);
        }
        const direct = /^\/direct\/(.+)$/.exec(url.pathname);
        if (direct) {
            const name = decodeURIComponent(direct[1]!);
            const f = this.direct.get(name);
            if (!f) return void res.writeHead(404).end("not found");
            return this.serve(req, res, f, name);
        }
        res.writeHead(404).end("no route");
    }

    private async serve(req: http.IncomingMessage, res: http.ServerResponse, f: StandinFile, key: string): Promise<void> {
        const size = f.content.length;
        const advertised = f.advertisedSize ?? size;
        const headers: Record<string, string> = {"accept-ranges": "bytes", "content-type": "application/octet-stream"};
        if (f.lfs !== false) {
            const sha = f.publishedSha256 ?? sha256(f.content);
            headers.etag = `"${sha}"`;
            headers["x-linked-etag"] = `"${sha}"`;
            headers["x-linked-size"] = String(advertised);
        }
        if (req.method === "HEAD") {
            if (this.refuseHead) return void res.writeHead(405).end();
            return void res.writeHead(200, {...headers, "content-length": String(advertised)}).end();
        }
        if (this.failGets && this.failGets.remaining > 0) {
            this.failGets.remaining--;
            return void res.writeHead(this.failGets.status).end("unavailable");
        }
        let start = 0;
        const range = req.headers.range;
        if (range && !this.ignoreRange) {
            const m = /^bytes=(\d+)-$/.exec(range);
            if (m) start = Number(m[1]);
            if (start >= size) return void res.writeHead(416, {"content-range": `bytes */${size}`}).end();
        }
        if (start > 0) {
            res.writeHead(206, {...headers, "content-length": String(size - start), "content-range": `bytes ${start}-${size - 1}/${size}`});
        } else {
            res.writeHead(200, {...headers, "content-length": String(advertised)});
        }
        const drop = this.dropAfter.get(key);
        let sent = 0;
        // Bounded by the file size: every pass sends at least one byte.
        for (let pos = start; pos < size;) {
            if (res.destroyed) return;
            let end = Math.min(size, pos + this.chunkSize);
            if (drop != null && start + sent < drop && end > drop) end = drop;
            const chunk = f.content.subarray(pos, end);
            const ok = res.write(chunk);
            sent += chunk.length;
            pos = end;
            if (drop != null && pos === drop) {
                this.dropAfter.delete(key);
                await new Promise((r) => setTimeout(r, 20));
                res.socket?.destroy();
                return;
            }
            if (!ok) {
                await new Promise<void>((r) => {
                    const done = (): void => {
                        res.off("drain", done);
                        res.off("close", done);
                        r();
                    };
                    res.on("drain", done);
                    res.on("close", done);
                });
            }
            if (this.chunkDelayMs > 0) await new Promise((r) => setTimeout(r, this.chunkDelayMs));
        }
        res.end();
    }
}
