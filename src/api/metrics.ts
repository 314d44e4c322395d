/**
 * `GET /metrics`: the provider in Prometheus text format, behind the API key like every data route (Prometheus
 * sends it with `authorization: {credentials: <key>}`). Counters move with finished requests (the request feed) and
 * with model events (the manager's hook); gauges are read from the runtime at each scrape (metrics-registry.ts).
 *
 * prom-client and its OpenTelemetry dependency (~85 modules, ~1.7 MB of the idle server's RSS) load on the first
 * scrape: until then the events wait in a bounded buffer and are replayed in order, so the first scrape reads what
 * it would have read with the registry there from the start. A full buffer loads the registry without a scrape.
 */
import type {FastifyPluginAsync} from "fastify";
import type {DownloadManager} from "../download/manager.js";
import type {ManagerEvent} from "../runtime/manager.js";
import type {Runtime} from "../runtime/runtime.js";
import type {RequestRecord} from "../server/request-log.js";
import type {ProviderMetrics} from "./metrics-registry.js";

export interface MetricsOptions {
    runtime: Runtime;
    /** Without it the download metrics are left out. */
    downloads?: DownloadManager;
}

/** Events kept before the registry exists; past this many it is loaded, so the buffer never grows without bound. */
export const METRICS_BUFFER_LIMIT = 256;

type MetricsEvent = {request: RequestRecord} | {model: ManagerEvent};

/** The metrics of one server: events buffered until the registry is loaded, then handed to it as they come. */
class LazyMetrics {
    private metrics: ProviderMetrics | null = null;
    private loading: Promise<ProviderMetrics> | null = null;
    private buffer: MetricsEvent[] = [];

    constructor(private readonly runtime: Runtime, private readonly downloads: DownloadManager | undefined) {}

    add(event: MetricsEvent): void {
        if (this.metrics) return LazyMetrics.apply(this.metrics, event);
        this.buffer.push(event);
        if (this.buffer.length >= METRICS_BUFFER_LIMIT) void this.load().catch(() => undefined);
    }

    load(): Promise<ProviderMetrics> {
        this.loading ??= import("./metrics-registry.js").then(({ProviderMetrics}) => {
            const metrics = new ProviderMetrics(this.runtime, this.downloads);
            for (const event of this.buffer) LazyMetrics.apply(metrics, event);
            this.buffer = [];
            this.metrics = metrics;
            return metrics;
        });
        return this.loading;
    }

    private static apply(metrics: ProviderMetrics, event: MetricsEvent): void {
        if ("request" in event) metrics.onRequest(event.request);
        else metrics.onModelEvent(event.model);
    }
}

export const metricsApi: FastifyPluginAsync<MetricsOptions> = async (app, {runtime, downloads}) => {
    const metrics = new LazyMetrics(runtime, downloads);
    const stopRequests = app.requestFeed.subscribe((r) => metrics.add({request: r}));
    const stopEvents = runtime.manager.onEvent((e) => metrics.add({model: e}));
    app.addHook("onClose", async () => {
        stopRequests();
        stopEvents();
    });
    app.get("/metrics", async (_request, reply) => {
        const {registry} = await metrics.load();
        const text = await registry.metrics();
        return reply.type(registry.contentType).send(text);
    });
};
