// Preloaded into an authecs subprocess with NODE_OPTIONS=--import, only by the crash tests, to
// count state-file writes of a complete run (so AUTHECS_TEST_KILL_AFTER_WRITES=N can be spread
// over the whole run). It counts atomic renames onto a .json file and writes the count to
// AUTHECS_COUNT_WRITES_TO when the process exits. It changes nothing else.
import fs, { writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';

const target = process.env.AUTHECS_COUNT_WRITES_TO;
if (target) {
  let writes = 0;
  const renameSync = fs.renameSync;
  fs.renameSync = function countedRenameSync(from, to) {
    const result = renameSync.call(fs, from, to);
    if (String(to).endsWith('.json')) writes += 1;
    return result;
  };
  syncBuiltinESMExports();
  process.on('exit', () => writeFileSync(target, String(writes)));
}
