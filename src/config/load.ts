import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseEnv } from 'node:util';
import { ALLOWED_GROUPS_VARIABLE, configSchema, isSticky, SECRET_ARN, SETTINGS, type Config, type ConfigKey, type SettingDefinition } from './schema.js';
import { AuthecsError, configError } from '../errors.js';

export type SettingSource = 'flag' | 'env' | '.env' | 'state' | 'default';

export interface ConfigInput {
  /** Only the flags the user actually gave, keyed by ConfigKey. */
  flags: Partial<Record<ConfigKey, unknown>>;
  env: NodeJS.ProcessEnv;
  cwd: string;
  /** The settings chosen on earlier runs, from the state file: they stick unless overridden. */
  recorded?: Record<string, unknown>;
}

export interface ResolvedSettings {
  values: Partial<Record<ConfigKey, unknown>>;
  sources: Partial<Record<ConfigKey, { source: SettingSource; name: string }>>;
}

/** The settings every command needs; `up` needs the full Config. */
export type BaseConfig = Pick<Config, 'cluster' | 'waitTimeoutMinutes'> &
  Partial<Pick<Config, 'region' | 'profile' | 'endpointUrl' | 'stateFile'>>;

export function readDotEnv(cwd: string): Record<string, string> {
  const path = join(cwd, '.env');
  if (!existsSync(path)) return {};
  try {
    return parseEnv(readFileSync(path, 'utf8')) as Record<string, string>;
  } catch (error) {
    throw new AuthecsError(`Cannot read ${path}: ${(error as Error).message}`, {
      code: 'DOTENV_UNREADABLE',
      exit: 'usage',
      hint: 'Fix or remove the .env file; see .env.example for its format.',
    });
  }
}

function fromEnvironment(setting: SettingDefinition, env: Record<string, string | undefined>): { value: unknown; name: string } | undefined {
  if (setting.kind === 'list' && setting.env.length > 1) {
    const [first, second] = setting.env;
    const values = [env[first!], env[second!]].filter((value): value is string => Boolean(value && value.trim()));
    if (values.length === 0) return undefined;
    return { value: values.map((value) => value.trim()), name: setting.env.join(' and ') };
  }
  for (const name of setting.env) {
    const raw = env[name];
    if (raw !== undefined && raw.trim() !== '') return { value: raw.trim(), name };
  }
  return undefined;
}

function coerce(setting: SettingDefinition, value: unknown, origin: string): unknown {
  if (setting.kind === 'boolean' && typeof value === 'string') {
    const lowered = value.toLowerCase();
    if (['1', 'true', 'yes', 'on'].includes(lowered)) return true;
    if (['0', 'false', 'no', 'off'].includes(lowered)) return false;
    throw configError(origin, `"${value}" is not a boolean`, 'Use true or false.');
  }
  if (setting.kind === 'list') {
    // --no-public-path clears a repeatable list; each repeated flag may itself be a comma list.
    if (value === false) return [];
    const parts = typeof value === 'string' ? [value] : Array.isArray(value) && setting.repeatable ? (value as unknown[]).map(String) : undefined;
    if (parts) {
      return parts
        .flatMap((part) => part.split(','))
        .map((part) => part.trim())
        .filter(Boolean);
    }
  }
  if (setting.kind === 'map') return mapEntries(value, origin);
  return value;
}

/** KEY=VALUE entries (a repeated flag, or a comma-separated variable) as an object; `--no-env` (false) clears. */
function mapEntries(value: unknown, origin: string): unknown {
  if (value === false) return {};
  const entries = typeof value === 'string' ? value.split(',').filter((entry) => entry.trim() !== '') : value;
  if (!Array.isArray(entries)) return value;
  const map: Record<string, string> = {};
  for (const entry of entries as string[]) {
    const equals = entry.indexOf('=');
    if (equals <= 0) {
      throw configError(origin, `"${entry}" is not KEY=VALUE`, `Write it as NAME=value, e.g. ${origin.split(' ')[0]} LOG_LEVEL=debug.`);
    }
    map[entry.slice(0, equals).trim()] = entry.slice(equals + 1);
  }
  return map;
}

/** The dotenv file --app-env-file names: its entries under this run's --env entries. */
function readEnvFile(path: string, cwd: string, origin: string): Record<string, string> {
  const full = resolve(cwd, path);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new AuthecsError(`Cannot read the env file ${full} (${origin}): ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`, {
      code: 'ENV_FILE_UNREADABLE',
      exit: 'usage',
      hint: 'Check the path and its permissions; it holds NAME=value lines in dotenv syntax.',
    });
  }
  try {
    return parseEnv(text) as Record<string, string>;
  } catch (error) {
    throw new AuthecsError(`Cannot parse the env file ${full}: ${(error as Error).message}`, { code: 'ENV_FILE_UNREADABLE', exit: 'usage', hint: 'Write one NAME=value per line (dotenv syntax).' });
  }
}

