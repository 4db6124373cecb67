import { Command, CommanderError, Option } from 'commander';
import { classifyAwsError } from '../aws/errors.js';
import { SETTINGS } from '../config/schema.js';
import { AuthecsError, EXIT_CODES } from '../errors.js';
import { Reporter } from '../report/reporter.js';
import { COMMANDS, type CommandDefinition } from './registry.js';
import { createReporter, type GlobalOptions, type Io } from './io.js';

const GLOBAL_SETTINGS = ['region', 'profile', 'endpointUrl', 'stateFile', 'cluster', 'waitTimeoutMinutes'] as const;

const EXIT_CODE_HELP = `\nExit codes: ${Object.entries(EXIT_CODES)
  .map(([name, code]) => `${code} ${name}`)
  .join(', ')} (see README).`;

export function buildProgram(io: Io, run: (definition: CommandDefinition, command: Command) => Promise<void>): Command {
  const program = new Command('authecs')
    .description('Put a container app on Amazon ECS behind an ALB that signs every visitor in with Amazon Cognito.')
    .version(process.env.npm_package_version ?? '0.1.0', '-V, --version')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride()
    .configureOutput({
      writeOut: (text) => io.stdout.write(text),
      writeErr: (text) => io.stderr.write(text),
    })
    .addHelpText('after', EXIT_CODE_HELP);

  for (const key of GLOBAL_SETTINGS) {
    const setting = SETTINGS.find((candidate) => candidate.key === key)!;
    const env = setting.env.length ? ` [env: ${setting.env.join(', ')}]` : '';
    const defaultValue = setting.default?.({});
    program.addOption(new Option(setting.flag!, `${setting.description}${defaultValue === undefined ? '' : ` (default: ${String(defaultValue)})`}${env}`));
  }
  program
    .option('--json', 'print one JSON document on stdout; progress goes to stderr as JSON lines')
    .option('-q, --quiet', 'print only the result and errors')
    .option('-v, --verbose', 'also show every AWS call')
    .option('--force-unlock', "take the state's lock over from a run that is gone (a cancelled CI job, a dead machine): up, down, deploy, recover");

  const register = (parent: Command, definition: CommandDefinition) => {
    const command = parent.command(definition.name).description(definition.summary).exitOverride();
    command.configureOutput({ writeOut: (text) => io.stdout.write(text), writeErr: (text) => io.stderr.write(text) });
    definition.configure(command);
    if (definition.subcommands?.length) {
      for (const sub of definition.subcommands) register(command, sub);
    } else {
      // commander passes the declared arguments first, then the options, then the command itself.
      command.action(async (...args: unknown[]) => run(definition, args[args.length - 1] as Command));
    }
  };
  for (const definition of COMMANDS) register(program, definition);
  return program;
}

/** How long a graceful stop may wait for the calls in flight before the CLI quits anyway. */
const GRACEFUL_STOP_SECONDS = 30;

/** Runs the CLI and resolves to the exit code. Nothing here throws; every error is reported. */
export async function main(argv: string[], io: Io): Promise<number> {
  let exitCode = 0;
  let reporter: Reporter = createReporter({}, io);
  const cleanups: (() => void)[] = [];
  const stops: (() => boolean)[] = [];
  let running: CommandDefinition | undefined;
  const interrupt = (signal: NodeJS.Signals) => {
    // First signal while a changing call is in flight: stop at the next AWS call or wait, once it is recorded.
    const graceful = stops.splice(0).map((stop) => stop()).some(Boolean);
    if (graceful) {
      reporter.warn(`${signal}: stopping once the AWS calls in flight have answered and are recorded (press Ctrl-C again to quit at once).`);
      process.once('SIGINT', interrupt);
      process.once('SIGTERM', interrupt);
      setTimeout(() => interrupt(signal), GRACEFUL_STOP_SECONDS * 1000).unref();
      return;
    }
    for (const cleanup of cleanups.splice(0)) cleanup();
    // The live task list hides the cursor while it draws; give it back.
    if (io.stderr.isTTY) io.stderr.write('\u001b[?25h\n');
    reporter.abandonLiveView();
    reporter.error(
      running?.readOnly
        ? new AuthecsError(`Stopped by ${signal}; nothing was changed`, { code: 'INTERRUPTED', exit: 'interrupted' })
        : new AuthecsError(`Interrupted by ${signal}. The state file is consistent`, {
            code: 'INTERRUPTED',
            exit: 'interrupted',
            hint: 'Run the same command again to carry on where it stopped.',
          }),
    );
    process.exit(EXIT_CODES.interrupted);
  };
  process.once('SIGINT', interrupt);
  process.once('SIGTERM', interrupt);

  const program = buildProgram(io, async (definition, command) => {
    const options = command.optsWithGlobals() as GlobalOptions;
    reporter = createReporter(options, io);
    running = definition;
    exitCode = await definition.run({ command, reporter, io, onInterrupt: (cleanup) => cleanups.push(cleanup), onStop: (stop) => stops.push(stop) });
  });

  try {
    await program.parseAsync(argv, { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version succeed; help shown because a subcommand is missing is a usage error.
      if (error.code === 'commander.helpDisplayed' || error.code === 'commander.version') return 0;
      // commander already printed its message; the exit code is ours.
      return EXIT_CODES.usage;
    }
    const classified = classifyAwsError(error);
    reporter.error(classified);
    if (classified.exit === 'internal' && error instanceof Error && error.stack && io.env.AUTHECS_DEBUG) io.stderr.write(`${error.stack}\n`);
    exitCode = classified.exitCode;
  } finally {
    process.removeListener('SIGINT', interrupt);
    process.removeListener('SIGTERM', interrupt);
  }
  if (argv.length === 0) {
    program.outputHelp();
    return EXIT_CODES.usage;
  }
  return exitCode;
}
