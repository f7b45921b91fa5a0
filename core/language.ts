/**
 * The language a text is really in, for a book asked in one language and written
 * by a writer that may not write it (the offline writer writes English only; a
 * small local base model mostly writes English). The files are set in the language
 * of their text: `lang`, direction, hyphenation, the contents heading.
 *
 * A small detector is enough here, since it only has to tell whether the text is in the
 * language asked for: first the script (Arabic letters are not English), then, for
 * Latin-script text, the share of each language's commonest words. An npm detector
 * (franc) would name more languages, but every one it names beyond these has no
 * labels, hyphenation or direction of its own in the renderers, so the engine could
 * do nothing more with them.
 */

/** The script a language is written in (primary subtag → ISO 15924-like code); unlisted: Latin. */
const SCRIPT_OF: Record<string, string> = {
  ar: 'Arab', fa: 'Arab', ur: 'Arab', ps: 'Arab', sd: 'Arab', ug: 'Arab', ckb: 'Arab',
  he: 'Hebr', yi: 'Hebr',
  ru: 'Cyrl', uk: 'Cyrl', bg: 'Cyrl', be: 'Cyrl', mk: 'Cyrl', kk: 'Cyrl', ky: 'Cyrl', mn: 'Cyrl', tg: 'Cyrl', sr: 'Cyrl',
  el: 'Grek',
  zh: 'Hani', ja: 'Jpan', ko: 'Hang',
  th: 'Thai', lo: 'Laoo', km: 'Khmr', my: 'Mymr',
  hi: 'Deva', mr: 'Deva', ne: 'Deva', sa: 'Deva',
  bn: 'Beng', as: 'Beng', pa: 'Guru', gu: 'Gujr', ta: 'Taml', te: 'Telu', kn: 'Knda', ml: 'Mlym', si: 'Sinh',
  ka: 'Geor', hy: 'Armn', am: 'Ethi', ti: 'Ethi', dv: 'Thaa',
};

/** The language a script's text is taken to be in when it is not the one asked for. */
const DEFAULT_OF_SCRIPT: Record<string, string> = {
  Arab: 'ar', Hebr: 'he', Cyrl: 'ru', Grek: 'el', Hani: 'zh', Jpan: 'ja', Hang: 'ko', Thai: 'th', Laoo: 'lo', Khmr: 'km',
  Mymr: 'my', Deva: 'hi', Beng: 'bn', Guru: 'pa', Gujr: 'gu', Taml: 'ta', Telu: 'te', Knda: 'kn', Mlym: 'ml', Sinh: 'si',
  Geor: 'ka', Armn: 'hy', Ethi: 'am', Thaa: 'dv',
};

const SCRIPT_TESTS: Array<[string, RegExp]> = [
  ['Latn', /\p{Script=Latin}/u],
  ['Arab', /\p{Script=Arabic}/u],
  ['Hebr', /\p{Script=Hebrew}/u],
  ['Cyrl', /\p{Script=Cyrillic}/u],
  ['Grek', /\p{Script=Greek}/u],
  ['Kana', /[\p{Script=Hiragana}\p{Script=Katakana}]/u],
  ['Hani', /\p{Script=Han}/u],
  ['Hang', /\p{Script=Hangul}/u],
  ['Thai', /\p{Script=Thai}/u],
  ['Laoo', /\p{Script=Lao}/u],
  ['Khmr', /\p{Script=Khmer}/u],
  ['Mymr', /\p{Script=Myanmar}/u],
  ['Deva', /\p{Script=Devanagari}/u],
  ['Beng', /\p{Script=Bengali}/u],
  ['Guru', /\p{Script=Gurmukhi}/u],
  ['Gujr', /\p{Script=Gujarati}/u],
  ['Taml', /\p{Script=Tamil}/u],
  ['Telu', /\p{Script=Telugu}/u],
  ['Knda', /\p{Script=Kannada}/u],
  ['Mlym', /\p{Script=Malayalam}/u],
  ['Sinh', /\p{Script=Sinhala}/u],
  ['Geor', /\p{Script=Georgian}/u],
  ['Armn', /\p{Script=Armenian}/u],
  ['Ethi', /\p{Script=Ethiopic}/u],
  ['Thaa', /\p{Script=Thaana}/u],
];

/** The commonest words of the Latin-script languages the renderers have labels for. */
const STOPWORDS: Record<string, ReadonlySet<string>> = Object.fromEntries(
  Object.entries({
    en: 'the and of to a in was he she it that his her had with for as on at but they not from by said were be there their all out into up one when what so this then no',
    fr: 'le la les et de des un une du est il elle dans que qui pour pas sur au aux avec se ne son sa ses mais était nous vous ils elles ce cette',
    es: 'el la los las y de del un una que en es por con para no se su sus al lo como más pero era fue le ella ellos ya muy',
    de: 'der die das und ist nicht ein eine zu den dem des mit sich auf für im von sie er es war aber auch wie noch nach wir ihr',
    it: 'il lo la gli le e di del della un una che non per con su è era si ma come anche sono alla nel ha lei lui',
    pt: 'o a os as e de do da dos das um uma que não em no na com para por se mas ele ela era foi seu sua também muito',
    nl: 'de het een en van in is dat niet zijn op te met voor er maar hij zij ze ook als bij was om aan dan nog',
    pl: 'i w na z nie się że do to jest jak o po co ale za od tak już jego jej był była przez dla',
    sv: 'och att det som en på är av för med till den inte har de om var ett men hon han sig så',
  }).map(([lang, words]) => [lang, new Set(words.split(' '))]),
);

