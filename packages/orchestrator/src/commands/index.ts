// Every `stillmotion` command, one module each; cli.ts registers them in this order.
import type { Command } from "commander";
import * as doctor from "./doctor.js";
import * as train from "./train.js";

export const commands: Array<{ register(program: Command): void }> = [doctor, train];
