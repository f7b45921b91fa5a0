/** Helpers shared by the PDF and EPUB renderers. */
import sharp from 'sharp';
import type { RenderImage } from './types';

/**
 * Removes code points that XML 1.0 forbids (C0 controls other than tab/newline/CR,
 * lone surrogates, U+FFFE/U+FFFF). Model-written text can contain them, and a single
 * one makes an XHTML file unparseable; in a PDF they would render as missing glyphs.
 */
export function stripInvalidChars(text: string): string {
  return text.replace(
    /[\u0000-\u0008\u000B\u000C\u000E-\u001F\uFFFE\uFFFF]|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/g,
    '',
  );
}

/** Escapes text for XML element content and attribute values (either quote style). */
export function escapeXml(text: string): string {
  return stripInvalidChars(text).replace(/[<>&"']/g, (c) => {
    switch (c) {
      case '<':
        return '&lt;';
      case '>':
        return '&gt;';
      case '&':
        return '&amp;';
      case '"':
        return '&quot;';
      default:
        return '&apos;';
    }
  });
}

/** Collapses runs of whitespace (including newlines) to single spaces, for one-line texts. */
export function oneLine(text: string): string {
  return stripInvalidChars(text).replace(/\s+/g, ' ').trim();
}

/** Formats an ISO timestamp the way EPUB's dcterms:modified requires (no milliseconds, UTC). */
export function toW3cDateTime(iso: string): string {
  const d = new Date(iso);
  if (Number.isNaN(d.getTime())) throw new Error(`Invalid timestamp: ${iso}`);
  return d.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

export interface JpegImage {
  data: Buffer;
  width: number;
  height: number;
}

export interface JpegOptions {
  /** Upper bound for the output width in pixels; images are never enlarged. */
  maxWidth: number;
  quality?: number;
  /**
   * When set, crops (centre) to this height/width ratio first, e.g. a full-bleed cover
   * must match the page's aspect ratio.
   */
  aspect?: number;
}

/**
 * Converts an image to a baseline JPEG for embedding. PNG decoding in pdfkit is slow
 * pure JS, and JPEG keeps both outputs small. JPEGs that already fit are passed through
 * untouched to avoid a lossy re-encode.
 */
export async function toJpeg(image: RenderImage, opts: JpegOptions): Promise<JpegImage> {
  const quality = opts.quality ?? 85;
  const meta = await sharp(image.data).metadata();
  const srcW = meta.autoOrient?.width ?? meta.width;
  const srcH = meta.autoOrient?.height ?? meta.height;
  if (!srcW || !srcH) throw new Error('Image has no dimensions');

  let width: number;
  let height: number;
  if (opts.aspect) {
    // Largest crop of the source with the wanted ratio, then cap the width.
    const cropW = Math.min(srcW, Math.floor(srcH / opts.aspect));
    width = Math.max(1, Math.min(opts.maxWidth, cropW));
    height = Math.max(1, Math.round(width * opts.aspect));
  } else {
    width = Math.min(opts.maxWidth, srcW);
    height = Math.max(1, Math.round((srcH * width) / srcW));
  }

  const untouched =
    image.mime === 'image/jpeg' &&
    width === srcW &&
    height === srcH &&
    (meta.orientation ?? 1) === 1 &&
    meta.channels === 3 &&
    !meta.isProgressive;
  if (untouched) return { data: image.data, width, height };

  const data = await sharp(image.data)
    .autoOrient()
    .resize(width, height, { fit: 'cover', position: 'centre' })
    // JPEG has no alpha: put transparent areas on white paper rather than black.
    .flatten({ background: '#ffffff' })
    .toColourspace('srgb')
    .jpeg({ quality, mozjpeg: false, progressive: false, chromaSubsampling: '4:2:0' })
    .toBuffer();
  return { data, width, height };
}

/**
 * Starts `fn` over `items` with at most `limit` calls in flight and returns one promise per
 * item, in order, so a caller can use the first results while the rest are still working
 * (image conversions run on sharp's threads while the main thread lays out text). Every
 * promise has a handler attached: a failure surfaces where its item is awaited.
 */
export function startLimited<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Array<Promise<R>> {
  const resolvers: Array<{ resolve: (r: R) => void; reject: (e: unknown) => void }> = [];
  const out = items.map(
    () =>
      new Promise<R>((resolve, reject) => {
        resolvers.push({ resolve, reject });
      }),
  );
  for (const p of out) p.catch(() => undefined);
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < items.length) {
      const i = next++;
      try {
        resolvers[i].resolve(await fn(items[i]));
      } catch (err) {
        resolvers[i].reject(err);
      }
    }
  };
  for (let k = 0; k < Math.min(limit, items.length); k++) void lane();
  return out;
}

