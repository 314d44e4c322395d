/**
 * The dashboard at /ui: its files (public, see assets.ts) and its data routes under /ui/api (behind the key):
 * live events and the log stream. Everything else it shows comes from the public API, with the same key.
 */
import type {FastifyPluginAsync} from "fastify";
import type {Logger} from "../../log/logger.js";
import type {Runtime} from "../../runtime/runtime.js";
import {ActivityLog} from "./activity.js";
import {registerEventsRoute} from "./events.js";
import {registerLogsRoute} from "./logs.js";
import {EventStreams} from "./sse.js";

export {assetsDir, installUiAssets} from "./assets.js";

export interface UiOptions {
    runtime: Runtime;
    logger: Logger;
}

export const uiApi: FastifyPluginAsync<UiOptions> = async (app, {runtime, logger}) => {
    const activity = new ActivityLog();
    const streams = new EventStreams();
    const stopFeed = app.requestFeed.subscribe((record) => activity.add(record));
    // before the server stops listening: open streams would otherwise hold its close for the whole grace period
    app.addHook("preClose", async () => {
        streams.closeAll();
    });
    app.addHook("onClose", async () => {
        stopFeed();
    });
    registerEventsRoute(app, {runtime, activity, streams});
    registerLogsRoute(app, {config: runtime.config, logger, streams});
};
