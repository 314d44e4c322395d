/**
 * `GET /ui/api/events`: what the dashboard shows live, as server-sent events. `hello` first (the activity kept so
 * far), then `request` for each finished request and `model` for each model event (state changes, loads, unloads
 * with their reason, crashes, pins).
 */
import type {FastifyInstance} from "fastify";
import type {Runtime} from "../../runtime/runtime.js";
import {PROVIDER_VERSION} from "../../version.js";
import type {ActivityLog} from "./activity.js";
import type {EventStreams} from "./sse.js";

export function registerEventsRoute(app: FastifyInstance, deps: {runtime: Runtime; activity: ActivityLog; streams: EventStreams}): void {
    const {runtime, activity, streams} = deps;
    app.get("/ui/api/events", async (_request, reply) => {
        const stream = streams.start(reply);
        stream.send("hello", {version: PROVIDER_VERSION, started_at: new Date(runtime.startedAt).toISOString(), activity: activity.recent()});
        const stopActivity = activity.subscribe((record) => stream.send("request", record));
        const stopModels = runtime.manager.onEvent((event) => stream.send("model", event));
        stream.onEnd(() => {
            stopActivity();
            stopModels();
        });
        return reply;
    });
}
