/**
 * The provider's Prometheus metrics over prom-client: counters and histograms fed one finished request or model
 * event at a time, gauges read from the runtime at each scrape. Loaded by metrics.ts on the first scrape (or once
 * its buffer of events fills), so an idle server does not hold prom-client.
 */
import {Counter, Gauge, Histogram, Registry} from "prom-client";
import type {DownloadManager} from "../download/manager.js";
import type {ManagerEvent, UnloadReason} from "../runtime/manager.js";
import type {ModelState} from "../runtime/model-state.js";
import type {Runtime} from "../runtime/runtime.js";
import type {RequestRecord} from "../server/request-log.js";
import {PROVIDER_VERSION} from "../version.js";

/** Label values for why a model was unloaded; evicted and memory_pressure are the evictions. */
const UNLOAD_REASONS: Record<UnloadReason, string> = {
    "explicit unload": "explicit",
    "idle_unload_seconds reached": "idle",
    "evicted under ram_threshold_mb": "evicted",
    "memory pressure": "memory_pressure",
    "context growth": "context_growth"
};

const STATES: readonly ModelState[] = ["unloaded", "loading", "loaded", "unloading", "failed"];

/** Requests with no matching route would otherwise add one series per path a scanner tries. */
const UNMATCHED_ROUTE = "unmatched";

/** The dashboard's files are answered without a route (see api/ui/assets.ts); they share one series. */
function isDashboardFile(path: string): boolean {
    return path === "/ui" || path.startsWith("/ui/");
}

const SECONDS_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300];
const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60];

/** Every metric of one server, in a registry of its own (several servers may share a process, as tests do). */
export class ProviderMetrics {
    readonly registry = new Registry();
    private readonly requests: Counter<"route" | "model" | "status">;
    private readonly duration: Histogram<"route" | "model">;
    private readonly ttft: Histogram<"model">;
    private readonly queueWait: Histogram<"model">;
    private readonly generated: Counter<"model">;
    private readonly promptTotal: Counter<"model">;
    private readonly promptEvaluated: Counter<"model">;
    private readonly promptCached: Counter<"model">;
    private readonly loads: Counter<"model">;
    private readonly loadFailures: Counter<"model">;
    private readonly loadSeconds: Histogram<"model">;
    private readonly unloads: Counter<"model" | "reason">;
    private readonly crashes: Counter<"model">;
    /** Bytes each download had received at the last scrape, so the counter only ever adds what is new. */
    private readonly downloadSeen = new Map<string, number>();

    constructor(private readonly runtime: Runtime, private readonly downloads?: DownloadManager) {
        const registers = [this.registry];
        this.requests = new Counter({name: "zombiecoder_requests_total", help: "Finished HTTP requests by route pattern, model and status.", labelNames: ["route", "model", "status"], registers});
        this.duration = new Histogram({name: "zombiecoder_request_duration_seconds", help: "Time from a request's arrival to its last byte.", labelNames: ["route", "model"], buckets: SECONDS_BUCKETS, registers});
        this.ttft = new Histogram({name: "zombiecoder_time_to_first_token_seconds", help: "Time from a request's arrival to the model's first generated text.", labelNames: ["model"], buckets: TTFT_BUCKETS, registers});
        this.queueWait = new Histogram({name: "zombiecoder_queue_wait_seconds", help: "Time a job waited for a free sequence, not counting the model's load.", labelNames: ["model"], buckets: SECONDS_BUCKETS, registers});
        this.generated = new Counter({name: "zombiecoder_generated_tokens_total", help: "Tokens generated.", labelNames: ["model"], registers});
        this.promptTotal = new Counter({name: "zombiecoder_prompt_tokens_total", help: "Prompt tokens received (evaluated plus reused from the cache).", labelNames: ["model"], registers});
        this.promptEvaluated = new Counter({name: "zombiecoder_prompt_tokens_evaluated_total", help: "Prompt tokens the model had to evaluate.", labelNames: ["model"], registers});
        this.promptCached = new Counter({name: "zombiecoder_prompt_tokens_cached_total", help: "Prompt tokens reused from a sequence's cached prefix.", labelNames: ["model"], registers});
        this.loads = new Counter({name: "zombiecoder_model_loads_total", help: "Models loaded into a runner.", labelNames: ["model"], registers});
        this.loadFailures = new Counter({name: "zombiecoder_model_load_failures_total", help: "Loads that failed.", labelNames: ["model"], registers});
        this.loadSeconds = new Histogram({name: "zombiecoder_model_load_duration_seconds", help: "Time a successful load took.", labelNames: ["model"], buckets: SECONDS_BUCKETS, registers});
        this.unloads = new Counter({name: "zombiecoder_model_unloads_total", help: "Runners stopped on purpose, by reason (explicit, idle, evicted, memory_pressure, context_growth).", labelNames: ["model", "reason"], registers});
        this.crashes = new Counter({name: "zombiecoder_runner_crashes_total", help: "Runners that died on their own.", labelNames: ["model"], registers});
        this.defineGauges(registers);
    }