/** The primary subtag of a BCP 47 tag, lower-cased ('ar' of 'ar-EG'). */
export function primaryLanguage(tag: string | undefined): string {
  return (tag ?? 'en').trim().toLowerCase().split(/[-_]/)[0] || 'en';
}

/** The script a language is written in ('Latn' unless listed). */
export function scriptOfLanguage(tag: string): string {
  const lower = tag.toLowerCase();
  // A script subtag says it outright (sr-Latn, zh-Hant).
  const sub = /(?:^|[-_])(latn|cyrl|arab|hant|hans)(?:$|[-_])/.exec(lower)?.[1];
  if (sub) return sub === 'hant' || sub === 'hans' ? 'Hani' : sub[0].toUpperCase() + sub.slice(1);
  return SCRIPT_OF[primaryLanguage(tag)] ?? 'Latn';
}

/** The script most of the text's letters are in, and the share of letters it holds. */
export function dominantScript(text: string): { script: string; share: number } | undefined {
  const counts = new Map<string, number>();
  let letters = 0;
  // A sample is enough: a book's script does not change half-way.
  for (const ch of text.slice(0, 20_000)) {
    if (!/\p{L}/u.test(ch)) continue;
    letters++;
    const found = SCRIPT_TESTS.find(([, re]) => re.test(ch));
    if (found) counts.set(found[0], (counts.get(found[0]) ?? 0) + 1);
  }
  if (letters === 0) return undefined;
  // Japanese mixes kana with Han: any real share of kana makes the text Japanese.
  if ((counts.get('Kana') ?? 0) > 0.05 * letters) return { script: 'Jpan', share: ((counts.get('Kana') ?? 0) + (counts.get('Hani') ?? 0)) / letters };
  const [script, n] = [...counts].sort((a, b) => b[1] - a[1])[0] ?? ['Latn', 0];
  return { script, share: n / letters };
}

/** Each known Latin-script language's share of the text's words that are its commonest words. */
function stopwordShares(text: string): Array<{ lang: string; share: number }> {
  const words = (text.slice(0, 20_000).toLowerCase().match(/\p{L}+(?:['’]\p{L}+)?/gu) ?? []).slice(0, 3000);
  if (words.length === 0) return [];
  return Object.entries(STOPWORDS)
    .map(([lang, set]) => ({ lang, share: words.filter((w) => set.has(w)).length / words.length }))
    .sort((a, b) => b.share - a.share);
}

/**
 * The language `text` is in, given the one it was asked in: the requested tag when
 * the text may well be in it, else the language the text shows (by script; by
 * commonest words among Latin-script languages). Short or empty text keeps the
 * requested tag: there is too little to tell.
 */
export function textLanguage(requested: string | undefined, text: string): string {
  const asked = (requested ?? 'en').trim() || 'en';
  const found = dominantScript(text);
  if (!found || text.replace(/\s+/g, '').length < 40) return asked;
  const askedScript = scriptOfLanguage(asked);
  // Serbian is written in both alphabets; Japanese text may be mostly Han.
  const sameScript =
    found.script === askedScript ||
    (primaryLanguage(asked) === 'sr' && (found.script === 'Latn' || found.script === 'Cyrl')) ||
    (askedScript === 'Jpan' && found.script === 'Hani');
  if (sameScript) {
    if (found.script !== 'Latn') return asked;
    const shares = stopwordShares(text);
    const best = shares[0];
    const mine = shares.find((s) => s.lang === primaryLanguage(asked))?.share ?? 0;
    // Clearly another language's text: a real share of its commonest words, far more than the asked one's.
    if (best && best.lang !== primaryLanguage(asked) && best.share >= 0.12 && best.share >= 3 * mine) return best.lang;
    return asked;
  }
  if (found.script === 'Latn') {
    const best = stopwordShares(text)[0];
    return best && best.share >= 0.05 ? best.lang : 'en';
  }
  return DEFAULT_OF_SCRIPT[found.script] ?? asked;
}

/** True when two tags name the same language (their primary subtags agree). */
export function sameLanguage(a: string | undefined, b: string | undefined): boolean {
  return primaryLanguage(a) === primaryLanguage(b);
}

/** A language's English name ("Arabic" for 'ar'); the tag itself when ICU does not know it. */
export function languageName(tag: string | undefined): string {
  const t = (tag ?? 'en').trim() || 'en';
  try {
    return new Intl.DisplayNames(['en'], { type: 'language' }).of(t) ?? t;
  } catch {
    return t;
  }
}
