/**
 * The external validators tests run on rendered books: epubcheck (Debian 4.x), EPUBCheck 5,
 * veraPDF and DAISY Ace. A "valid" book is one these accept, not one our own code likes.
 */
import fsSync from 'node:fs';
import fs from 'node:fs/promises';
import path from 'node:path';
import { exec } from './http';

const EPUBCHECK_JAR = process.env.EPUBCHECK_JAR ?? '/usr/share/java/epubcheck.jar';

export interface EpubcheckReport {
  messages: Array<{ ID: string; severity: string; message: string; locations?: Array<{ path: string; line: number }> }>;
  checker: { nFatal: number; nError: number; nWarning: number; nUsage: number };
}

/** Runs epubcheck and returns its JSON report (written to a file: stdout also carries prose). */
export async function epubcheck(file: string): Promise<EpubcheckReport> {
  const out = `${file}.epubcheck.json`;
  await fs.rm(out, { force: true });
  try {
    await exec('java', ['-jar', EPUBCHECK_JAR, '--json', out, file], { maxBuffer: 16 * 1024 * 1024 });
  } catch {
    // Non-zero exit when errors are found; the JSON report says which.
  }
  return JSON.parse(await fs.readFile(out, 'utf8')) as EpubcheckReport;
}

/** One line per message, for assertion output. */
export function epubcheckSummary(report: EpubcheckReport): string {
  return report.messages.map((m) => `${m.severity} ${m.ID}: ${m.message}`).join('\n');
}

// --- The trade's validators, installed by scripts/install-validators.sh into .tools/. ---

const TOOLS = path.resolve(__dirname, '..', '..', '.tools');
const VERAPDF_LIB = path.join(TOOLS, 'verapdf', 'lib');
const EPUBCHECK5_LIB = path.join(TOOLS, 'epubcheck5', 'lib');
const ACE_BIN = path.join(TOOLS, 'ace', 'node_modules', '.bin', 'ace-puppeteer');

/** Whether scripts/install-validators.sh has run (tests name the script when it has not). */
export function validatorsInstalled(): boolean {
  return fsSync.existsSync(VERAPDF_LIB) && fsSync.existsSync(EPUBCHECK5_LIB) && fsSync.existsSync(ACE_BIN);
}

export type VeraProfile = 'ua1' | '2u' | '2a' | '2b';

export interface VeraFailedRule {
  clause: string;
  testNumber: number;
  description: string;
  /** How many checks of this rule failed in the file. */
  failedChecks: number;
}

export interface VeraResult {
  file: string;
  profile: VeraProfile;
  compliant: boolean;
  failedRules: VeraFailedRule[];
}

interface VeraJson {
  report: {
    jobs: Array<{
      itemDetails: { name: string };
      validationResult?: Array<{
        profileName: string;
        compliant: boolean;
        details: {
          failedRules: number;
          ruleSummaries: Array<{ clause: string; testNumber: number; description: string; failedChecks: number; ruleStatus: string }>;
        };
      }>;
      taskException?: Array<{ exceptionMessage: string }>;
    }>;
  };
}

/**
 * Runs veraPDF once over several files (the JVM takes seconds to start, so a test
 * validates a whole matrix per call) against one flavour; one result per file.
 */
export async function verapdf(files: string[], profile: VeraProfile): Promise<VeraResult[]> {
  let stdout: string;
  try {
    ({ stdout } = await exec(
      'java',
      ['-cp', `${VERAPDF_LIB}/*`, 'org.verapdf.apps.GreenfieldCliWrapper', '-f', profile, '--format', 'json', ...files],
      { maxBuffer: 256 * 1024 * 1024 },
    ));
  } catch (err) {
    // veraPDF exits non-zero when a file is not compliant; its report is still on stdout.
    stdout = (err as { stdout?: string }).stdout ?? '';
    if (!stdout.trim().startsWith('{')) throw err;
  }
  const json = JSON.parse(stdout) as VeraJson;
  return json.report.jobs.map((job) => {
    const vr = job.validationResult?.[0];
    if (!vr) throw new Error(`veraPDF could not check ${job.itemDetails.name}: ${job.taskException?.map((e) => e.exceptionMessage).join('; ')}`);
    return {
      file: job.itemDetails.name,
      profile,
      compliant: vr.compliant,
      failedRules: vr.details.ruleSummaries
        .filter((r) => r.ruleStatus === 'FAILED')
        .map((r) => ({ clause: r.clause, testNumber: r.testNumber, description: r.description, failedChecks: r.failedChecks })),
    };
  });
}

/** One line per failed rule, for assertion output. */
export function veraSummary(r: VeraResult): string {
  return r.failedRules.map((f) => `${r.profile} ${f.clause}-${f.testNumber} ×${f.failedChecks}: ${f.description}`).join('\n');
}

const EPUBCHECK_BATCH = path.resolve(__dirname, '..', 'render', 'EpubcheckBatch.java');

/**
 * Runs EPUBCheck 5 with `--usage` (EPUB 3.3 rules plus its advice) over several EPUBs in one
 * JVM (test/render/EpubcheckBatch.java: start-up and schema loading are most of a run); the
 * JSON report of each, in order.
 */
export async function epubcheck5(files: string[]): Promise<EpubcheckReport[]> {
  const outs = files.map((f) => `${f}.epubcheck5.json`);
  await Promise.all(outs.map((o) => fs.rm(o, { force: true })));
  try {
    await exec('java', ['-cp', `${EPUBCHECK5_LIB}/*`, EPUBCHECK_BATCH, '--usage', '--', ...files], { maxBuffer: 64 * 1024 * 1024 });
  } catch {
    // Non-zero exit when errors are found; the JSON reports say which.
  }
  return Promise.all(outs.map(async (o) => JSON.parse(await fs.readFile(o, 'utf8')) as EpubcheckReport));
}

export interface AceViolation {
  rule: string;
  impact: string;
  file: string;
  description: string;
}

interface AceJson {
  assertions: Array<{
    'earl:testSubject': { url: string };
    assertions: Array<{ 'earl:test': { 'dct:title': string; 'earl:impact': string; 'dct:description': string } }>;
  }>;
}

/** Runs DAISY Ace (through Debian's chromium) and lists its violations. */
export async function ace(file: string): Promise<AceViolation[]> {
  const out = `${file}.ace`;
  await fs.rm(out, { recursive: true, force: true });
  await exec(ACE_BIN, ['-f', '-s', '-o', out, file], {
    maxBuffer: 16 * 1024 * 1024,
    env: {
      ...process.env,
      PUPPETEER_EXECUTABLE_PATH: process.env.PUPPETEER_EXECUTABLE_PATH ?? '/usr/bin/chromium',
      PUPPETEER_SKIP_DOWNLOAD: '1',
    },
  });
  const report = JSON.parse(await fs.readFile(path.join(out, 'report.json'), 'utf8')) as AceJson;
  return report.assertions.flatMap((doc) =>
    doc.assertions.map((a) => ({
      rule: a['earl:test']['dct:title'],
      impact: a['earl:test']['earl:impact'],
      file: doc['earl:testSubject'].url,
      description: a['earl:test']['dct:description'],
    })),
  );
}
