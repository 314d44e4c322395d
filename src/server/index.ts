/** The HTTP server: Fastify with one body parser, auth and CORS, error shapes, the request log, start and stop. */
export {buildApp, type AppOptions} from "./app.js";
export {errorStatus, sendError} from "./errors.js";
export {checkKeySafety, startServer, type RunningServer, type ServeOptions} from "./serve.js";
