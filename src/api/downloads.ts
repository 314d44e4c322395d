import type {FastifyInstance, FastifyPluginAsync, FastifyReply} from "fastify";
import type {ProviderConfig} from "../config/load.js";
import {DownloadError} from "../download/errors.js";
import type {DownloadJob, DownloadManager, DownloadProgressEvent} from "../download/manager.js";
import type {Logger} from "../log/logger.js";
import {StreamWriter} from "../server/stream.js";

export interface DownloadRouteDeps {
    config: ProviderConfig;
    logger: Logger;
    downloads: DownloadManager;
    rescan: () => Promise<unknown>;
}

type Body = Record<string, unknown>;

function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
    return reply.code(status).type("application/json; charset=utf-8").send({error: message});
}

function fail(reply: FastifyReply, logger: Logger, err: unknown): FastifyReply {
    if (err instanceof DownloadError) return sendError(reply, err.status, err.message);
    logger.error({err: (err as Error).message, stack: (err as Error).stack}, "download route failed");
    return sendError(reply, 500, `internal error: ${(err as Error).message}`);
}

function bodyOf(raw: unknown): Body | null {
    return raw != null && typeof raw === "object" && !Array.isArray(raw) ? raw as Body : null;
}

/** `{model: "hf:…"}`, `{model: {repo, quant}}`, or the fields at the top level (`{repo, file}`, `{url}`). */
function startInput(body: Body): unknown {
    const {model, repo, file, quant, url, revision, projector, filename} = body;
    if (model !== undefined && typeof model !== "string") return model;
    const o: Body = {};
    for (const [k, v] of Object.entries({model, repo, file, quant, url, revision, projector, filename})) if (v !== undefined) o[k] = v;
    return o;
}

function isTrue(v: unknown): boolean {
    return v === true || v === "true" || v === "1" || v === 1;
}

/** Ollama's progress line for one file: `pulling <first 12 hex of the digest>` as its CLI draws it. */
function pullLine(f: DownloadJob["files"][number]): Record<string, unknown> {
    const line: Record<string, unknown> = {status: f.sha256 ? `pulling ${f.sha256.slice(0, 12)}` : `pulling ${f.name}`};
    if (f.sha256) line.digest = `sha256:${f.sha256}`;
    if (f.size_bytes != null) line.total = f.size_bytes;
    line.completed = f.downloaded_bytes;
    return line;
}

/**
 * Download routes: `POST /download/start`, `GET /download/status/:id`, `GET /download/list`,
 * `POST /download/cancel/:id` (`?delete=true` or `{"delete":true}` also removes the `.part`),
 * `GET /download/events/:id` (SSE), and Ollama's `POST /api/pull` for `hf.co/org/repo:quant` names.
 * Auth and CORS come from the app's global hooks.
 */