/** Flags, then environment variables, then .env in the working directory, then the state file's settings, then defaults. */
export function resolveSettings(input: ConfigInput): ResolvedSettings {
  const dotEnv = readDotEnv(input.cwd);
  const values: ResolvedSettings['values'] = {};
  const sources: ResolvedSettings['sources'] = {};
  for (const setting of SETTINGS) {
    const flagValue = input.flags[setting.key];
    if (flagValue !== undefined) {
      values[setting.key] = coerce(setting, flagValue, (setting.flag ?? setting.key).split(' ')[0]!);
      sources[setting.key] = { source: 'flag', name: (setting.flag ?? setting.key).split(' ')[0]! };
      continue;
    }
    const fromEnv = fromEnvironment(setting, input.env);
    if (fromEnv) {
      values[setting.key] = coerce(setting, fromEnv.value, fromEnv.name);
      sources[setting.key] = { source: 'env', name: fromEnv.name };
      continue;
    }
    const fromDotEnv = fromEnvironment(setting, dotEnv);
    if (fromDotEnv) {
      values[setting.key] = coerce(setting, fromDotEnv.value, `${fromDotEnv.name} in .env`);
      sources[setting.key] = { source: '.env', name: fromDotEnv.name };
      continue;
    }
    const recorded = input.recorded?.[setting.key];
    if (recorded !== undefined && recorded !== null && isSticky(setting)) {
      values[setting.key] = recorded;
      sources[setting.key] = { source: 'state', name: 'state file' };
    }
  }
  const envFile = values.envFile;
  if (typeof envFile === 'string' && envFile !== '') {
    const given = sources.environment?.source === 'flag' ? (values.environment as Record<string, string>) : {};
    values.environment = { ...readEnvFile(envFile, input.cwd, sources.envFile?.name ?? '--app-env-file'), ...given };
    sources.environment = { source: sources.envFile?.source ?? 'flag', name: sources.environment?.source === 'flag' ? '--env and --app-env-file' : '--app-env-file' };
  }
  // Defaults last, so derived defaults (ALB name from cluster) see the final cluster.
  for (const setting of SETTINGS) {
    if (values[setting.key] === undefined && setting.default) {
      values[setting.key] = setting.default(values);
      sources[setting.key] = { source: 'default', name: 'default' };
    }
  }
  return { values, sources };
}

function describeSetting(key: ConfigKey, resolved: ResolvedSettings): string {
  const setting = SETTINGS.find((candidate) => candidate.key === key);
  const source = resolved.sources[key];
  const flag = setting?.flag?.split(' ')[0];
  // A recorded value is named by its flag: "state file" alone would not say which setting is wrong.
  if (source?.source === 'state') return `${(flag ?? key).replace(/^--no-/, '--')} (recorded in the state file)`;
  if (source && source.source !== 'default') return source.source === '.env' ? `${source.name} (in .env)` : source.name;
  const env = setting?.env[0];
  return [flag, env].filter(Boolean).join(' / ') || key;
}

function hintFor(key: ConfigKey): string {
  const setting = SETTINGS.find((candidate) => candidate.key === key);
  const ways = [setting?.flag ? `pass ${setting.flag}` : undefined, setting?.env.length ? `set ${setting.env.join(' / ')}` : undefined].filter(Boolean);
  return `Fix it: ${ways.join(' or ')}. See \`authecs up --help\`.`;
}

export function loadUpConfig(input: ConfigInput): Config {
  return loadStackSettings(input).config;
}

export interface StackSettings {
  config: Config;
  /** What to record in the state file: every sticky setting that did not fall back to its default. */
  chosen: Record<string, unknown>;
  resolved: ResolvedSettings;
}

/** The settings of a stack: what this run was told, over what earlier runs chose, over defaults. */
export function loadStackSettings(input: ConfigInput): StackSettings {
  const resolved = resolveSettings(input);
  const result = configSchema.safeParse(resolved.values);
  if (!result.success) throw toConfigError(result.error.issues, resolved);
  checkSecrets(result.data, resolved);
  checkAccess(result.data, resolved);
  const chosen: Record<string, unknown> = {};
  for (const setting of SETTINGS) {
    const source = resolved.sources[setting.key]?.source;
    if (isSticky(setting) && source && source !== 'default') chosen[setting.key] = result.data[setting.key];
  }
  return { config: result.data, chosen, resolved };
}