    /** Gauges read from the runtime when Prometheus scrapes: nothing to keep in step between scrapes. */
    private defineGauges(registers: Registry[]): void {
        const runtime = this.runtime;
        const byModel = () => new Map(runtime.manager.status().map((s) => [s.name, s]));
        new Gauge({name: "zombiecoder_build_info", help: "The provider's version.", labelNames: ["version"], registers, collect() {
            this.set({version: PROVIDER_VERSION}, 1);
        }});
        new Gauge({name: "zombiecoder_model_state", help: "1 for each installed model's current state, 0 for the others.", labelNames: ["model", "state"], registers, collect() {
            this.reset();
            for (const m of runtime.registry.models()) {
                if (m.status === "invalid") continue;
                const state = runtime.manager.stateOf(m.name);
                for (const s of STATES) this.set({model: m.name, state: s}, s === state ? 1 : 0);
            }
        }});
        new Gauge({name: "zombiecoder_resident_models", help: "Models with a runner (loading, loaded or unloading).", registers, collect() {
            this.set(runtime.manager.status().filter((s) => s.state === "loading" || s.state === "loaded" || s.state === "unloading").length);
        }});
        new Gauge({name: "zombiecoder_model_memory_bytes", help: "What each resident model counts against the memory budget (the larger of estimate and measured peak).", labelNames: ["model"], registers, collect() {
            this.reset();
            for (const s of byModel().values()) if (s.budget_bytes > 0) this.set({model: s.name}, s.budget_bytes);
        }});
        new Gauge({name: "zombiecoder_model_rss_bytes", help: "Peak resident memory measured for each model's runner.", labelNames: ["model"], registers, collect() {
            this.reset();
            for (const s of byModel().values()) if (s.state === "loaded" && s.measured_rss_bytes > 0) this.set({model: s.name}, s.measured_rss_bytes);
        }});
        new Gauge({name: "zombiecoder_queued_jobs", help: "Jobs waiting for a free sequence (the queue depth), by model.", labelNames: ["model"], registers, collect() {
            this.reset();
            for (const s of byModel().values()) this.set({model: s.name}, s.queued);
        }});
        new Gauge({name: "zombiecoder_in_flight_jobs", help: "Jobs holding a sequence, by model.", labelNames: ["model"], registers, collect() {
            this.reset();
            for (const s of byModel().values()) this.set({model: s.name}, s.in_flight);
        }});
        const memory = (name: string, help: string, read: (m: ReturnType<Runtime["manager"]["memoryBudget"]>) => number) =>
            new Gauge({name, help, registers, collect() {
                this.set(read(runtime.manager.memoryBudget()));
            }});
        memory("zombiecoder_memory_budget_bytes", "The budget models must fit in (ram_threshold_mb; 0 = no budget).", (m) => m.threshold_bytes);
        memory("zombiecoder_memory_used_bytes", "What the resident models count against the budget.", (m) => m.used_bytes);
        memory("zombiecoder_memory_available_bytes", "Memory the machine has available.", (m) => m.system_available_bytes);
        memory("zombiecoder_memory_total_bytes", "The machine's memory.", (m) => m.system_total_bytes);
        new Gauge({name: "zombiecoder_server_rss_bytes", help: "Resident memory of the server process (runners not included).", registers, collect() {
            this.set(process.memoryUsage().rss);
        }});
        if (this.downloads) this.defineDownloadMetrics(this.downloads, registers);
    }

    private defineDownloadMetrics(downloads: DownloadManager, registers: Registry[]): void {
        const seen = this.downloadSeen;
        new Counter({name: "zombiecoder_download_bytes_total", help: "Bytes received by model downloads since the server started.", registers, collect() {
            for (const job of downloads.list()) {
                const received = Math.max(0, job.downloaded_bytes - job.resumed_from_bytes);
                const before = seen.get(job.id) ?? 0;
                // a job that started again counts from its new starting point
                if (received > before) this.inc(received - before);
                seen.set(job.id, received);
            }
        }});
        new Gauge({name: "zombiecoder_downloads", help: "Download jobs by status.", labelNames: ["status"], registers, collect() {
            this.reset();
            const counts = new Map<string, number>();
            for (const job of downloads.list()) counts.set(job.status, (counts.get(job.status) ?? 0) + 1);
            for (const [status, n] of counts) this.set({status}, n);
        }});
    }

    /** One finished request, from the request feed. */
    onRequest(r: RequestRecord): void {
        const model = r.model ?? "";
        const route = r.matched ? r.route : isDashboardFile(r.route) ? "/ui/*" : UNMATCHED_ROUTE;
        this.requests.inc({route, model, status: String(r.status)});
        this.duration.observe({route, model}, r.ms / 1000);
        if (!r.model) return;
        if (r.first_token_ms != null) this.ttft.observe({model}, r.first_token_ms / 1000);
        if (r.queue_ms != null) this.queueWait.observe({model}, r.queue_ms / 1000);
        if (r.completion_tokens) this.generated.inc({model}, r.completion_tokens);
        if (r.prompt_tokens) this.promptTotal.inc({model}, r.prompt_tokens);
        if (r.prompt_eval_tokens) this.promptEvaluated.inc({model}, r.prompt_eval_tokens);
        if (r.cached_tokens) this.promptCached.inc({model}, r.cached_tokens);
    }

    /** One model event, from the manager's hook. */
    onModelEvent(e: ManagerEvent): void {
        switch (e.type) {
            case "loaded":
                this.loads.inc({model: e.model});
                this.loadSeconds.observe({model: e.model}, e.load_ms / 1000);
                break;
            case "load_failed":
                this.loadFailures.inc({model: e.model});
                break;
            case "unloaded":
                this.unloads.inc({model: e.model, reason: UNLOAD_REASONS[e.reason]});
                break;
            case "crashed":
                this.crashes.inc({model: e.model});
                break;
            default:
                break;
        }
    }
}
