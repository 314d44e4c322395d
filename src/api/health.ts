import type {FastifyInstance} from "fastify";
import type {Provider} from "../runtime/provider.js";
import {PROVIDER_VERSION} from "../version.js";

/** `GET /health` without auth: "alive but sick" (degraded, with reasons) is different from dead. */
export function registerHealthRoutes(app: FastifyInstance, provider: Provider, testHooks: boolean): void {
    let hang = false;
    app.get("/health", async () => {
        if (hang) await new Promise(() => undefined);
        const reasons = provider.manager.healthProblems();
        return {
            status: reasons.length > 0 ? "degraded" : "ok",
            version: PROVIDER_VERSION,
            uptime_seconds: Math.round((Date.now() - provider.startedAt) / 1000),
            models_loaded: provider.manager.resident().map((r) => r.entry.name),
            runners: provider.manager.runners(),
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
}
