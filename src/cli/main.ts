#!/usr/bin/env node
import { Command, Option } from "commander";
import { detectLocale, isClawbridgeError, isLocale, type Locale } from "../core/index.js";
import { defaultCommand } from "./commands/default.js";
import { demoCommand } from "./commands/demo.js";
import { doctorCommand } from "./commands/doctor.js";
import { runCommand } from "./commands/run.js";
import { sendCommand } from "./commands/send.js";
import { startCommand } from "./commands/start.js";
import { deadLettersCommand, resetCommand, retryCommand } from "./commands/state.js";
import { tailCommand } from "./commands/tail.js";
import { createContext, packageVersion, type CliContext } from "./context.js";

/** `--lang` is read before commander runs, so that `--help` itself comes out in that language. */
function localeFromArgv(argv: readonly string[]): Locale {
  const index = argv.findIndex((arg) => arg === "--lang" || arg.startsWith("--lang="));
  const value =
    index < 0 ? undefined : argv[index]!.includes("=") ? argv[index]!.split("=")[1] : argv[index + 1];
  return detectLocale(process.env, isLocale(value) ? value : value?.startsWith("zh") ? "zh-CN" : value);
}

function buildProgram(ctx: CliContext, setExit: (code: number) => void): Command {
  const { t } = ctx;
  const program = new Command("clawbridge")
    .description(t("programDescription"))
    .version(packageVersion(), "-V, --version", t("optVersion"))
    .helpOption("-h, --help", t("optHelp"))
    .helpCommand(false)
    .addOption(new Option("--lang <locale>", t("optLang")).choices(["zh-CN", "en"]))
    .option("--config <file>", t("optConfig"))
    // Options after a command name belong to that command (`send --config F`).
    .enablePositionalOptions()
    .showHelpAfterError()
    .action(async (options: { config?: string }) => setExit(await defaultCommand(ctx, options)));

  program
    .command("send")
    .description(t("sendDescription"))
    .requiredOption("--from <sender>", t("sendFrom"))
    .requiredOption("--to <node>", t("sendTo"))
    .option("--type <type>", t("sendType"), "message")
    .option("--reply-to <id>", t("sendReplyTo"))
    .option("--shared <dir>", t("optShared"))
    .option("--config <file>", t("optConfig"))
    .argument("<text>", t("sendText"))
    .action(async (text: string, options) => sendCommand(ctx, text, options));

  program
    .command("run")
    .description(t("runDescription"))
    .option("--from <node>", t("runFrom"))
    .option("--shared <dir>", t("optShared"))
    .option("--config <file>", t("optConfig"))
    .argument("<target>", t("runTarget"))
    .argument("<prompt>", t("runPrompt"))
    .action(async (target: string, prompt: string, options) => runCommand(ctx, target, prompt, options));

  program
    .command("tail")
    .description(t("tailDescription"))
    .option("--shared <dir>", t("optShared"))
    .option("--config <file>", t("optConfig"))
    .option("--from-start", t("tailFromStart"))
    .option("--json", t("optJson"))
    .action(async (options) => tailCommand(ctx, options));

  program
    .command("start")
    .description(t("startDescription"))
    .option("--config <file>", t("optConfig"))
    .option("--replay", t("startReplay"))
    .action(async (options) => setExit(await startCommand(ctx, options)));

  program
    .command("demo")
    .description(t("demoDescription"))
    .option("--port <port>", t("demoPort"))
    .option("--shared <dir>", t("demoShared"))
    .option("--state <dir>", t("demoState"))
    .option("--open", t("demoOpen"))
    .action(async (options) => setExit(await demoCommand(ctx, options)));

  program
    .command("doctor")
    .description(t("doctorDescription"))
    .option("--config <file>", t("optConfig"))
    .option("--json", t("optJson"))
    .addHelpText("after", t("doctorExitCodes"))
    .action(async (options) => setExit(await doctorCommand(ctx, options)));

  const state = program.command("state").description(t("stateDescription"));
  state
    .command("dead-letters")
    .description(t("deadLettersDescription"))
    .option("--config <file>", t("optConfig"))
    .option("--state <dir>", t("optState"))
    .option("--json", t("optJson"))
    .action(async (options) => setExit(await deadLettersCommand(ctx, options)));
  state
    .command("retry")
    .description(t("retryDescription"))
    .argument("<id>", t("retryId"))
    .option("--config <file>", t("optConfig"))
    .option("--state <dir>", t("optState"))
    .action(async (id: string, options) => setExit(await retryCommand(ctx, id, options)));
  state
    .command("reset")
    .description(t("resetDescription"))
    .option("--yes", t("resetYes"))
    .option("--config <file>", t("optConfig"))
    .option("--state <dir>", t("optState"))
    .addHelpText("after", t("resetHelp"))
    .action(async (options) => setExit(await resetCommand(ctx, options)));

  for (const command of [...program.commands, ...state.commands]) {
    command.addOption(new Option("--lang <locale>", t("optLang")).choices(["zh-CN", "en"]));
    command.helpOption("-h, --help", t("optHelp"));
    command.showHelpAfterError();
  }
  return program;
}

async function main(argv: string[]): Promise<number> {
  const ctx = createContext(localeFromArgv(argv));
  let exitCode = 0;
  const program = buildProgram(ctx, (code) => (exitCode = code));
  try {
    await program.parseAsync(argv);
    return exitCode;
  } catch (error) {
    // People get the message and the fix, never a stack trace (CLAWBRIDGE_DEBUG=1 shows it).
    if (isClawbridgeError(error)) {
      const { message, fix } = error.render(ctx.locale);
      ctx.err(`${ctx.t("errorPrefix")}: ${message}`);
      if (fix) ctx.err(`${ctx.t("fixPrefix")}: ${fix}`);
      if (process.env.CLAWBRIDGE_DEBUG) ctx.err(String(error.stack));
      return error.code === "CB_USAGE" ? 2 : 1;
    }
    ctx.err(`${ctx.t("errorPrefix")}: ${error instanceof Error ? error.message : String(error)}`);
    if (process.env.CLAWBRIDGE_DEBUG) ctx.err(String((error as Error).stack));
    return 1;
  }
}

process.exitCode = await main(process.argv);
