// Account operations from the command line (same validation and audit as the admin API).
// With the embedded database, stop the server first: PGlite serves one process at a time.
import { userInfo } from 'node:os';
import { loadConfig } from '../src/config/load-config.ts';
import { createRuntime } from '../src/bootstrap/runtime.ts';
import { ACCOUNTS_USAGE, runAccountsCommand } from '../src/cli/accounts-command.ts';

const args = process.argv.slice(2);
if (args.length === 0 || args.includes('--help')) {
  console.log(ACCOUNTS_USAGE);
  process.exit(0);
}
const runtime = await createRuntime(loadConfig(process.env));
try {
  console.log(JSON.stringify(await runAccountsCommand(runtime, args, userInfo().username), null, 2));
} catch (error) {
  console.error((error as Error).message);
  process.exitCode = 1;
} finally {
  await runtime.close();
}
