import fs from 'node:fs/promises';
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
