/**
 * The ending every run that changes a book's files shares: render the files from
 * the manifest, store them as the next file version, publish that version. The
 * first run (ebook.ts), a chapter rewrite and a revision call it with what sets
 * them apart; it schedules the same activities, in the same order and with the
 * same inputs, as each of them did on its own, so their histories replay.
 */
import { render, store } from './proxies';
import type { BookManifest, Stage, StoredFiles } from './shared';

/** The stages of the ending; a revision's stages include them too. */
export type EndingStage = Extract<Stage, 'pdf' | 'epub' | 'storing' | 'publishing'>;

export interface Ending {
  ebookId: string;
  /** What the files are rendered from; its coverKey is the cover stored with them. */
  manifest: BookManifest;
  /**
   * Whether the book gets a print-ready PDF. Asked where the answer is used: after
   * the screen PDF is rendered (the first run and the chapter rewrite check their
   * `print-pdf-v1` patch in here, and its marker must stay where their histories
   * have it), and up front for a one-file revision, which carries the print PDF over.
   */
  printReady: () => boolean;
  /** Providers credited on publishing: the first run's; a re-run credits none. */
  providers: { text?: string; image?: string };
  /**
   * A one-file revision renders that file only and carries the rest of the
   * current version over; the print PDF goes with the screen PDF.
   */
  only?: { file: 'pdf' | 'epub'; current: { pdfKey: string; epubKey: string; printKey?: string } };
  /** Told as each stage starts, and awaited: a revision records its stages. */
  onStage?: (stage: EndingStage) => unknown;
  /** Told once the files are stored, before they are published. */
  onStored?: (files: StoredFiles) => void;
}

export async function renderStoreAndPublish(ending: Ending): Promise<StoredFiles> {
  const { ebookId, manifest, only } = ending;
  let pdfKey = only?.current.pdfKey;
  let epubKey = only?.current.epubKey;
  let printKey = only && ending.printReady() ? only.current.printKey : undefined;
  if (only?.file !== 'epub') {
    await ending.onStage?.('pdf');
    pdfKey = (await render.renderPdf(manifest)).key;
    if (ending.printReady()) printKey = (await render.renderPrintPdf(manifest)).key;
  }
  if (only?.file !== 'pdf') {
    await ending.onStage?.('epub');
    epubKey = (await render.renderEpub(manifest)).key;
  }
  await ending.onStage?.('storing');
  const files = await store.storeFiles({
    ebookId,
    pdfKey: pdfKey!,
    epubKey: epubKey!,
    coverKey: manifest.coverKey,
    ...(printKey ? { printKey } : {}),
  });
  ending.onStored?.(files);
  await ending.onStage?.('publishing');
  await store.publishEbook({ ebookId, files, providers: ending.providers });
  return files;
}
