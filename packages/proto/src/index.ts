// The stillmotion.trainer.v1 contract, generated from proto/ by `npm run generate`.
export * as telemetry from "./gen/stillmotion/trainer/v1/telemetry.js";
export * as trainer from "./gen/stillmotion/trainer/v1/trainer.js";
