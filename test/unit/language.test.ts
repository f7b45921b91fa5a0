/**
 * The language a text is really in (core/language.ts), against the one asked for, and
 * what the status says when they differ (activities/text-language.ts).
 */
import assert from 'node:assert/strict';
import { languageName, scriptOfLanguage, textLanguage } from '../../core/language';
import { languageNotice } from '../../activities/text-language';
import { createOfflineTextProvider } from '../../activities/providers/offline-text';
import { briefSchema } from '../../core/brief';
import { chapterOpening, planFromBrief } from '../../activities/providers/local-plan';

const EN = 'The wind came in off the water and rattled the shutters of the old house. Mara stood at the window and counted the lights along the harbour.';
const FR = 'Le vent venait de la mer et faisait trembler les volets de la vieille maison. Mara était à la fenêtre et comptait les lumières du port.';
const DE = 'Der Wind kam vom Wasser und rüttelte an den Fensterläden des alten Hauses. Mara stand am Fenster und zählte die Lichter im Hafen.';
const AR = 'هبّت الريح من جهة البحر وهزّت نوافذ البيت القديم. وقفت مارا عند النافذة تعدّ أضواء الميناء واحدًا بعد الآخر.';
const HE = 'הרוח באה מן הים והרעידה את התריסים של הבית הישן. מרה עמדה ליד החלון וספרה את האורות בנמל.';
const JA = 'これは灯台守と機械仕掛けのカモメの物語です。二人は夜の海を越えて光を追いかけました。';
const ZH = '这是一个关于灯塔看守人和发条海鸥的故事，他们一起穿越大海，追寻远方的光。';
const RU = 'Ветер дул с моря и тряс ставни старого дома. Мара стояла у окна и считала огни в гавани.';

describe('the language a text is really in', () => {
  it('keeps the language asked for when the text is in it', () => {
    assert.equal(textLanguage('ar', AR), 'ar');
    assert.equal(textLanguage('ar-EG', AR), 'ar-EG');
    assert.equal(textLanguage('fa', AR), 'fa', 'same script: the asked language stands');
    assert.equal(textLanguage('he', HE), 'he');
    assert.equal(textLanguage('fr', FR), 'fr');
    assert.equal(textLanguage('de', DE), 'de');
    assert.equal(textLanguage('ja', JA), 'ja');
    assert.equal(textLanguage('zh', ZH), 'zh');
    assert.equal(textLanguage('ru', RU), 'ru');
    assert.equal(textLanguage('en', EN), 'en');
    assert.equal(textLanguage(undefined, EN), 'en');
  });

  it('names the text\'s language when it is another: by script, and by common words in Latin script', () => {
    assert.equal(textLanguage('ar', EN), 'en');
    assert.equal(textLanguage('he', EN), 'en');
    assert.equal(textLanguage('ja', EN), 'en');
    assert.equal(textLanguage('fr', EN), 'en');
    assert.equal(textLanguage('sw', EN), 'en', 'a Latin-script language without a word list: English words still tell');
    assert.equal(textLanguage('en', AR), 'ar');
    assert.equal(textLanguage('en', FR), 'fr');
    assert.equal(textLanguage('en', JA), 'ja');
    assert.equal(textLanguage('de', RU), 'ru');
  });

  it('too little text to tell keeps the asked language', () => {
    assert.equal(textLanguage('ar', 'Hello'), 'ar');
    assert.equal(textLanguage('ar', ''), 'ar');
  });

  it('scripts and names of languages', () => {
    assert.equal(scriptOfLanguage('ar'), 'Arab');
    assert.equal(scriptOfLanguage('sr-Latn'), 'Latn');
    assert.equal(scriptOfLanguage('sw'), 'Latn');
    assert.equal(languageName('ar'), 'Arabic');
    assert.equal(languageName('he'), 'Hebrew');
  });

  it('the offline writer writes English whatever is asked, and the notice says so in words', async () => {
    const brief = briefSchema.parse({ prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 1, language: 'ar' });
    const offline = createOfflineTextProvider();
    const { outline } = await offline.writeOutline(brief);
    const chapter = await offline.writeChapter({ brief, outline, chapter: outline.chapters[0], previousSummaries: [] });
    assert.equal(textLanguage('ar', chapter.paragraphs.join('\n\n')), 'en');
    assert.equal(languageNotice('offline', 'ar', 'en'), 'The offline writer writes English only; the book is set in English rather than Arabic.');
    assert.equal(languageNotice('local', 'fr', 'en'), 'The local writer wrote this book in English rather than French; the book is set in English.');
  });

  it('the local model\'s crafted opening names a language other than English', () => {
    const opening = (language?: string) => {
      const brief = briefSchema.parse({ prompt: 'A lighthouse keeper befriends a clockwork gull', chapterCount: 2, language });
      const outline = planFromBrief(brief);
      return chapterOpening({ brief, outline, chapter: outline.chapters[0], previousSummaries: [] }).prompt;
    };
    assert.match(opening('ar'), /^[^\n]+\nWritten in Arabic\n/);
    assert.doesNotMatch(opening('en'), /Written in/);
    assert.doesNotMatch(opening(undefined), /Written in/);
  });
});
