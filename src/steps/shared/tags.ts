/** Tags that mark a resource as authecs's, so a run that was killed mid-request can adopt it. */
export const STACK_TAG_KEY = 'authecs:stack';
export const MANAGED_BY_TAG_KEY = 'managed-by';
export const MANAGED_BY_TAG_VALUE = 'authecs';

export function stackTags(stack: string): { Key: string; Value: string }[] {
  return [
    { Key: STACK_TAG_KEY, Value: stack },
    { Key: MANAGED_BY_TAG_KEY, Value: MANAGED_BY_TAG_VALUE },
  ];
}

/** ECS spells its tags {key, value}. */
export function ecsStackTags(stack: string): { key: string; value: string }[] {
  return stackTags(stack).map((tag) => ({ key: tag.Key, value: tag.Value }));
}

/** Whether a tag list (any casing of Key/Value fields) carries this stack's tag. */
export function hasStackTag(tags: readonly { Key?: string; Value?: string; key?: string; value?: string }[] | undefined, stack: string): boolean {
  return (tags ?? []).some((tag) => (tag.Key ?? tag.key) === STACK_TAG_KEY && (tag.Value ?? tag.value) === stack);
}

/** CloudWatch Logs takes and returns tags as a map (CreateLogGroup `tags`, ListTagsForResource). */
export function logsStackTags(stack: string): Record<string, string> {
  return Object.fromEntries(stackTags(stack).map((tag) => [tag.Key, tag.Value]));
}
