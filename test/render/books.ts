/**
 * The matrix of books the publisher-grade render tests (issue 16) validate: English books of
 * 5 and 24 chapters, a book mixing Japanese, Chinese, Arabic, Hebrew, Russian, Greek, emoji
 * and `<>&"'`, the same book under a hostile title, an Arabic-language book, a
 * watermarked (free-plan) one and one with a word in each of 18 more scripts. Pictures are drawn here from SVG, so nothing is fetched.
 */
import sharp from 'sharp';
import type { RenderBook, RenderImage } from '../../activities/render/types';

export async function picture(hue: number): Promise<RenderImage> {
  const svg = `<svg xmlns="http://www.w3.org/2000/svg" width="800" height="600">
  <rect width="800" height="600" fill="hsl(${hue},60%,55%)"/>
  <circle cx="400" cy="260" r="170" fill="#fff4d6"/>
  <path d="M60 580 L400 330 L740 580 Z" fill="hsl(${(hue + 180) % 360},45%,30%)"/></svg>`;
  return { data: await sharp(Buffer.from(svg)).jpeg({ quality: 80 }).toBuffer(), mime: 'image/jpeg', alt: `A hill under a pale sun (hue ${hue})` };
}

const SENTENCES = [
  'The lighthouse keeper counted the ships that passed the headland every evening, writing their names in a notebook whose pages had long since turned the colour of weak tea.',
  'Nobody in the village remembered when the road to the north had last been repaired, and the children made a game of naming each pothole after a famous explorer.',
  'She folded the letter twice, put it back in its envelope and watched the rain draw long, uncertain lines across the window of the morning train.',
  'Somewhere beyond the orchard a dog barked at nothing in particular, and the old man laughed, because he had done exactly the same thing at that age.',
  'By noon the market square was full of merchants arguing over the price of apples, salt and the unreasonably beautiful blue pottery from the coast.',
  'The map was wrong, of course; maps of that valley were always wrong, drawn by people who had never walked further than the first bend of the river.',
];

/** Paragraphs of varied length (1 to 6 sentences), different for each chapter. */
export function englishProse(chapter: number, paragraphs: number): string[] {
  return Array.from({ length: paragraphs }, (_, i) => {
    const n = 1 + ((i * 7 + chapter * 3) % 6);
    return Array.from({ length: n }, (_, k) => SENTENCES[(i + k + chapter) % SENTENCES.length]).join(' ');
  });
}

function base(over: Partial<RenderBook> & Pick<RenderBook, 'title' | 'chapters'>, cover: RenderImage): RenderBook {
  return {
    id: '6f1c1f8e-9a51-4c1e-8a57-0d1e6a1f0a16',
    author: 'Ada Quill',
    language: 'en',
    description: 'A book made for the render tests.',
    keywords: ['test', 'book'],
    cover,
    credits: ['text-model', 'image-model'],
    modified: '2026-12-05T12:00:00Z',
    ...over,
  };
}

export async function englishBook(chapters: number): Promise<RenderBook> {
  const pics = await Promise.all([picture(200), picture(20), picture(120)]);
  return base(
    {
      title: `The Keeper of ${chapters} Lights`,
      subtitle: 'A novel in short chapters',
      chapters: Array.from({ length: chapters }, (_, i) => ({
        index: i + 1,
        title: i % 5 === 3 ? `A rather longer chapter title, number ${i + 1}, about the weather and the sea` : `Chapter ${i + 1}: The ${['Harbour', 'Orchard', 'Letter', 'Market', 'Map'][i % 5]}`,
        paragraphs: englishProse(i + 1, 9 + ((i * 5) % 9)),
        image: i % 3 === 1 ? undefined : pics[i % 3],
      })),
    },
    pics[0],
  );
}

/** Paragraphs mixing scripts; the first starts with an Arabic word (the bidi case of the issue). */
export const MIXED_PARAGRAPHS = [
  'القاهرة looked exactly the same as the last time, and nobody spoke of the letter that had a القاهرة postmark.',
  '東京の朝は静かだった。駅のホームには、まだ誰もいない。彼女は手紙をもう一度読んだ。',
  '北京的秋天很短，树叶一夜之间就变黄了。我们在胡同里走了很久，谁也没有说话。',
  'الرسالة وصلت في الصباح، وكانت مكتوبة بخط جميل وواضح. قرأها مرتين ثم وضعها على الطاولة.',
  'המכתב הגיע בבוקר, והיא קראה אותו פעמיים לפני שהניחה אותו על השולחן.',
  'Письмо пришло утром; она прочитала его дважды и положила на стол рядом с чашкой чая.',
  'Ἡ ἐπιστολὴ ἔφτασε τὸ πρωί· τὴν διάβασε δύο φορὲς καὶ τὴν ἄφησε στὸ τραπέζι.',
  'The dragon 🐉 sent a letter ✉ with a smile 😀 and a heart ❤️ to <A & B> "Q" \'S\' — all at once.',
];

export async function mixedBook(title = 'Letters from Five Cities'): Promise<RenderBook> {
  const pics = await Promise.all([picture(260), picture(40)]);
  return base(
    {
      title,
      description: 'Letters <between> cities & "friends" — 東京, القاهرة, ירושלים, Москва, Ἀθῆναι 🐉.',
      keywords: ['letters', '東京', 'القاهرة', 'a&b <c>'],
      chapters: [
        { index: 1, title: '東京 — Tokyo', paragraphs: [...MIXED_PARAGRAPHS, ...englishProse(1, 6), ...MIXED_PARAGRAPHS.slice(1, 3).map((p) => p.repeat(6))], image: pics[1] },
        { index: 2, title: 'القاهرة <Cairo> & "friends"', paragraphs: [MIXED_PARAGRAPHS[3].repeat(12), ...englishProse(2, 4), MIXED_PARAGRAPHS[0]] },
        { index: 3, title: 'ירושלים · Москва · Ἀθῆναι 🐉', paragraphs: [MIXED_PARAGRAPHS[4].repeat(10), MIXED_PARAGRAPHS[5].repeat(8), MIXED_PARAGRAPHS[6].repeat(8), MIXED_PARAGRAPHS[7]], image: pics[0] },
      ],
    },
    pics[0],
  );
}

