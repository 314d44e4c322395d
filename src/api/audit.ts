import type {FastifyInstance, FastifyPluginAsync, FastifyReply} from "fastify";
import {AuditError, buildSafeToDeleteList, deleteApproved, type SafeToDeleteReport} from "../audit/safe-to-delete.js";
import type {ProviderConfig} from "../config/load.js";
import type {DownloadManager} from "../download/manager.js";
import type {Logger} from "../log/logger.js";
import type {ModelEntry} from "../registry/types.js";

export interface AuditRouteDeps {
    config: ProviderConfig;
    logger: Logger;
    listModels: () => Promise<ModelEntry[]>;
    rescan: () => Promise<unknown>;
    /** When given, partial files of running downloads are never listed as orphans. */
    downloads?: Pick<DownloadManager, "activePartPaths">;
}

function sendError(reply: FastifyReply, status: number, message: string): FastifyReply {
    return reply.code(status).type("application/json; charset=utf-8").send({error: message});
}

const MAX_REPORTS = 8;

/**
 * `GET /models/safe-to-delete`: the candidates with reasons, advice for other tools' stores, and a confirmation
 * token. `POST /models/delete {"paths":[...], "token":"..."}`: deletes exactly those candidates of that listing,
 * then rescans. A token is single-use and expires (15 minutes); any check failing deletes nothing.
 */
export function registerAuditRoutes(app: FastifyInstance, deps: AuditRouteDeps): void {
    const {config, logger} = deps;
    // Listings by token: the delete must act on the list the user saw, not on a fresh one.
    const reports = new Map<string, SafeToDeleteReport>();
    let building: Promise<SafeToDeleteReport> | null = null;

    const prune = (): void => {
        const now = Date.now();
        for (const [t, r] of reports) if (Date.parse(r.expires_at) <= now) reports.delete(t);
        while (reports.size > MAX_REPORTS) reports.delete(reports.keys().next().value as string);
    };

    app.get("/models/safe-to-delete", async (_request, reply) => {
        try {
            // Concurrent requests share one audit: hashing the same files twice at once helps nobody.
            building ??= (async () => buildSafeToDeleteList(config, await deps.listModels(), {
                logger, activeParts: deps.downloads?.activePartPaths()
            }))().finally(() => {
                building = null;
            });
            const report = await building;
            reports.set(report.token, report);
            prune();
            return report;
        } catch (err) {
            logger.error({err: (err as Error).message}, "safe-to-delete listing failed");
            return sendError(reply, 500, `could not build the safe-to-delete list: ${(err as Error).message}`);
        }
    });

    app.post("/models/delete", async (request, reply) => {
        const body = request.body != null && typeof request.body === "object" && !Array.isArray(request.body) ? request.body as Record<string, unknown> : null;
        if (!body) return sendError(reply, 400, `expected {"paths":[...], "token":"..."}`);
        const token = body.token;
        if (typeof token !== "string" || token === "") return sendError(reply, 400, "a confirmation token is required: GET /models/safe-to-delete first");
        prune();
        const report = reports.get(token);
        if (!report) return sendError(reply, 403, "unknown or expired confirmation token; GET /models/safe-to-delete again");
        try {
            const result = await deleteApproved(config, report.candidates, body.paths, token, {logger, activeParts: deps.downloads?.activePartPaths()});
            reports.delete(token);
            if (result.deleted.length > 0) {
                try {
                    await deps.rescan();
                } catch (err) {
                    logger.warn({err: (err as Error).message}, "rescan after deletion failed");
                }
            }
            return result;
        } catch (err) {
            if (err instanceof AuditError) return sendError(reply, err.status, err.message);
            logger.error({err: (err as Error).message}, "delete failed");
            return sendError(reply, 500, `delete failed: ${(err as Error).message}`);
        }
    });
}

/** The audit routes as a plugin of the app. */
export const auditApi: FastifyPluginAsync<AuditRouteDeps> = async (app, deps) => registerAuditRoutes(app, deps);
