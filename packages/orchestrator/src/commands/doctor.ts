/**
 * `stillmotion doctor`: the skeleton's round trip. Spawns the trainer, calls Health and
 * GetVersion over gRPC, waits for a telemetry heartbeat over ZeroMQ, and stops the trainer.
 */
import type { Command } from "commander";
import { TrainerProcess } from "../trainer/trainer-process.js";

export interface DoctorResult {
  grpcAddress: string;
  telemetryEndpoint: string;
  trainerVersion: string;
  protocol: string;
  torchVersion: string;
  device: string;
  allocator: string;
  heartbeatSeq: number;
  roundTripMs: number;
}

export async function doctor(): Promise<DoctorResult> {
  const started = performance.now();
  const proc = await TrainerProcess.spawn();
  const rpc = proc.rpc();
  const sub = proc.subscribe(["heartbeat"]);
  try {
    const health = await rpc.health();
    const version = await rpc.getVersion();
    const heartbeat = await sub.next("heartbeat");
    return {
      grpcAddress: proc.grpcAddress,
      telemetryEndpoint: health.telemetryEndpoint,
      trainerVersion: version.trainerVersion,
      protocol: version.protocol,
      torchVersion: version.torchVersion,
      device: version.device,
      allocator: version.allocator,
      heartbeatSeq: heartbeat.event.seq,
      roundTripMs: Math.round(performance.now() - started),
    };
  } finally {
    sub.close();
    rpc.close();
    await proc.stop();
  }
}

export function register(program: Command): void {
  program
    .command("doctor")
    .description("check the toolchain: spawn the trainer, call it over gRPC, hear its ZeroMQ telemetry")
    .addHelpText("after", "\nExample:\n  $ stillmotion doctor\n  $ stillmotion doctor --json")
    .option("--json", "print one JSON object instead of text")
    .action(async (opts: { json?: boolean }) => {
      const result = await doctor();
      if (opts.json) console.log(JSON.stringify(result));
      else {
        console.log(
          `trainer ${result.trainerVersion} (${result.protocol}) on ${result.device}, torch ${result.torchVersion}, allocator ${result.allocator}`,
        );
        console.log(
          `gRPC ${result.grpcAddress}, telemetry ${result.telemetryEndpoint}, heartbeat #${result.heartbeatSeq}`,
        );
        console.log(`round trip OK in ${result.roundTripMs} ms`);
      }
    });
}
