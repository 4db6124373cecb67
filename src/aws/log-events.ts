// The logs command's reader, imported when it runs. Not import('@aws-sdk/client-cloudwatch-logs') there:
// a dynamic import of a package keeps its whole namespace in the bundle, and every command that makes clients would load it.
import { paginateFilterLogEvents, type CloudWatchLogsClient, type FilterLogEventsCommandInput, type FilterLogEventsCommandOutput } from '@aws-sdk/client-cloudwatch-logs';

export function logEventPages(client: CloudWatchLogsClient, input: FilterLogEventsCommandInput): AsyncIterable<FilterLogEventsCommandOutput> {
  return paginateFilterLogEvents({ client }, input);
}
