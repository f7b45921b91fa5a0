/** Everything the renderers need, already loaded from storage. */

export interface RenderImage {
  data: Buffer;
  mime: 'image/png' | 'image/jpeg';
  /** Alt text; every image has one. */
  alt: string;
}

export interface RenderChapter {
  /** 1-based chapter number. */
  index: number;
  title: string;
  paragraphs: string[];
  /** Missing when the chapter has no illustration. */
  image?: RenderImage;
}

export interface RenderBook {
  /** Stable identifier of the book (the ebook id, a UUID). */
  id: string;
  title: string;
  subtitle?: string;
  author: string;
  /** BCP 47 language tag, e.g. 'en'. */
  language: string;
  description: string;
  keywords: string[];
  cover: RenderImage;
  chapters: RenderChapter[];
  /** Set for the free tier: a line printed on every page of the PDF. */
  watermark?: string;
  /** Who and what made the book, in sentences, each printed as a line of the copyright page. */
  credits: string[];
  /** ISO timestamp used as the publication/modification date. */
  modified: string;
}
