/**
 * The dashboard's pages and assets: plain files from `assetsDir`, public like /health, since they hold no data and
 * a browser must load them before it can ask for the key. Every call the page makes carries the key.
 */
import {createHash} from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import {fileURLToPath} from "node:url";
import type {FastifyInstance, FastifyReply, FastifyRequest} from "fastify";
import {sendError} from "../../server/errors.js";

/**
 * Where the files are, found next to this module. The one place to change when the dashboard is served from
 * somewhere else (a compiled build).
 */
export const assetsDir = fileURLToPath(new URL("./assets/", import.meta.url));

/** The dashboard's data routes: never answered here, always behind the key. */
export const UI_DATA_PREFIX = "/ui/api";

const CONTENT_TYPES: Record<string, string> = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".ico": "image/x-icon"
};

/** Scripts and styles only from this server, nothing inline, no frames: a page that holds the key keeps it. */
const PAGE_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    // the files are small and change with the provider: always check, never serve a stale dashboard
    "Cache-Control": "no-cache"
};

/**
 * The file a path names, or null when it names none: `/ui` and `/ui/` are the page, `/ui/<name>` an asset in the
 * folder (no dot files, nothing outside it, never the data routes).
 */
export function assetFor(urlPath: string): string | null {
    if (urlPath === "/ui" || urlPath === "/ui/") return path.join(assetsDir, "index.html");
    if (!urlPath.startsWith("/ui/") || urlPath === UI_DATA_PREFIX || urlPath.startsWith(`${UI_DATA_PREFIX}/`)) return null;
    let rel: string;
    try {
        rel = decodeURIComponent(urlPath.slice("/ui/".length));
    } catch {
        return null;
    }
    if (!/^[A-Za-z0-9_-][A-Za-z0-9._/-]*$/.test(rel) || rel.split("/").some((part) => part === "" || part.startsWith("."))) return null;
    const file = path.resolve(assetsDir, rel);
    return file.startsWith(assetsDir) && CONTENT_TYPES[path.extname(file)] ? file : null;
}

function isUiPath(urlPath: string): boolean {
    return urlPath === "/ui" || (urlPath.startsWith("/ui/") && urlPath !== UI_DATA_PREFIX && !urlPath.startsWith(`${UI_DATA_PREFIX}/`));
}

async function serveAsset(request: FastifyRequest, reply: FastifyReply, urlPath: string): Promise<FastifyReply> {
    const file = assetFor(urlPath);
    const body = file ? await fs.readFile(file).catch(() => null) : null;
    if (!file || !body) return sendError(request, reply, 404, `no dashboard file at ${urlPath}; the dashboard is at /ui`, "not_found");
    const etag = `"${createHash("sha1").update(body).digest("base64url")}"`;
    reply.headers(PAGE_HEADERS).header("ETag", etag);
    if (request.headers["if-none-match"] === etag) return reply.code(304).send();
    reply.type(CONTENT_TYPES[path.extname(file)]!);
    return reply.send(request.method === "HEAD" ? "" : body);
}

/**
 * Answers GET and HEAD for the dashboard's files before the key check runs: it must be installed before the auth
 * hook (hooks run in the order they were added). Every other path, the data routes included, passes through.
 */
export function installUiAssets(app: FastifyInstance): void {
    app.addHook("onRequest", async (request, reply) => {
        if (request.method !== "GET" && request.method !== "HEAD") return;
        const urlPath = request.url.split("?")[0]!;
        if (!isUiPath(urlPath)) return;
        return serveAsset(request, reply, urlPath);
    });
}
