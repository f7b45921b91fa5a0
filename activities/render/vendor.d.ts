/** Types for the untyped npm packages the renderer uses (only the parts it calls). */

declare module 'bidi-js' {
  interface EmbeddingLevels {
    levels: Uint8Array;
    paragraphs: Array<{ start: number; end: number; level: number }>;
  }
  interface Bidi {
    getEmbeddingLevels(text: string, direction?: 'ltr' | 'rtl' | 'auto'): EmbeddingLevels;
    getReorderSegments(text: string, levels: EmbeddingLevels, start?: number, end?: number): Array<[number, number]>;
    getMirroredCharacter(char: string): string | null;
  }
  export default function bidiFactory(): Bidi;
}

declare module 'hyphen/*' {
  /** Inserts `hyphenChar` (default U+00AD) at every hyphenation point of every word. */
  export function hyphenateSync(text: string, options?: { hyphenChar?: string; minWordLength?: number }): string;
}

declare module 'unicode-properties' {
  export function getScript(codePoint: number): string;
}

declare module 'fontkit' {
  /** The cmap's code points (for a collection, pass the face's PostScript name). */
  export function openSync(file: string, postscriptName?: string): { characterSet: number[] };
}