export function registerDownloadRoutes(app: FastifyInstance, deps: DownloadRouteDeps): void {
    const {downloads, logger} = deps;
    downloads.useRescan(deps.rescan);

    app.post("/download/start", async (request, reply) => {
        const body = bodyOf(request.body);
        if (!body) return sendError(reply, 400, `expected a JSON body like {"model":"hf:org/repo:Q4_K_M"}`);
        try {
            const {job, existing} = await downloads.start(startInput(body));
            return reply.code(202).send({id: job.id, target: job.target, total_bytes: job.total_bytes, status: job.status, existing, job});
        } catch (err) {
            return fail(reply, logger, err);
        }
    });

    app.get("/download/list", async () => ({downloads: downloads.list()}));

    app.get<{Params: {id: string}}>("/download/status/:id", async (request, reply) => {
        const job = downloads.get(request.params.id);
        if (!job) return sendError(reply, 404, `no download with id ${request.params.id}`);
        return job;
    });

    app.post<{Params: {id: string}; Querystring: {delete?: string}}>("/download/cancel/:id", async (request, reply) => {
        const body = bodyOf(request.body) ?? {};
        try {
            const job = await downloads.cancel(request.params.id, {deletePartial: isTrue(request.query.delete) || isTrue(body.delete)});
            return job;
        } catch (err) {
            return fail(reply, logger, err);
        }
    });

    app.get<{Params: {id: string}}>("/download/events/:id", async (request, reply) => {
        const id = request.params.id;
        if (!downloads.get(id)) return sendError(reply, 404, `no download with id ${id}`);
        const w = new StreamWriter(reply, "text/event-stream; charset=utf-8");
        let unsubscribe: (() => void) | null = null;
        let finished = false;
        const heartbeat = setInterval(() => w.write(": keep-alive\n\n"), 15_000);
        const stop = (): void => {
            if (finished) return;
            finished = true;
            clearInterval(heartbeat);
            unsubscribe?.();
            w.end();
        };
        w.abort.signal.addEventListener("abort", stop, {once: true});
        const onEvent = (ev: DownloadProgressEvent): void => {
            if (finished) return;
            const terminal = ev.status === "completed" || ev.status === "failed" || ev.status === "cancelled";
            w.sse(ev, terminal ? ev.status : "progress");
            if (terminal) stop();
        };
        unsubscribe = downloads.subscribe(id, onEvent);
        // The first event may already have been terminal, before `unsubscribe` was assigned.
        if (finished) unsubscribe();
        return reply;
    });

    app.post("/api/pull", async (request, reply) => {
        const body = bodyOf(request.body);
        if (!body) return sendError(reply, 400, "missing request body");
        const name = typeof body.model === "string" && body.model !== "" ? body.model : typeof body.name === "string" ? body.name : "";
        if (name === "") return sendError(reply, 400, "model is required");
        let started: {job: DownloadJob; existing: boolean};
        try {
            started = await downloads.start(name, {hfOnly: true});
        } catch (err) {
            if (err instanceof DownloadError && err.code === "bad_reference")
                return sendError(reply, 400, `pull model manifest: ${err.message}. This server pulls from Hugging Face: use hf.co/<org>/<repo>:<quant>`);
            return fail(reply, logger, err);
        }
        const id = started.job.id;
        if (body.stream === false) {
            const done = await downloads.wait(id);
            if (done.status === "completed") return {status: "success"};
            return sendError(reply, done.http_status ?? 500, done.error ?? `download ${done.status}`);
        }

        const w = new StreamWriter(reply, "application/x-ndjson");
        w.ndjson({status: "pulling manifest"});
        let lastIndex = 0;
        let finished = false;
        let unsubscribe: (() => void) | null = null;
        const stop = (): void => {
            if (finished) return;
            finished = true;
            unsubscribe?.();
            w.end();
        };
        const onEvent = (ev: DownloadProgressEvent): void => {
            if (finished) return;
            const job = downloads.get(id);
            if (!job) return stop();
            if (ev.status === "failed" || ev.status === "cancelled") {
                w.ndjson({error: ev.error ?? `download ${ev.status}`});
                return stop();
            }
            // Close the bars of files that finished since the last event.
            for (; lastIndex < ev.file_index && lastIndex < job.files.length; lastIndex++) w.ndjson(pullLine(job.files[lastIndex]!));
            if (ev.status === "completed") {
                for (; lastIndex < job.files.length; lastIndex++) w.ndjson(pullLine(job.files[lastIndex]!));
                w.ndjson({status: "verifying sha256 digest"});
                w.ndjson({status: "writing manifest"});
                w.ndjson({status: "success"});
                return stop();
            }
            const f = job.files[ev.file_index];
            if (f && ev.status !== "queued") w.ndjson(pullLine(f));
        };
        w.abort.signal.addEventListener("abort", () => {
            const wasFinished = finished;
            stop();
            // Like `ollama pull`: a client that goes away stops its pull; the .part stays, so pulling again resumes.
            if (!wasFinished && !started.existing) {
                downloads.cancel(id).catch((err: unknown) => logger.debug({id, err: (err as Error).message}, "cancel after disconnect"));
            }
        }, {once: true});
        unsubscribe = downloads.subscribe(id, onEvent);
        if (finished) unsubscribe();
        return reply;
    });
}

/** The download routes as a plugin of the app. */
export const downloadsApi: FastifyPluginAsync<DownloadRouteDeps> = async (app, deps) => registerDownloadRoutes(app, deps);