/** Writing direction for a BCP 47 tag (only the primary subtag matters here). */
export function textDirection(language: string): 'ltr' | 'rtl' {
  const primary = language.toLowerCase().split(/[-_]/)[0];
  return ['ar', 'he', 'fa', 'ur', 'yi', 'ps', 'sd', 'ug', 'dv', 'ku'].includes(primary) ? 'rtl' : 'ltr';
}

/** The few fixed words the renderers print themselves, for the most common languages. */
export interface Labels {
  contents: string;
  cover: string;
  titlePage: string;
  copyright: string;
  credits: string;
  start: string;
  landmarks: string;
}

const LABELS: Record<string, Labels> = {
  en: { contents: 'Contents', cover: 'Cover', titlePage: 'Title page', copyright: 'Copyright', credits: 'Made with', start: 'Start of content', landmarks: 'Landmarks' },
  fr: { contents: 'Table des matières', cover: 'Couverture', titlePage: 'Page de titre', copyright: 'Droits', credits: 'Réalisé avec', start: 'Début du contenu', landmarks: 'Repères' },
  de: { contents: 'Inhalt', cover: 'Umschlag', titlePage: 'Titelseite', copyright: 'Impressum', credits: 'Erstellt mit', start: 'Beginn des Inhalts', landmarks: 'Orientierungspunkte' },
  es: { contents: 'Índice', cover: 'Cubierta', titlePage: 'Portada', copyright: 'Créditos', credits: 'Creado con', start: 'Inicio del contenido', landmarks: 'Puntos de referencia' },
  it: { contents: 'Indice', cover: 'Copertina', titlePage: 'Frontespizio', copyright: 'Crediti', credits: 'Realizzato con', start: 'Inizio del contenuto', landmarks: 'Punti di riferimento' },
  pt: { contents: 'Sumário', cover: 'Capa', titlePage: 'Folha de rosto', copyright: 'Créditos', credits: 'Criado com', start: 'Início do conteúdo', landmarks: 'Pontos de referência' },
  nl: { contents: 'Inhoud', cover: 'Omslag', titlePage: 'Titelpagina', copyright: 'Colofon', credits: 'Gemaakt met', start: 'Begin van de inhoud', landmarks: 'Oriëntatiepunten' },
  ru: { contents: 'Содержание', cover: 'Обложка', titlePage: 'Титульный лист', copyright: 'Выходные данные', credits: 'Создано с помощью', start: 'Начало', landmarks: 'Ориентиры' },
  uk: { contents: 'Зміст', cover: 'Обкладинка', titlePage: 'Титульна сторінка', copyright: 'Вихідні дані', credits: 'Створено за допомогою', start: 'Початок', landmarks: 'Орієнтири' },
  el: { contents: 'Περιεχόμενα', cover: 'Εξώφυλλο', titlePage: 'Σελίδα τίτλου', copyright: 'Στοιχεία έκδοσης', credits: 'Δημιουργήθηκε με', start: 'Αρχή περιεχομένου', landmarks: 'Ορόσημα' },
  ar: { contents: 'المحتويات', cover: 'الغلاف', titlePage: 'صفحة العنوان', copyright: 'حقوق النشر', credits: 'صُنع باستخدام', start: 'بداية المحتوى', landmarks: 'معالم' },
  he: { contents: 'תוכן העניינים', cover: 'כריכה', titlePage: 'עמוד שער', copyright: 'זכויות יוצרים', credits: 'נוצר באמצעות', start: 'תחילת התוכן', landmarks: 'ציוני דרך' },
  zh: { contents: '目录', cover: '封面', titlePage: '书名页', copyright: '版权页', credits: '制作工具', start: '正文开始', landmarks: '导航' },
  ja: { contents: '目次', cover: '表紙', titlePage: '扉', copyright: '奥付', credits: '制作', start: '本文開始', landmarks: 'ランドマーク' },
  ko: { contents: '목차', cover: '표지', titlePage: '속표지', copyright: '판권', credits: '제작 도구', start: '본문 시작', landmarks: '랜드마크' },
  pl: { contents: 'Spis treści', cover: 'Okładka', titlePage: 'Strona tytułowa', copyright: 'Metryka', credits: 'Utworzono z pomocą', start: 'Początek treści', landmarks: 'Punkty orientacyjne' },
};

export function labelsFor(language: string): Labels {
  const primary = language.toLowerCase().split(/[-_]/)[0];
  return LABELS[primary] ?? LABELS.en;
}

/** Year of publication for the copyright line. */
export function yearOf(iso: string): number {
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? new Date().getUTCFullYear() : d.getUTCFullYear();
}

/** A chapter's title on one line; its number when the title is blank (headings must not be empty). */
export function chapterTitle(chapter: { index: number; title: string }): string {
  return oneLine(chapter.title) || String(chapter.index);
}