/** ECS reads a secret in the task's own region only; and one name cannot be both plain and secret. */
function checkSecrets(config: Config, resolved: ResolvedSettings): void {
  for (const [name, arn] of Object.entries(config.secrets)) {
    const region = SECRET_ARN.exec(arn)?.[3];
    if (region !== config.region) {
      throw configError(
        `${describeSetting('secrets', resolved)} ${name}`,
        `${arn} is in ${region}, but the stack runs in ${config.region}`,
        `Copy the secret to ${config.region} and pass its ARN there (ECS fetches a valueFrom secret in the task's region).`,
      );
    }
    if (name in config.environment) {
      throw configError(`${describeSetting('secrets', resolved)} ${name}`, `${name} is also set by --env`, 'Give each variable one source: drop it from --env / --app-env-file, or from --secret.');
    }
  }
}

/** Checks that span settings: the public-path rule's priority, and variables authecs sets itself. */
function checkAccess(config: Config, resolved: ResolvedSettings): void {
  // The public-path rule goes just before the host rule (rulePriority - 1), and 1 is the lowest priority.
  if (config.publicPaths.length > 0 && config.rulePriority === 1) {
    throw configError(
      `${describeSetting('publicPaths', resolved)} with ${describeSetting('rulePriority', resolved)}`,
      'the public-path rule needs a priority just before the host rule (--rule-priority minus 1), and --rule-priority is 1',
      'Pass --rule-priority 2 or more (AUTH_ECS_RULE_PRIORITY), or drop --public-path.',
    );
  }
  for (const name of [ALLOWED_GROUPS_VARIABLE]) {
    const setting = name in config.environment ? 'environment' : name in config.secrets ? 'secrets' : undefined;
    if (!setting) continue;
    throw configError(
      `${describeSetting(setting, resolved)} ${name}`,
      `${name} is set by authecs from --allowed-groups`,
      'Drop it from --env / --app-env-file / --secret, and pass the groups with --allowed-groups (AUTH_ECS_ALLOWED_GROUPS) instead.',
    );
  }
}

export interface SettingChange {
  setting: ConfigKey;
  /** How a user names it: the flag, e.g. --image. */
  flag: string;
  from: unknown;
  to: unknown;
  source: SettingSource;
}

/**
 * Which stack settings differ from the last run's: the recorded choices over the defaults,
 * against this run's. Run-scoped settings (wait timeouts) and machine settings do not count.
 */
export function settingChanges(recorded: Record<string, unknown> | undefined, current: StackSettings): SettingChange[] {
  if (!recorded) return [];
  const before = resolveSettings({ flags: {}, env: {}, cwd: '/nonexistent-authecs-dir', recorded });
  const previous = configSchema.partial().safeParse(before.values);
  const previousValues: Partial<Record<ConfigKey, unknown>> = previous.success ? previous.data : before.values;
  const changes: SettingChange[] = [];
  for (const setting of SETTINGS) {
    if (!isSticky(setting)) continue;
    const from = previousValues[setting.key];
    const to = current.config[setting.key];
    if (JSON.stringify(from) === JSON.stringify(to)) continue;
    // A switch reads best by its positive form: --http-redirect: true → false.
    const flag = (setting.flag?.split(' ')[0] ?? setting.key).replace(/^--no-/, '--');
    changes.push({ setting: setting.key, flag, from, to, source: current.resolved.sources[setting.key]?.source ?? 'default' });
  }
  return changes;
}

export function loadBaseConfig(input: ConfigInput): BaseConfig {
  const resolved = resolveSettings(input);
  const schema = configSchema.pick({ cluster: true, waitTimeoutMinutes: true }).extend({
    region: configSchema.shape.region.optional(),
    profile: configSchema.shape.profile,
    endpointUrl: configSchema.shape.endpointUrl,
    stateFile: configSchema.shape.stateFile,
  });
  const result = schema.safeParse(resolved.values);
  if (result.success) return result.data;
  throw toConfigError(result.error.issues, resolved);
}

function toConfigError(issues: { path: PropertyKey[]; message: string }[], resolved: ResolvedSettings): AuthecsError {
  const [first, ...rest] = issues;
  const key = String(first?.path[0] ?? 'configuration') as ConfigKey;
  const value = resolved.values[key];
  const problem = value === undefined ? 'is not set' : `${JSON.stringify(value)} ${first?.message ?? 'is invalid'}`;
  const error = configError(describeSetting(key, resolved), problem, hintFor(key));
  const others = [...new Set(rest.map((issue) => describeSetting(String(issue.path[0]) as ConfigKey, resolved)))].filter(
    (name) => name !== describeSetting(key, resolved),
  );
  if (others.length > 0) error.message += ` (also invalid: ${others.join(', ')})`;
  return error;
}