export const HOSTILE_TITLE = 'Letters: 東京 ✉ القاهرة ↔ ירושלים 🐉 <A & B> "Q" \'S\'';

export async function arabicBook(): Promise<RenderBook> {
  const pics = await Promise.all([picture(30), picture(160)]);
  const para = 'كان الصباح هادئاً في المدينة القديمة، والناس يمشون ببطء في الأسواق الضيقة بين الدكاكين الصغيرة.';
  return base(
    {
      title: 'رسائل من القاهرة',
      author: 'ليلى حسن',
      language: 'ar',
      description: 'كتاب قصير للاختبار.',
      keywords: ['رسائل'],
      chapters: Array.from({ length: 4 }, (_, i) => ({
        index: i + 1,
        title: ['الفصل الأول', 'الفصل الثاني: السوق', 'الفصل الثالث', 'الفصل الرابع (2026)'][i],
        paragraphs: Array.from({ length: 10 }, (_, k) => `${para.repeat(1 + ((k + i) % 4))} ${k + 1}.`),
        image: i % 2 ? undefined : pics[i / 2],
      })),
    },
    pics[0],
  );
}

/**
 * A word in each of many scripts beyond the six of the mixed book, with the font family that
 * must draw it. `extracts`: poppler reads the word back as typed (it does not for scripts
 * whose shaping splits or reorders vowel signs, Khmer, Sinhala, Tibetan, or for N'Ko and
 * Thaana, which it does not read right to left).
 */
export const SCRIPT_PROBES: Array<{ script: string; word: string; font: RegExp; extracts: boolean }> = [
  { script: 'Georgian', word: 'გამარჯობა', font: /Georgian|DejaVu/, extracts: true },
  { script: 'Armenian', word: 'Բարեւ', font: /Armenian|DejaVu/, extracts: true },
  { script: 'Ethiopic', word: 'ሰላም', font: /NotoSansEthiopic/, extracts: true },
  { script: 'Thai', word: 'สวัสดี', font: /NotoSansThai/, extracts: true },
  { script: 'Lao', word: 'ສະບາຍດີ', font: /Lao|DejaVu/, extracts: true },
  { script: 'Khmer', word: 'សួស្តី', font: /NotoSansKhmer/, extracts: false },
  { script: 'Tamil', word: 'வணக்கம்', font: /NotoSansTamil/, extracts: true },
  { script: 'Devanagari', word: 'नमस्ते', font: /NotoSansDevanagari/, extracts: true },
  { script: 'Sinhala', word: 'ආයුබෝවන්', font: /NotoSansSinhala/, extracts: false },
  { script: 'Tibetan', word: 'བཀྲ་ཤིས', font: /Tibetan/, extracts: false },
  { script: 'Myanmar', word: 'မင်္ဂလာပါ', font: /NotoSansMyanmar/, extracts: true },
  { script: 'Cherokee', word: 'ᏣᎳᎩ', font: /NotoSansCherokee/, extracts: true },
  { script: 'Canadian Aboriginal', word: 'ᐊᐃᓐᓇᐅᓯᖅ', font: /CanadianAboriginal|DejaVu/, extracts: true },
  { script: 'Syriac', word: 'ܫܠܡܐ', font: /NotoSansSyriac/, extracts: true },
  { script: 'Thaana', word: 'ދިވެހި', font: /NotoSansThaana/, extracts: false },
  { script: 'Hangul', word: '안녕하세요', font: /KR|CJK/, extracts: true },
  { script: 'Yi', word: 'ꆈꌠ', font: /NotoSansYi/, extracts: true },
  { script: 'Mongolian', word: 'ᠮᠣᠩᠭᠣᠯ', font: /NotoSansMongolian/, extracts: true },
];

export async function scriptsBook(): Promise<RenderBook> {
  const b = await englishBook(1);
  return {
    ...b,
    title: `Greetings: ${SCRIPT_PROBES.slice(0, 4).map((p) => p.word).join(' ')}`,
    chapters: [{ index: 1, title: 'Hello in many scripts', paragraphs: SCRIPT_PROBES.map((p) => `In ${p.script}: ${p.word} — hello.`) }],
  };
}

export async function watermarkedBook(): Promise<RenderBook> {
  const b = await englishBook(5);
  return { ...b, title: 'A Free Book & <Friends>', watermark: 'Made with the free plan of Ebook Engine <example.invalid> & more' };
}

/** The whole matrix, by a short name used for file names. */
export async function bookMatrix(): Promise<Array<{ name: string; book: RenderBook }>> {
  return [
    { name: 'english-5', book: await englishBook(5) },
    { name: 'english-24', book: await englishBook(24) },
    { name: 'mixed', book: await mixedBook() },
    { name: 'hostile-title', book: await mixedBook(HOSTILE_TITLE) },
    { name: 'arabic', book: await arabicBook() },
    { name: 'watermarked', book: await watermarkedBook() },
    { name: 'scripts', book: await scriptsBook() },
  ];
}
