#!/usr/bin/env node
/** Process entry: the only place that reads process.argv and process.env. */
import { runCli } from "./cli/cli.js";

process.exitCode = await runCli(process.argv, process.env);
