// Public API of @stillmotion/orchestrator (the CLI is bin.ts).
export { buildProgram, main } from "./cli.js";
export { doctor } from "./commands/doctor.js";
export { loadRunConfig, type RunConfig } from "./config/run-config.js";
export * from "./dataset/index.js";
export { Code, StillMotionError } from "./errors.js";
export { createLogger, silentLogger } from "./logger.js";
export { type RunOutcome, superviseRun } from "./runs/supervisor.js";
export { TrainerRpc } from "./trainer/grpc-client.js";
export { TelemetrySubscriber } from "./trainer/telemetry-subscriber.js";
export { TrainerProcess } from "./trainer/trainer-process.js";
