/**
 * Runs tasks as soon as the tasks they wait for have finished, so that independent work
 * overlaps. After the first failure no new task starts; running ones settle, then the
 * first failure is thrown. Every task either ran, failed or never started.
 */
export interface GraphTask {
  name: string;
  waitsFor: readonly string[];
  run(): Promise<void>;
}

export interface GraphResult {
  finished: string[];
  notStarted: string[];
}

export async function runGraph(tasks: readonly GraphTask[], options: { shouldStop?: () => boolean; concurrency?: number } = {}): Promise<GraphResult> {
  const limit = options.concurrency ?? Number.POSITIVE_INFINITY;
  const byName = new Map(tasks.map((task) => [task.name, task]));
  for (const task of tasks) {
    for (const dependency of task.waitsFor) {
      if (!byName.has(dependency)) throw new Error(`Task ${task.name} waits for unknown task ${dependency}`);
    }
  }
  const finished = new Set<string>();
  const started = new Set<string>();
  const running = new Map<string, Promise<void>>();
  let failure: unknown;
  let failed = false;

  const ready = () =>
    tasks.filter((task) => !started.has(task.name) && task.waitsFor.every((dependency) => finished.has(dependency)));

  for (;;) {
    if (!failed && !(options.shouldStop?.() ?? false)) {
      for (const task of ready()) {
        if (running.size >= limit) break;
        started.add(task.name);
        running.set(
          task.name,
          task.run().then(
            () => {
              finished.add(task.name);
              running.delete(task.name);
            },
            (error: unknown) => {
              running.delete(task.name);
              if (!failed) {
                failed = true;
                failure = error;
              }
            },
          ),
        );
      }
    }
    if (running.size === 0) break;
    await Promise.race(running.values());
  }
  if (failed) throw failure;
  const notStarted = tasks.filter((task) => !started.has(task.name)).map((task) => task.name);
  if (notStarted.length > 0 && !(options.shouldStop?.() ?? false)) {
    throw new Error(`Dependency cycle among: ${notStarted.join(', ')}`);
  }
  return { finished: [...finished], notStarted };
}

/**
 * `down`'s edges: reverse dependencies, except for a task deleted with another (`deletedWith`)
 * when that other one goes in this run: the other no longer waits for it, and it waits for the
 * other instead. So the longest deletion starts at once rather than after everything above it.
 */
export function teardownOrder(
  tasks: readonly { name: string; dependsOn: readonly string[]; deletedWith?: string | undefined }[],
  goes: (name: string) => boolean,
): { waitsFor: Map<string, string[]>; carriedBy: Map<string, string> } {
  const names = new Set(tasks.map((task) => task.name));
  const dependents = reverseDependencies(tasks.map((task) => ({ name: task.name, waitsFor: task.dependsOn })));
  const carrier = new Map<string, string>();
  for (const task of tasks) {
    if (task.deletedWith && names.has(task.deletedWith) && goes(task.deletedWith)) carrier.set(task.name, task.deletedWith);
  }
  const waitsFor = new Map(
    tasks.map((task): [string, string[]] => {
      const carriedBy = carrier.get(task.name);
      if (carriedBy) return [task.name, [carriedBy]];
      return [task.name, (dependents.get(task.name) ?? []).filter((dependent) => carrier.get(dependent) !== task.name)];
    }),
  );
  return { waitsFor, carriedBy: carrier };
}

/** Reverse edges: a task may run once every task that depended on it has run. */
export function reverseDependencies(tasks: readonly { name: string; waitsFor: readonly string[] }[]): Map<string, string[]> {
  const dependents = new Map<string, string[]>(tasks.map((task) => [task.name, []]));
  for (const task of tasks) {
    for (const dependency of task.waitsFor) dependents.get(dependency)?.push(task.name);
  }
  return dependents;
}
