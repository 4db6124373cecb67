/**
 * IAM policy documents as steps write them and read them back, and a small evaluator for the one
 * question a preflight asks: does this set of policies let a principal do these actions on this
 * resource? Pure: no AWS call.
 */

export type ConditionBlock = Record<string, Record<string, string | string[]>>;

export interface PolicyStatement {
  Sid?: string;
  Effect: 'Allow' | 'Deny';
  Principal?: string | Record<string, string | string[]>;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: ConditionBlock;
}

export interface PolicyDocument {
  Version: string;
  Statement: PolicyStatement[];
}

function asList(value: string | string[] | undefined): string[] {
  if (value === undefined) return [];
  return Array.isArray(value) ? value : [value];
}

function sortedUnique(values: readonly string[]): string[] {
  return [...new Set(values)].sort();
}

function isPolicyDocument(value: unknown): value is { Version?: string; Statement: PolicyStatement | PolicyStatement[] } {
  return typeof value === 'object' && value !== null && 'Statement' in value;
}

/**
 * A document as IAM returns it. GetRolePolicy, GetPolicyVersion and GetRole answer with
 * URL-encoded JSON (IAM API Reference, GetRolePolicy: "URL-encoded compliant with RFC 3986");
 * plain JSON is taken as it is. Undefined when it is neither.
 */
export function parsePolicyDocument(text: string | undefined): PolicyDocument | undefined {
  if (!text) return undefined;
  const attempts = text.trimStart().startsWith('{') ? [() => text, () => decodeURIComponent(text)] : [() => decodeURIComponent(text), () => text];
  for (const attempt of attempts) {
    try {
      const parsed: unknown = JSON.parse(attempt());
      if (!isPolicyDocument(parsed)) return undefined;
      const statements = Array.isArray(parsed.Statement) ? parsed.Statement : [parsed.Statement];
      return { Version: parsed.Version ?? '2012-10-17', Statement: statements };
    } catch {
      // not this encoding: try the next
    }
  }
  return undefined;
}

function normalizeList(value: string | string[] | undefined): string[] | undefined {
  return value === undefined ? undefined : sortedUnique(asList(value));
}

/**
 * One form for a document, so what authecs sends and what IAM gives back compare equal: a
 * single value and a one-item list mean the same to IAM, and list order does not matter.
 */
export function normalizePolicyDocument(document: PolicyDocument): PolicyDocument {
  return {
    Version: document.Version,
    Statement: document.Statement.map((statement) => {
      const normal: PolicyStatement = { Effect: statement.Effect };
      if (statement.Sid) normal.Sid = statement.Sid;
      if (statement.Principal !== undefined) {
        normal.Principal =
          typeof statement.Principal === 'string' ? statement.Principal : Object.fromEntries(Object.entries(statement.Principal).map(([kind, ids]) => [kind, sortedUnique(asList(ids))]));
      }
      for (const key of ['Action', 'NotAction', 'Resource', 'NotResource'] as const) {
        const list = normalizeList(statement[key]);
        if (list) normal[key] = list;
      }
      if (statement.Condition) {
        normal.Condition = Object.fromEntries(
          Object.entries(statement.Condition).map(([operator, block]) => [operator, Object.fromEntries(Object.entries(block).map(([key, values]) => [key, sortedUnique(asList(values))]))]),
        );
      }
      return normal;
    }),
  };
}

/** IAM's wildcards: `*` any run of characters, `?` one character. Actions match case-insensitively. */
export function wildcardMatches(pattern: string, value: string, ignoreCase = false): boolean {
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${source}$`, ignoreCase ? 'i' : '').test(value);
}

function covers(statement: PolicyStatement, action: string, resource: string): boolean {
  const actionHit =
    statement.Action !== undefined
      ? asList(statement.Action).some((pattern) => wildcardMatches(pattern, action, true))
      : statement.NotAction !== undefined && !asList(statement.NotAction).some((pattern) => wildcardMatches(pattern, action, true));
  const resourceHit =
    statement.Resource !== undefined
      ? asList(statement.Resource).some((pattern) => wildcardMatches(pattern, resource))
      : statement.NotResource !== undefined && !asList(statement.NotResource).some((pattern) => wildcardMatches(pattern, resource));
  return actionHit && resourceHit;
}

/**
 * The actions these identity policies do not allow on `resource`: no Allow statement covers
 * them, or a Deny does. Statements with a Condition are left out, as their outcome depends on
 * the request; so a grant that holds only under a condition counts as missing (the caller warns,
 * never fails). Permissions boundaries and SCPs are not seen.
 */
export function missingActions(documents: readonly PolicyDocument[], actions: readonly string[], resource: string): string[] {
  const statements = documents.flatMap((document) => document.Statement).filter((statement) => statement.Condition === undefined || Object.keys(statement.Condition).length === 0);
  return actions.filter((action) => {
    const denied = statements.some((statement) => statement.Effect === 'Deny' && covers(statement, action, resource));
    const allowed = statements.some((statement) => statement.Effect === 'Allow' && covers(statement, action, resource));
    return denied || !allowed;
  });
}
