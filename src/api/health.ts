import type {FastifyPluginAsync} from "fastify";
import type {Runtime} from "../runtime/runtime.js";
import {PROVIDER_VERSION} from "../version.js";

/** `GET /health` without auth: "alive but sick" (degraded, with reasons) is different from dead. */
export const healthApi: FastifyPluginAsync<{runtime: Runtime; testHooks: boolean}> = async (app, {runtime, testHooks}) => {
    let hang = false;
    app.get("/health", async () => {
        if (hang) await new Promise(() => undefined);
        const reasons = runtime.manager.healthProblems();
        return {
            status: reasons.length > 0 ? "degraded" : "ok",
            version: PROVIDER_VERSION,
            uptime_seconds: Math.round((Date.now() - runtime.startedAt) / 1000),
            models_loaded: runtime.manager.resident().map((r) => r.entry.name),
            runners: runtime.manager.runners(),
            reasons
        };
    });
    if (testHooks) {
        // Test-only: lets the watchdog's tests simulate a server that is alive but hangs.
        app.post("/__test/hang-health", async () => {
            hang = true;
            return {hang: true};
        });
    }
};
