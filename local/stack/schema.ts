/**
 * The two databases and their schemas, with the pinned release's own SQL tool and its embedded schemas (no Go module
 * cache needed). Safe to repeat: a database is created only when missing, versioning tables only when absent, and
 * update-schema brings an existing schema to the release's version (a newer pinned server upgrades it here).
 */
import { execFile } from 'child_process';
import { promisify } from 'util';
import { PG_USER } from './postgres';

const execFileP = promisify(execFile);

export const TEMPORAL_DATABASES = [
  { database: 'temporal', schema: 'postgresql/v12/temporal' },
  { database: 'temporal_visibility', schema: 'postgresql/v12/visibility' },
] as const;

export interface SchemaTarget {
  sqlTool: string;
  pgPort: number;
  password: string;
  /** Runs a query against a database, for the existence checks. */
  query: (database: string, sql: string) => Promise<string>;
  say: (line: string) => void;
}

async function sqlTool(t: SchemaTarget, database: string, args: string[]): Promise<void> {
  const base = ['--plugin', 'postgres12', '--ep', '127.0.0.1', '--port', String(t.pgPort), '--user', PG_USER, '--database', database];
  try {
    // SQL_PASSWORD: the tool's own variable, so the password is never on a command line.
    await execFileP(t.sqlTool, [...base, ...args], { env: { ...process.env, SQL_PASSWORD: t.password }, maxBuffer: 16 * 1024 * 1024 });
  } catch (e) {
    const out = `${(e as { stderr?: string }).stderr ?? ''}${(e as { stdout?: string }).stdout ?? ''}`.trim();
    throw new Error(`temporal-sql-tool ${args[0]} on ${database} failed: ${out.split('\n').slice(-5).join(' ').slice(0, 1000) || (e as Error).message}`);
  }
}

export async function ensureSchemas(t: SchemaTarget): Promise<void> {
  for (const { database, schema } of TEMPORAL_DATABASES) {
    if ((await t.query('postgres', `SELECT count(*) FROM pg_database WHERE datname = '${database}'`)) === '0') {
      t.say(`  create database ${database}`);
      await sqlTool(t, database, ['create-database', '--defaultdb', 'postgres']);
    }
    if ((await t.query(database, "SELECT to_regclass('public.schema_version') IS NULL")) === 't') {
      await sqlTool(t, database, ['setup-schema', '--version', '0.0']);
    }
    await sqlTool(t, database, ['update-schema', '--schema-name', schema]);
  }
}
