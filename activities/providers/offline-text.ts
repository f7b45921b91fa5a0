/**
 * The offline text provider: a deterministic story writer driven by the brief.
 *
 * It needs no network and no model. Everything is derived from a PRNG seeded by
 * a hash of the brief, so the same brief always gives the same book (workflow
 * retries and replays stay stable) while different prompts give different
 * titles, people, places and prose. The prompt's own salient words are woven
 * into titles and text so the book is recognisably "about" what was asked.
 */
import type { ChapterRequest, ChapterResult, Outline, OutlineChapter, OutlineCharacter, OutlineResult, TextProvider } from './types';
import { findArchetype, getEra, type Era, type EraArchetype } from '../../core/eras';
import type { BookBrief } from '../../core/brief';

const MODEL = 'offline-writer-1';
/** Upper bound on chapters, far above the API's 24, so a bad caller fails fast instead of looping. */
const MAX_CHAPTERS = 100;

// ---------------------------------------------------------------------------
// Deterministic randomness

/** 32-bit FNV-1a over UTF-16 code units, then a murmur3-style finaliser to spread the bits. */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** mulberry32: tiny, fast and good enough for choosing words and shapes. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export class Rng {
  private readonly next: () => number;
  constructor(seed: number) {
    this.next = mulberry32(seed);
  }
  float(): number {
    return this.next();
  }
  /** Integer in [min, max], both inclusive. */
  int(min: number, max: number): number {
    return min + Math.floor(this.next() * (max - min + 1));
  }
  range(min: number, max: number): number {
    return min + this.next() * (max - min);
  }
  chance(p: number): boolean {
    return this.next() < p;
  }
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new Error('Rng.pick on an empty list');
    return items[Math.floor(this.next() * items.length)];
  }
  shuffle<T>(items: readonly T[]): T[] {
    const out = items.slice();
    for (let i = out.length - 1; i > 0; i--) {
      const j = Math.floor(this.next() * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }
}

/**
 * Draws items in shuffled order and reshuffles only when all were used, so a
 * chapter does not repeat a sentence pattern until it has used every one.
 */
class Deck<T> {
  private pile: T[] = [];
  private last: T | undefined;
  constructor(
    private readonly items: readonly T[],
    private readonly rng: Rng,
  ) {}
  draw(): T {
    if (this.pile.length === 0) {
      this.pile = this.rng.shuffle(this.items);
      // Avoid the same item at the seam between two shuffles.
      if (this.pile.length > 1 && this.pile[this.pile.length - 1] === this.last) {
        [this.pile[0], this.pile[this.pile.length - 1]] = [this.pile[this.pile.length - 1], this.pile[0]];
      }
    }
    const item = this.pile.pop() as T;
    this.last = item;
    return item;
  }
}

// ---------------------------------------------------------------------------
// Key words of the prompt

const STOPWORDS = new Set(
  (
    'a an the and or but nor so yet if then than that this these those there here where when while why how what which who whom whose ' +
    'i me my mine we us our ours you your yours he him his she her hers it its they them their theirs one ones someone something anyone anything everyone everything nothing ' +
    'is am are was were be been being have has had having do does did doing done will would shall should can could may might must ought ' +
    'of in on at to for from by with without within into onto upon about above below over under between among through across around along after before during until since ' +
    'against toward towards near off out up down away back again once also only just very really quite rather too still even ever never always often sometimes ' +
    'not no yes all any each every both few many much more most other some such own same another lot lots kind sort type way ways ' +
    'write writes writing written wrote create creates make makes made generate tell tells told give gives want wants like likes need needs please ' +
    'story stories book books ebook ebooks tale tales novel novella chapter chapters page pages illustrated illustration picture kids children childrens ' +
    'get gets got go goes going went come comes came find finds found learn learns learned become becomes became try tries tried ' +
    'night nights midnight morning evening afternoon day days time times today tonight year years ' +
    'named called set sets about little big small new old young good great bad best better first last long short ' +
    'get whose yet let lets us its it\'s i\'m don\'t can\'t won\'t who\'s that\'s'
  ).split(/\s+/),
);

/**
 * Common story verbs in all their simple forms. English prompts often put one
 * straight after the subject ("a violinist joins a circus"), where nothing else
 * marks it as a verb; treating them as stopwords keeps them out of titles.
 */
const STORY_VERBS = new Set(
  (
    'join find meet discover learn befriend save love want fight travel search return help open lead fall run live visit ' +
    'explore solve escape build hunt steal start decide leave take bring keep lose protect rescue chase follow win seek try ' +
    'grow move fly sail hide wake sing wander stumble uncover investigate confront navigate struggle begin turn realize realise ' +
    'need hope plan meet save teach tell write fix'
  )
    .split(/\s+/)
    .flatMap((v) => [v, `${v}s`, `${v}es`, v.endsWith('y') ? `${v.slice(0, -1)}ies` : v]),
);
for (const v of ['goes', 'has', 'does', 'is', 'was', 'flies', 'tries', 'began', 'found', 'met', 'lost', 'won', 'fell', 'ran', 'took', 'brought', 'kept', 'left', 'sought', 'grew', 'flew', 'hid', 'woke', 'sang', 'taught', 'told', 'wrote']) {
  STORY_VERBS.add(v);
}

/** Function words that glue Chinese phrases together; splitting on them leaves the content words. */
const HAN_GLUE = /[的了在是和与及一个只里我你他她它们这那有写把被从向对为也都就很之于而并或]+|关于|故事|一本|一个/u;
const NO_SPACE_SCRIPT = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Thai}\p{Script=Lao}\p{Script=Khmer}\p{Script=Myanmar}]/u;
/** Words that usually open a noun phrase: the word after them is likely a thing, not an action. */
const DETERMINERS = new Set([
  'a', 'an', 'the', 'my', 'your', 'his', 'her', 'their', 'our', 'its', 'this', 'that', 'these', 'those',
  'of', 'about', 'in', 'on', 'at', 'from', 'with', 'into', 'under', 'over', 'near', 'through', 'across', 'beyond', 'between', 'among', 'for',
]);
const VERB_CUES = new Set(['who', 'to', 'will', 'can', 'must', 'and']);

export interface KeyWord {
  /** As it appears in prose: lower case, except proper nouns. */
  text: string;
  /** Title-cased, for titles. */
  title: string;
  proper: boolean;
  /** Heads a noun phrase (or is a proper noun or a CJK word): safe after "the". */
  nounish: boolean;
}

function titleCase(word: string): string {
  if (!word) return word;
  const first = String.fromCodePoint(word.codePointAt(0) as number);
  return first.toLocaleUpperCase() + word.slice(first.length);
}

function capitalizeFirst(s: string): string {
  // Skip opening quotes/brackets so “we... becomes “We...
  const m = /^([\s“"‘'(\[]*)(\p{Ll})/u.exec(s);
  return m ? m[1] + m[2].toLocaleUpperCase() + s.slice(m[0].length) : s;
}

/** Splits runs of scripts written without spaces into plausible word pieces. */
function splitRun(run: string): string[] {
  if (!NO_SPACE_SCRIPT.test(run)) return [run];
  let pieces = run.split(HAN_GLUE);
  // Japanese: kanji/katakana compounds separated by hiragana particles and endings.
  pieces = pieces.flatMap((p) => p.split(/\p{Script=Hiragana}+/u));
  // Thai and friends have no separators we can find cheaply; keep a short head.
  return pieces.filter(Boolean).map((p) => (p.length > 8 ? p.slice(0, 8) : p));
}

/**
 * Picks the prompt's salient words: content words that head a noun phrase
 * ("a brave lighthouse *keeper*") rank first, modifiers next; verbs after
 * "who/to" and -ly adverbs sink. Works on any script (Unicode letter classes).
 */
export function keyWords(prompt: string, max = 6): KeyWord[] {
  // Tags like <b> or <script> are markup pasted along, not what the story is about.
  const text = prompt.normalize('NFC').replace(/<\/?[a-z][^<>]*>/gi, ' ');
  // Apostrophes and hyphens stay inside a word: "neon-lit", "o'clock".
  const tokenRe = /[\p{L}\p{M}]+(?:['’\-‐][\p{L}\p{M}]+)*/gu;
  interface Tok {
    raw: string;
    lower: string;
    start: number;
    end: number;
  }
  const toks: Tok[] = [];
  for (const m of text.matchAll(tokenRe)) {
    const start = m.index ?? 0;
    let offset = start;
    for (const piece of splitRun(m[0])) {
      const at = text.indexOf(piece, offset);
      const s = at >= 0 ? at : offset;
      toks.push({ raw: piece, lower: piece.toLocaleLowerCase(), start: s, end: s + piece.length });
      offset = s + piece.length;
    }
  }

  const scores = new Map<string, { kw: KeyWord; score: number; first: number }>();
  let phrase: number[] = [];
  let phraseAfter = '';
  let phraseNo = 0;
  const flush = () => {
    if (phrase.length === 0) return;
    // The subject of a request usually comes first: favour early phrases a little.
    const early = Math.max(0, 2 - phraseNo * 0.5);
    phraseNo++;
    phrase.forEach((ti, k) => {
      const t = toks[ti];
      const isHead = k === phrase.length - 1;
      const unspaced = NO_SPACE_SCRIPT.test(t.raw);
      const len = [...t.raw].length;
      let score = (unspaced ? Math.min(len, 4) * 1.2 : Math.min(len, 8) * 0.3) + early;
      if (isHead) score += 3;
      const nounCue = DETERMINERS.has(phraseAfter);
      if (nounCue) score += isHead ? 2 : 1;
      const verbish = VERB_CUES.has(phraseAfter) && k === 0;
      if (verbish) score -= 5;
      let latinPenalty = false;
      if (/\p{Script=Latin}/u.test(t.raw)) {
        if (/ly$/.test(t.lower)) (score -= 4), (latinPenalty = true);
        if (/(ing|ed)$/.test(t.lower) && len > 4) (score -= 3), (latinPenalty = true);
      }
      // A capital in mid-sentence marks a proper noun (a name, a city).
      const proper = /^\p{Lu}/u.test(t.raw) && ti > 0 && !/[.!?]\s*$/.test(text.slice(0, t.start));
      if (proper) score += 2;
      const key = t.lower;
      const prev = scores.get(key);
      if (prev) {
        prev.score += 2;
        if (isHead && !verbish) prev.kw.nounish = true;
      } else {
        const nounish = proper || unspaced || (isHead && !verbish && !latinPenalty);
        scores.set(key, {
          kw: { text: proper ? t.raw : t.lower, title: titleCase(proper ? t.raw : t.lower), proper, nounish },
          score,
          first: ti,
        });
      }
    });
    phrase = [];
  };

  // A phrase is a run of content words between stopwords or punctuation;
  // `phraseAfter` is the stopword just before it ('' after punctuation).
  toks.forEach((t, i) => {
    const gap = i > 0 ? text.slice(toks[i - 1].end, t.start) : '';
    if (/\S/u.test(gap)) {
      flush();
      phraseAfter = '';
    }
    const unspaced = NO_SPACE_SCRIPT.test(t.raw);
    const minLen = unspaced ? 1 : 3;
    if (STOPWORDS.has(t.lower) || STORY_VERBS.has(t.lower) || [...t.raw].length < minLen) {
      flush();
      phraseAfter = t.lower;
      return;
    }
    // A Latin -ing word (a verb, mostly) splits "cat solving mysteries" into two phrases.
    const gerund = /\p{Script=Latin}/u.test(t.raw) && /ing$/.test(t.lower) && [...t.raw].length > 4;
    if (gerund) {
      flush();
      phraseAfter = '';
    }
    phrase.push(i);
    if (gerund) {
      flush();
      phraseAfter = t.lower;
    }
    if (unspaced) {
      flush(); // each CJK piece stands alone
      phraseAfter = '';
    }
  });
  flush();

  const ranked = [...scores.values()].sort((a, b) => b.score - a.score || a.first - b.first).map((s) => s.kw);
  // Nouns first: they are what gets "the" in front of it in titles and prose.
  return [...ranked.filter((k) => k.nounish), ...ranked.filter((k) => !k.nounish)].slice(0, max);
}

// ---------------------------------------------------------------------------
// Story world: everything derived from the brief alone, shared by outline and chapters

type SceneId = 'sea' | 'forest' | 'city' | 'mountains' | 'countryside' | 'theatre';

interface Scene {
  kinds: string[];
  features: string[];
  sounds: string[];
  smells: string[];
  sights: string[];
  cues: string[];
}

const SCENES: Record<SceneId, Scene> = {
  sea: {
    kinds: ['harbour town', 'fishing village', 'island town', 'seaside town'],
    features: ['the harbour wall', 'the lighthouse steps', 'the fish market', 'the crooked pier', 'the boathouse', 'the salt-bleached promenade', 'the tide pools', 'the chandler’s shop'],
    sounds: ['gulls arguing overhead', 'water slapping against the hulls', 'a foghorn far out at sea', 'rigging clinking in the wind', 'the tide hissing on the shingle'],
    smells: ['salt and tar', 'fresh bread from the quayside bakery', 'seaweed drying on the rocks', 'rain on warm stone', 'woodsmoke from the net sheds'],
    sights: ['boats rocking at their moorings', 'a line of washing snapping in the wind', 'the lighthouse beam sweeping the water', 'silver light on the waves', 'nets piled like sleeping animals'],
    cues: ['sea', 'ocean', 'harbour', 'harbor', 'island', 'whale', 'ship', 'boat', 'lighthouse', 'beach', 'shore', 'sailor', 'pirate', 'fish', 'mermaid', 'coast', 'tide', 'wave', 'waves', 'море', '海'],
  },
  forest: {
    kinds: ['forest hamlet', 'valley village', 'woodland town', 'settlement by the lake'],
    features: ['the old oak at the crossroads', 'the mossy footbridge', 'the cabin by the lake', 'the fern-choked path', 'the ruined chapel', 'the creek', 'the woodpile behind the cabin', 'the lantern-lit porch'],
    sounds: ['an owl calling from the pines', 'the creek talking to itself', 'branches creaking in the wind', 'a small fire crackling', 'rain pattering on the leaves'],
    smells: ['pine resin', 'damp moss', 'woodsmoke', 'wild mint crushed underfoot', 'cold lake water'],
    sights: ['fog threading between the trees', 'a fox watching from the bracken', 'leaves turning gold at the edges', 'a trail of mushrooms on a fallen log', 'lamplight in a single window'],
    cues: ['forest', 'wood', 'woods', 'tree', 'trees', 'fox', 'owl', 'wolf', 'deer', 'cabin', 'fairy', 'witch', 'moss', 'mushroom', 'creek', 'lake', 'cardigan', 'лес', '森', '林'],
  },
  city: {
    kinds: ['city', 'river city', 'metropolis', 'city of bridges'],
    features: ['the rooftop garden', 'the all-night diner', 'the subway platform', 'the old record shop', 'the corner café', 'the bridge over the river', 'the fire escape', 'the crowded avenue'],
    sounds: ['taxis honking three streets away', 'a saxophone drifting from an open window', 'a train rumbling underground', 'music leaking from a bar', 'a neon sign buzzing'],
    smells: ['coffee and rain', 'hot pretzels from a street cart', 'wet pavement', 'jasmine from a balcony planter', 'fresh ink from the newsstand'],
    sights: ['neon reflected in the puddles', 'a thousand lit windows', 'pigeons bursting off a ledge', 'the skyline blurring in the haze', 'strangers hurrying under umbrellas'],
    cues: ['city', 'street', 'streets', 'neon', 'subway', 'apartment', 'rooftop', 'cafe', 'café', 'taxi', 'detective', 'office', 'skyscraper', 'york', 'london', 'paris', 'tokyo', 'город', '城市'],
  },
  mountains: {
    kinds: ['mountain town', 'high village', 'border town beneath the peaks', 'castle town'],
    features: ['the cable-car station', 'the stone bridge over the gorge', 'the chapel on the ridge', 'the shepherd’s hut', 'the frozen waterfall', 'the castle gate', 'the pass above the village', 'the inn with the green shutters'],
    sounds: ['wind moaning through the pass', 'cowbells far down the valley', 'ice cracking on the lake', 'stones tumbling somewhere far off', 'boots crunching on snow'],
    smells: ['snow and cold stone', 'pine smoke', 'hot chocolate from the inn', 'wet wool', 'wild thyme on the slopes'],
    sights: ['peaks catching the last light', 'clouds pouring over the ridge like milk', 'a hawk circling the gorge', 'prayer flags snapping in the wind', 'a path zigzagging into the mist'],
    cues: ['mountain', 'mountains', 'peak', 'snow', 'dragon', 'cave', 'glacier', 'castle', 'climb', 'winter', 'ice', 'горы', '山'],
  },
  countryside: {
    kinds: ['market town', 'farming village', 'river village', 'town of orchards'],
    features: ['the orchard wall', 'the village green', 'the old mill', 'the bakery on the square', 'the hay barn', 'the river ford', 'the churchyard gate', 'the flower market'],
    sounds: ['church bells counting the hour', 'bees busy in the lavender', 'a tractor grumbling in a far field', 'children shouting by the river', 'the mill wheel turning'],
    smells: ['cut grass', 'apples fallen in the long grass', 'warm bread', 'rain on dry earth', 'honeysuckle along the lane'],
    sights: ['fields stitched together by hedgerows', 'swallows skimming the river', 'a scarecrow leaning in the wind', 'bunting strung between the houses', 'long shadows across the fields'],
    cues: ['farm', 'village', 'garden', 'field', 'fields', 'orchard', 'horse', 'meadow', 'bakery', 'flower', 'flowers', 'apple', 'деревня', '村'],
  },
  theatre: {
    kinds: ['theatre district', 'city of stages', 'old music-hall town', 'carnival town'],
    features: ['the stage door', 'the dressing room with the cracked mirror', 'the velvet-curtained stage', 'the costume loft', 'the lobby with the chandelier', 'the box office', 'the rehearsal hall', 'the orchestra pit'],
    sounds: ['the orchestra tuning up', 'applause rolling like rain', 'a tap routine echoing in the corridor', 'the stage manager whistling for quiet', 'sequins rustling in the wings'],
    smells: ['greasepaint and hairspray', 'roses from the dressing rooms', 'dust warming on the hot lights', 'popcorn from the lobby', 'old velvet'],
    sights: ['a spotlight cutting through the haze', 'a rail of sequinned costumes', 'footlights glowing along the stage', 'an empty auditorium of red seats', 'a poster curling at the edges'],
    cues: ['stage', 'theatre', 'theater', 'show', 'showgirl', 'circus', 'dancer', 'singer', 'spotlight', 'curtain', 'musical', 'concert', 'band', 'song', 'songs', 'music', 'сцена', '舞台'],
  },
};

/** The scene an era suggests when the prompt does not; unknown eras fall back to the seed. */
const ERA_SCENES: Record<string, SceneId> = {
  showgirl: 'theatre',
  'folklore-evermore': 'forest',
  '1989': 'city',
  red: 'countryside',
  reputation: 'city',
  lover: 'countryside',
  midnights: 'city',
};

const ERA_WARDROBE: Record<string, string[]> = {
  showgirl: ['a sequinned jacket thrown over a plain rehearsal shirt', 'an orange feather boa worn with old boots', 'a mint-green stage dress with a torn hem'],
  'folklore-evermore': ['an oversized cream cardigan with a button missing', 'a plaid coat worn soft at the elbows', 'a knitted scarf the colour of autumn leaves'],
  '1989': ['a cropped jacket and white sneakers', 'a pleated skirt and a bomber jacket', 'polaroid-blue sunglasses pushed into their hair'],
  red: ['a long red scarf wound twice around the neck', 'a wool coat the colour of maple leaves', 'a striped sweater and a wide-brimmed hat'],
  reputation: ['a black coat with silver buttons', 'dark boots and a snake-shaped ring', 'a leather jacket with the collar turned up'],
  lover: ['a pastel jumper embroidered with hearts', 'a sky-blue dress with daisies on the pockets', 'a rainbow-striped scarf'],
  midnights: ['a velvet jacket scattered with tiny stars', 'a lavender sweater with sleeves over the hands', 'a midnight-blue coat with a glittering clasp'],
};

const WARDROBE = [
  'a patched wool coat with deep pockets',
  'a faded denim jacket covered in pins',
  'a green raincoat that has seen better days',
  'a hand-knitted jumper with uneven stripes',
  'a linen shirt rolled to the elbows',
  'a long grey coat and a satchel full of notebooks',
];

const HAIR = [
  'dark curls tied back with a ribbon',
  'a messy crop of copper hair',
  'long black braids threaded with beads',
  'straight hair the colour of wheat',
  'a silver streak through short dark hair',
  'wild auburn waves that never stay pinned',
  'close-cut black hair',
  'soft brown hair tucked behind one ear',
];

const EYES = [
  'grey eyes that miss nothing',
  'warm brown eyes quick to laugh',
  'green eyes behind round glasses',
  'dark, serious eyes',
  'hazel eyes flecked with gold',
  'pale blue eyes that always look half-asleep',
];

const DETAILS = [
  'a pencil always behind one ear',
  'a small scar across the chin',
  'ink-stained fingers',
  'a brass compass on a string',
  'a habit of humming under their breath',
  'freckles across the nose',
  'a key worn on a cord around the neck',
  'a dog-eared notebook never out of reach',
];

const TRAITS = [
  'curious', 'stubborn', 'kind', 'impatient', 'funny', 'careful', 'brave', 'shy', 'loyal', 'restless',
  'clever', 'dreamy', 'practical', 'honest', 'gentle', 'proud', 'generous', 'sharp-tongued', 'hopeful', 'anxious',
];

const EPITHET_NOUNS = ['dreamer', 'wanderer', 'apprentice', 'musician', 'baker', 'cartographer', 'student', 'inventor', 'storyteller', 'gardener', 'painter', 'messenger'];

const FIRST_NAMES = [
  'Mara', 'Theo', 'Ines', 'Kofi', 'Yuki', 'Elio', 'Priya', 'Soren', 'Lena', 'Amara', 'Jonah', 'Noor', 'Felix', 'Ada',
  'Rafael', 'Wren', 'Tomas', 'Isla', 'Dev', 'Maren', 'Oskar', 'Zara', 'Luca', 'Hana', 'Emil', 'Nadia', 'Ruben', 'Cleo',
  'Idris', 'Saoirse', 'Mateo', 'Juniper', 'Anselm', 'Freya', 'Kai', 'Odette', 'Silas', 'Leila', 'Bram', 'Tove', 'Aurelio', 'Ingrid',
];

const PLACE_HEADS = ['Lark', 'Ash', 'Bram', 'Cor', 'Fen', 'Hollow', 'Mill', 'Rook', 'Thorn', 'Wren', 'Elder', 'Marl', 'Oak', 'Sil', 'Brier', 'Kest', 'Amber', 'Wild'];
const PLACE_TAILS = ['mere', 'ford', 'wick', 'haven', 'brook', 'stead', 'holm', 'cross', 'vale', 'field', 'moor', 'bury', 'combe', 'gate'];

const FALLBACK_MOTIFS = ['lantern', 'river', 'letter', 'garden', 'compass', 'song', 'key', 'map', 'bridge', 'orchard', 'clock', 'kite'];

const NEUTRAL_MOODS = ['quiet', 'bright', 'curious', 'gentle', 'strange', 'hopeful', 'windswept', 'silver', 'soft', 'luminous'];

const NEUTRAL_PALETTES: Array<[string, string]> = [
  ['#5b6c7d', '#d9c8a9'], // slate and sand
  ['#4a5d52', '#e0d6c2'], // sage and linen
  ['#6d5c7a', '#e6d3c3'], // dusk mauve and cream
  ['#3f5e73', '#e8c07d'], // deep teal and straw
];

const BASE_STYLES = [
  'soft watercolour with fine ink linework and visible paper texture',
  'gouache storybook painting with flat layered shapes',
  'paper-cut collage with gentle shadows between layers',
  'pastel chalk illustration with a hazy glow',
  'screen-printed poster look with bold simple shapes and grain',
  'luminous digital painting in the style of a classic picture book',
];

/** Things that can "reach", "arrive", "draw closer" and be faced. */
const THREATS = [
  'gathering storm',
  'spreading rumour',
  'old debt coming due',
  'rival with a head start',
  'long, hard winter',
  'creeping fog that swallows everything',
  'greedy developer with a plan',
  'rising flood',
  'shadow out of the old stories',
];

const GOALS = ['find {motif}', 'bring {motif} home', 'keep {motif} safe', 'uncover the secret of {motif}', 'save {motif}', 'win back {motif}'];

/** Each reads after "at": "at dusk", "at the end of the afternoon". */
const TIMES_DAY = ['dawn', 'first light', 'midmorning', 'noon', 'the end of the afternoon', 'dusk', 'nightfall'];
const TIMES_NIGHT = ['midnight', 'two in the morning', 'the hour before dawn', 'nightfall'];

const WEATHERS = ['a thin rain', 'a bright, cold wind', 'a heavy fog', 'a clear, high sky', 'a warm breeze', 'low clouds', 'a sky full of scattered light', 'the first frost'];

const FEELINGS = ['hope', 'worry', 'a restless excitement', 'an old ache', 'a strange calm', 'a flicker of courage', 'homesickness', 'wonder', 'doubt', 'a fierce kind of joy'];

function article(noun: string): string {
  return /^[aeiou]/i.test(noun) ? `an ${noun}` : `a ${noun}`;
}

function cleanInput(s: string | undefined, max: number): string | undefined {
  if (typeof s !== 'string') return undefined;
  // Control characters would end up in EPUB XML and image SVG; strip them here.
  const t = s.replace(/[\u0000-\u001f\u007f]/g, ' ').replace(/\s+/g, ' ').trim();
  return t ? t.slice(0, max) : undefined;
}

interface World {
  seed: number;
  era?: Era;
  archetype?: EraArchetype;
  freeArchetype?: string;
  keywords: KeyWord[];
  motif: KeyWord;
  motif2: KeyWord;
  scene: Scene;
  place: string;
  placeGiven: boolean;
  moods: string[];
  threat: string;
  goal: string;
  names: string[];
  palette: [string, string];
  style: string;
  night: boolean;
}

function briefSeed(brief: BookBrief): number {
  // Everything that shapes the story, but not chapterCount: asking for more
  // chapters should keep the same title, people and place.
  return hash32(
    [brief.prompt, brief.era, brief.characterName, brief.style, brief.mood, brief.archetype, brief.place]
      .map((v) => (v ?? '').trim())
      .join('\u241f'),
  );
}

function sub(seed: number, label: string): Rng {
  // Separate streams per purpose, so a change in one kind of choice does not
  // ripple through every other one.
  return new Rng((seed ^ hash32(label)) >>> 0);
}

function detectScene(words: string[]): SceneId | undefined {
  const lower = words.map((w) => w.toLocaleLowerCase());
  for (const [id, scene] of Object.entries(SCENES) as Array<[SceneId, Scene]>) {
    if (scene.cues.some((c) => lower.some((w) => w === c || (c.length > 1 && NO_SPACE_SCRIPT.test(c) && w.includes(c))))) {
      return id;
    }
  }
  return undefined;
}

function buildWorld(brief: BookBrief): World {
  const seed = briefSeed(brief);
  const era = getEra(brief.era);
  const prompt = typeof brief.prompt === 'string' ? brief.prompt : '';
  const keywords = keyWords(prompt, 6);
  const fr = sub(seed, 'fallback');
  while (keywords.length < 2) {
    const w = fr.pick(FALLBACK_MOTIFS.filter((m) => !keywords.some((k) => k.text === m)));
    keywords.push({ text: w, title: titleCase(w), proper: false, nounish: true });
  }

  // The motif is what the hero seeks or keeps: a common noun reads best there
  // ("find the lighthouse"), a place or person's name works as the second one.
  const motif = keywords.find((k) => k.nounish && !k.proper) ?? keywords[0];
  const motif2 = keywords.find((k) => k !== motif) as KeyWord;

  const archetype = findArchetype(brief.archetype, era?.id) ?? (brief.archetype ? undefined : era ? sub(seed, 'arch').pick(era.archetypes) : undefined);
  const freeArchetype = !archetype ? cleanInput(brief.archetype, 100) : undefined;

  const allWords = [...prompt.matchAll(/[\p{L}\p{M}]+/gu)].map((m) => m[0]);
  const placeGiven = cleanInput(brief.place, 100);
  const sceneId =
    detectScene(placeGiven ? [...placeGiven.split(/\s+/), ...allWords] : allWords) ??
    (era ? ERA_SCENES[era.id] : undefined) ??
    sub(seed, 'scene').pick(Object.keys(SCENES) as SceneId[]);
  const scene = SCENES[sceneId];

  const pr = sub(seed, 'place');
  const place = placeGiven ?? pr.pick(PLACE_HEADS) + pr.pick(PLACE_TAILS);

  const userMoods = (cleanInput(brief.mood, 100) ?? '')
    .split(/[,;/]|\s+and\s+/)
    .map((s) => s.trim().toLocaleLowerCase())
    .filter((s) => /^[\p{L}\p{M}' -]{2,30}$/u.test(s));
  const moods = [...userMoods, ...(era?.moodWords ?? NEUTRAL_MOODS)];

  const sr = sub(seed, 'story');
  const threat = sr.pick(THREATS);
  const goal = sr.pick(GOALS);

  const nr = sub(seed, 'names');
  const hero = cleanInput(brief.characterName, 50);
  const names = nr.shuffle(FIRST_NAMES.filter((n) => n !== hero)).slice(0, 3);
  if (hero) names.unshift(hero);

  const vr = sub(seed, 'visual');
  const palette: [string, string] = era ? [era.colors[0], era.colors[1]] : vr.pick(NEUTRAL_PALETTES);
  const baseStyle = cleanInput(brief.style, 100) ?? vr.pick(BASE_STYLES);
  const eraNote = era ? `; ${era.name} era mood (${era.moodWords.slice(0, 3).join(', ')})` : '';
  const style = `${capitalizeFirst(baseStyle)}${eraNote}; palette ${palette[0]} and ${palette[1]}`;

  const night = era?.id === 'midnights' || era?.id === 'reputation' || allWords.some((w) => /^(night|midnight|moon|stars?|dark)$/i.test(w));

  return {
    seed,
    era,
    archetype,
    freeArchetype,
    keywords,
    motif,
    motif2,
    scene,
    place,
    placeGiven: Boolean(placeGiven),
    moods,
    threat,
    goal,
    names,
    palette,
    style,
    night,
  };
}

/** "the whale" for common nouns, "Paris" for proper ones. */
function withThe(k: KeyWord, title = false): string {
  if (k.proper) return k.text;
  // Lower-case article: sentence() capitalises it only at the start of a title.
  return title ? `the ${k.title}` : `the ${k.text}`;
}

// ---------------------------------------------------------------------------
// Story arc

type Stage = 'setup' | 'inciting' | 'rising' | 'midpoint' | 'dark' | 'climax' | 'resolution' | 'whole';
const ARC: Stage[] = ['setup', 'inciting', 'rising', 'midpoint', 'dark', 'climax', 'resolution'];
/** Longer books spend their extra chapters mostly on the journey and the fall. */
const ARC_WEIGHTS = [0.8, 0.8, 3, 1, 1.4, 1.4, 0.8];

/** The arc stage of every chapter, for any chapter count. */
export function arcStages(count: number): Stage[] {
  if (count <= 1) return ['whole'];
  if (count < ARC.length) {
    // Spread the beats evenly, always keeping the setup and the resolution.
    return Array.from({ length: count }, (_, i) => ARC[Math.round((i * (ARC.length - 1)) / (count - 1))]);
  }
  // Every beat gets one chapter; the rest go by weight (largest remainder).
  const counts = ARC.map(() => 1);
  const extra = count - ARC.length;
  const total = ARC_WEIGHTS.reduce((a, b) => a + b, 0);
  const shares = ARC_WEIGHTS.map((w) => (w / total) * extra);
  shares.forEach((s, i) => (counts[i] += Math.floor(s)));
  let left = count - counts.reduce((a, b) => a + b, 0);
  const order = shares.map((s, i) => ({ i, r: s - Math.floor(s) })).sort((a, b) => b.r - a.r || a.i - b.i);
  for (let k = 0; left > 0; k++, left--) counts[order[k % order.length].i]++;
  return ARC.flatMap((stage, i) => Array<Stage>(counts[i]).fill(stage));
}

interface StageText {
  titles: string[];
  summaries: string[];
  beats: string[];
  closers: string[];
  lines: string[];
  aftermath: string;
}

const STAGES: Record<Stage, StageText> = {
  setup: {
    titles: [
      '{Place} Wakes', 'An Ordinary Day in {Place}', 'The {MotifWord} in the Window', '{Hero}’s {MotifWord}', 'Before Anything Happened',
      'Small Hours, Small Wonders', 'The Way Things Were', 'A Map of {Place}', 'Where {Hero} Begins', '{Mood} Beginnings', 'The First {MotifWord}',
    ],
    summaries: [
      'In {place}, {hero} keeps to familiar routines, though {motif} is never far from their thoughts.',
      'We meet {hero} near {feature} in {place}, where {friend} is the only one who knows about {motif}.',
      '{hero} spends an ordinary day in {place}, not yet aware that {motif} is about to change everything.',
      'Life in {place} is {mood} and slow, and {hero} wonders whether there is more to it than {feature}.',
    ],
    beats: [
      '{hero} had lived in {place} long enough to know every crack in {feature}.',
      'Every day at {time}, {hero} walked the same way past {feature}, counting the small things that never changed.',
      'Nobody in {place} paid much attention to {motif}, except {hero}.',
      '{friend} liked to say that {place} was the kind of place where nothing happened twice, and nothing much happened once.',
      '{hero} kept a notebook full of everything they had ever heard about {motif}, and most of it contradicted the rest.',
      'It was, by every measure, an ordinary day, and {hero} was almost grateful for it.',
      'There were chores to finish and errands to run, and {hero} did them slowly, the way people do when they are waiting for something without knowing what.',
    ],
    closers: [
      '{hero} did not know it yet, but it was the last quiet day for a long while.',
      'Far off, something shifted, and {place} seemed to hold its breath.',
      'That night {hero} fell asleep thinking about {motif}, and dreamed of {motif2}.',
    ],
    lines: ['Same as yesterday?', 'Nothing ever happens here', 'One day I’m going to leave, you’ll see', 'You’re thinking about {motif} again'],
    aftermath: 'the memory of those quiet early days',
  },
  inciting: {
    titles: [
      'The Knock at the Door', 'Something About the {MotifWord}', 'The {MotifWord} Goes Missing', 'A Stranger in {Place}', 'The Day Everything Tilted',
      'An Unexpected {MotifWord}', 'Word from {Third}', 'The Invitation', 'What the {MotifWord2} Brought', 'Sparks', 'The Question Nobody Asked',
    ],
    summaries: [
      'When {motif} disappears from {place}, {hero} decides to find out why, with {friend} reluctantly in tow.',
      'A message from {third} turns {hero}’s quiet life upside down and points toward {motif2}.',
      '{threatA} reaches {place}, and {hero} realises that someone has to {goal}.',
      'A chance discovery near {feature} gives {hero} a reason to {goal}, whatever the cost.',
    ],
    beats: [
      'The news arrived at {time}, carried by {third}, who looked as if they had run the whole way.',
      'Where {motif} had always been, there was now only an empty space, and {hero} could not stop staring at it.',
      '{friend} read the note twice and then handed it back without a word.',
      'Everything {hero} thought they knew about {motif} suddenly seemed like only half of the story.',
      'By the time the sound of {sound} faded, {hero} had made up their mind.',
      'Word of {threat} spread through {place} faster than anyone could stop it.',
      'It began with something small: a door left open near {feature}, and footprints leading away from it.',
    ],
    closers: [
      '{hero} packed a bag before there was time for second thoughts.',
      'There was no going back to ordinary now.',
      '“Tomorrow,” {hero} said, “we start looking.”',
    ],
    lines: ['Did you hear what happened?', 'This changes everything', 'Someone has to do something', 'Why does it have to be us?'],
    aftermath: 'the news that had changed everything',
  },
  rising: {
    titles: [
      'The Long Road Out of {Place}', 'Lessons from {Motif}', '{Friend}’s Bargain', 'Following the {MotifWord}', 'Crossroads', 'The Second Door',
      'What {Third} Knew', 'Allies and Strangers', 'The {Mood} Mile', 'Borrowed Courage', 'Further Than Before', 'The Test', 'Footprints',
      'Half a Map', 'The Crossing', 'Rumours and Riddles', 'A Detour by {FeatureTitle}', 'The {MotifWord2} Clue', 'Night Train to Nowhere', 'Small Victories',
    ],
    summaries: [
      '{hero} and {friend} follow a trail of clues toward {motif2}, learning to trust each other along the way.',
      'An unexpected setback near {feature} forces {hero} to ask {third} for help.',
      'Each step closer to {motif} reveals another secret that {place} has kept for years.',
      '{hero} discovers a talent they did not know they had, just as {theThreat} draws closer.',
      'The search leads {hero} beyond the edge of {place}, where nothing works the way it does at home.',
      '{friend} makes a risky deal with {third}, and {hero} has to decide whether to go along with it.',
      'A wrong turn becomes the right one when {hero} stumbles on a clue about {motif2}.',
    ],
    beats: [
      'They followed the trail past {feature}, stopping only when the light gave out.',
      '{third} agreed to help, but only after making {hero} promise something they would later regret.',
      'Twice they lost the way, and twice {friend} found it again by sheer stubbornness.',
      'The clue was hidden in plain sight, scratched into the stone near {feature}: a drawing of {motif2}.',
      '{hero} found that they were better at this than they had expected, and the thought was both thrilling and frightening.',
      'Every answer they found seemed to come with two new questions attached.',
      'They shared what little food they had and argued cheerfully about which way to go next.',
      'Somewhere behind them, {theThreat} was gaining ground.',
    ],
    closers: [
      'The road ahead was longer than either of them had guessed, but it was, at last, a road.',
      '{hero} marked the day in the notebook: one step closer to {motif}.',
      'Behind them, {place} was only a smudge of light, and ahead lay everything else.',
    ],
    lines: ['Left or right?', 'We’re getting closer, I can feel it', 'How much further?', 'I didn’t say it would be easy', 'Trust the map. Or trust me, at least'],
    aftermath: 'the long road behind them',
  },
  midpoint: {
    titles: [
      'Halfway to Everything', 'The Truth About the {MotifWord}', 'A Mirror in {Place}', 'Unmasked', 'The View from the Top',
      'What Lies Beneath the {MotifWord}', 'Turning the Tide', 'The Hinge of the Year', 'Revelations by Lamplight',
    ],
    summaries: [
      '{hero} finally learns the truth about {motif}, and it changes what they want.',
      'A victory near {feature} feels complete, until {third} reveals what it has cost.',
      'Halfway through the journey, {hero} and {friend} discover that {motif} and {motif2} are bound together.',
    ],
    beats: [
      'The truth, when it came, was simpler and stranger than any of their guesses.',
      '{motif} had never been lost at all; it had been hidden, and {third} had known all along.',
      'For one bright hour it felt as though they had already won.',
      '{hero} looked at {friend} and saw, for the first time, how much the journey had changed them both.',
      'Everything that had seemed like an ending turned out to be a hinge.',
      'The old story about {motif2} was true after all, only backwards.',
    ],
    closers: [
      'It was a victory, but it did not feel like the end of anything.',
      'Nothing would look the same again, and {hero} was not sure that was a good thing.',
      '{hero} understood now what they really wanted, and it was not what they had come for.',
    ],
    lines: ['So it was true all along', 'Everything we thought we knew was backwards', 'Why didn’t you tell us?', 'This is bigger than we thought'],
    aftermath: 'the truth they had uncovered',
  },
  dark: {
    titles: [
      'The Longest Night', 'Broken Promises', 'Alone in {Place}', 'Ashes of the {MotifWord}', 'When the Lights Went Out',
      'The Quarrel', 'Lost', 'Nothing Left to Lose', 'Rain', 'The Weight of the {MotifWord}', 'A Door Closes', 'Cold Comfort',
    ],
    summaries: [
      '{friend} and {hero} quarrel, and {hero} faces {theThreat} alone.',
      'Everything {hero} has built seems to fall apart, and {motif} slips further out of reach.',
      'Betrayed by {third}, {hero} must decide whether {motif} is still worth fighting for.',
      '{theThreat} arrives at last, and for a while it looks as though nothing can stop it.',
    ],
    beats: [
      'The words came out wrong, and once they were said there was no taking them back.',
      '{friend} walked away without looking back, and {hero} did not call after them.',
      '{theThreat} arrived sooner than anyone had feared.',
      '{hero} sat alone near {feature} and wondered how it had all gone so wrong.',
      'Even {motif}, which had seemed so close, felt impossibly far away now.',
      'It was the kind of night that made the morning seem like a rumour.',
      '{third} had made a choice, and it had not been the one {hero} had hoped for.',
    ],
    closers: [
      'Somewhere in the dark, very small, a single light was still burning.',
      '{hero} closed their eyes and, for the first time in days, let themselves cry.',
      'It was the lowest point, and some stubborn part of {hero} knew it.',
    ],
    lines: ['Maybe we should just give up', 'Just leave me alone', 'I can’t do this without you', 'You should have told me', 'What’s the point now?'],
    aftermath: 'the worst night of the whole journey',
  },
  climax: {
    titles: [
      'The Last Chance', 'All In', 'The {MotifWord} Rises', 'Into the Storm', 'One Brave Moment', 'Face to Face',
      'Everything at Once', 'The Final Door', '{Hero} Decides', 'Light Against the Dark', 'The Stand at {FeatureTitle}', 'No Turning Back',
    ],
    summaries: [
      '{hero} confronts {theThreat} head-on, risking everything to {goal}.',
      'With {friend} back at their side, {hero} makes a final, daring attempt to {goal}.',
      'At {feature}, {hero} faces {third} and must choose between {motif} and {motif2}.',
      'Everything comes down to one {mood} moment, and {hero} finally acts.',
    ],
    beats: [
      '{friend} appeared at the last possible moment, out of breath and grinning.',
      '{hero} stepped forward before fear could catch up.',
      'For a long heartbeat nothing happened, and then everything happened at once.',
      'They had one chance, and {hero} took it with both hands.',
      'The noise was enormous, and then, suddenly, there was silence.',
      '{hero} remembered every lesson of the road, and used them all.',
      'The plan fell apart in the first minute, so {hero} made up a better one.',
    ],
    closers: [
      'When the dust settled, {motif} was safe, and so, somehow, were they.',
      '{hero} laughed out loud, amazed to still be standing.',
      'It was over, and it had been worth every step.',
    ],
    lines: ['It’s now or never!', 'Hold on!', 'Trust me, just this once', 'Together, on three!', 'Don’t let go!'],
    aftermath: 'the final stand',
  },
  resolution: {
    titles: [
      'Home Again', 'After the Storm', 'A New {MotifWord}', 'What {Place} Remembers', 'The Last Page',
      'Morning, Changed', 'Ever After, More or Less', 'Keeping the {MotifWord}', '{Hero}, at Last', 'Tomorrow in {Place}',
    ],
    summaries: [
      '{place} wakes to a changed world, and {hero} finds that {motif} means something new.',
      'The friends gather once more, and {hero} understands what the journey was really about.',
      'With {theThreat} behind them, {hero} and {friend} make a promise about {motif2}.',
    ],
    beats: [
      '{place} looked exactly the same and entirely different.',
      'People who had never spoken to {hero} before now stopped to say hello.',
      '{friend} and {hero} sat near {feature} and talked until the light faded.',
      '{motif} was back where it belonged, though {hero} now knew it belonged to everyone.',
      'There were things to mend, and they mended them together.',
      '{third} came to say goodbye, and it was less awkward than anyone had feared.',
    ],
    closers: [
      'And if you walk through {place} at {time} today, you may still hear them laughing.',
      '{hero} opened the notebook to a fresh page and began to write.',
      'It was the end of one story, and {hero} was already curious about the next.',
    ],
    lines: ['We did it', 'Home looks different now', 'Same time tomorrow?', 'Thank you. For all of it'],
    aftermath: 'everything they had come through',
  },
  whole: {
    titles: ['{Hero} and the {MotifWord}', 'One {Mood} Day in {Place}', 'The Whole Story of the {MotifWord}', 'The {MotifWord} of {Place}', 'A Tale of {MotifWord} and {MotifWord2}'],
    summaries: [
      'When {threatA} reaches {place}, {hero} sets out with {friend} to {goal}, and comes home changed.',
      '{hero} learns the secret of {motif} in a single {mood} day, with help from {friend} and a little luck.',
    ],
    beats: [
      'It began, as these things do, with something small: a whisper about {motif} near {feature}.',
      '{hero} and {friend} set out before anyone could tell them not to.',
      'By the middle of the day they had found {motif2}, and lost their way twice.',
      '{theThreat} came closer, and {hero} decided not to run from it.',
      'In the end it was courage, and a good friend, that made the difference.',
      '{place} welcomed them home as if nothing had happened, though everything had.',
    ],
    closers: [
      'And that is how {hero} came to know {motif}, and how {motif} came to know {hero}.',
      'It was only one day, but {hero} would remember it for the rest of their life.',
    ],
    lines: ['Are you coming or not?', 'I told you it was real', 'Let’s go home', 'We make a good team'],
    aftermath: '',
  },
};

const LOGLINES = [
  'When {threatA} threatens {place}, {heroDesc} must {goal} before it is too late.',
  '{heroDesc} sets out from {place} to {goal}, and learns that {motif} was never what anyone believed.',
  'In {place}, {heroDesc} and {friend} have one season to {goal}.',
  '{aMood} tale of {motif} and {motif2}, in which {heroDesc} must {goal}.',
];

const BOOK_TITLES = [
  '{Motif} of {Place}',
  '{Motif} and {Motif2}',
  '{MotifWord} & {MotifWord2}',
  '{Hero} and {Motif}',
  'The Last {MotifWord}',
  'Beyond {Motif}',
  'The {MotifWord} Season',
  'Where {Motif} Waits',
  'Songs for {Motif}',
  'The Secret of {Motif}',
  'Letters to {Motif}',
  '{MotifWord}: A {Place} Story',
  'The {Mood} {MotifWord}',
];

// ---------------------------------------------------------------------------
// Prose sentence patterns (the stage's own beats are added per chapter)

const SCENE_SENTENCES = [
  'At {time}, {place} smelled of {smell}.',
  'The air near {feature} carried {smell}, and somewhere close by there was the sound of {sound}.',
  'Under {weather}, {place} looked {mood} and a little unreal.',
  'It was {time}, and {sight} made the whole of {place} seem to glow.',
  'The sound of {sound} drifted in and out of hearing.',
  'The light over {feature} was thin and slanting, and the whole place felt {mood}.',
  '{weather} had settled over {place} by {time}.',
  'There is a particular hush to {place} at {time}, and {hero} had always loved it.',
  'Everything smelled of {smell}, the way it always did when the weather was about to turn.',
  'From {feature} you could see {sight}.',
  'Somewhere there was the sound of {sound}; closer, only their own breathing.',
];

const INTERIOR_SENTENCES = [
  '{hero} felt {feeling} rise and settle, like dust in a sunbeam.',
  'For a moment {hero} let themselves imagine how it might all turn out.',
  '{hero} did not say what they were thinking, which was mostly about {motif}.',
  'It was hard to name the feeling: something between {feelingPair}.',
  'Part of {hero} wanted to turn back; the larger part refused.',
  '{hero} had never thought of themselves as brave, but today it came easily.',
  'There was {feeling} in {hero}’s chest that would not go away.',
  'What would they say at home, {hero} wondered, if they could see this now?',
  '{hero} counted their breaths, slowly, the way their grandmother had taught them.',
  'Strange, {hero} thought, how quickly the impossible starts to feel normal.',
];

const MOTIF_SENTENCES = [
  'Everyone in {place} had a story about {kw}, and no two of them agreed.',
  'The word {kwq} kept coming back, like a tune you cannot shake.',
  '{hero} thought again of {kwthe}, and of everything that might mean.',
  'There was something about {kwthe} that refused to be explained away.',
  'In the old songs, {kwthe} meant luck; in the newer ones, trouble.',
  'If the answer had something to do with {kwthe}, {hero} was not yet sure what the question was.',
  'Even the children of {place} knew to lower their voices when they spoke of {kwthe}.',
  'Somebody had painted {kwthe} on the wall near {feature}, small and careful, as if it were a secret.',
];

const COMPANION_SENTENCES = [
  '{friend} walked a few steps ahead, pretending not to be worried.',
  '{friend} had a way of making everything sound simpler than it was.',
  '{third} watched them both with an expression that was hard to read.',
  'It helped, more than {hero} would admit, that {friend} was there.',
  '{friend} hummed something tuneless, which meant they were thinking.',
  '{third} was not the sort of person who explained themselves, and tonight was no exception.',
  '{friend} nudged {hero} and pointed toward {feature}.',
];

const TRANSITIONS = [
  'Then the moment passed.',
  'Minutes went by.',
  'Not yet, though.',
  'Later, they would both remember this.',
  'And still they kept going.',
  'Slowly, the light changed.',
  'Nobody spoke for a while.',
  'That was when it happened.',
];

const DIALOGUE_LINES = [
  'We should have brought a lantern',
  'I have a bad feeling about {motif}',
  'You always say that',
  'Do you trust me?',
  'Look, over by {feature}!',
  'Nobody in {place} will believe us',
  'Then we don’t tell them yet',
  'What if we’re wrong?',
  'What if we’re right?',
  'Keep walking, and don’t look back',
  'I’m not scared. I’m just cold',
  'Tell me everything you know about {motif}',
  'There’s no map for this',
  'Then we’ll draw one',
];

const SAID = ['said', 'murmured', 'admitted', 'replied', 'said quietly', 'whispered', 'insisted'];
const GESTURES = ['shrugged', 'looked away', 'grinned', 'folded their arms', 'let out a long breath', 'tapped the table twice', 'laughed softly', 'frowned'];

const RECALL = [
  '{hero} was still carrying {aftermath}.',
  'Not long ago there had been {aftermath}; now there was only what came next.',
  'Even now, {hero} could not quite put {aftermath} behind them.',
];

// ---------------------------------------------------------------------------
// Templates

type Slot = string | readonly string[] | (() => string);
type Slots = Record<string, Slot>;

function fill(template: string, slots: Slots, rng: Rng): string {
  return template.replace(/\{(\w+)\}/g, (_, key: string) => {
    const v = slots[key];
    if (v === undefined) throw new Error(`offline writer: unknown slot {${key}} in "${template}"`);
    if (typeof v === 'function') return v();
    if (typeof v === 'string') return v;
    return rng.pick(v);
  });
}

function sentence(template: string, slots: Slots, rng: Rng): string {
  return capitalizeFirst(fill(template, slots, rng));
}

function storySlots(world: World, rng: Rng, names: { hero: string; friend: string; third: string }, extra: Slots = {}): Slots {
  const featureTitle = (f: string) =>
    f
      .split(' ')
      .map((w, i) => (i > 0 && /^(the|of|and|by|with|over|on|in)$/.test(w) ? w : titleCase(w)))
      .join(' ');
  const theThreat = `the ${world.threat}`;
  return {
    hero: names.hero,
    Hero: names.hero,
    friend: names.friend,
    Friend: names.friend,
    third: names.third,
    Third: names.third,
    place: world.place,
    Place: world.place,
    motif: withThe(world.motif),
    Motif: withThe(world.motif, true),
    MotifWord: world.motif.title,
    motif2: withThe(world.motif2),
    Motif2: withThe(world.motif2, true),
    MotifWord2: world.motif2.title,
    mood: world.moods,
    Mood: () => titleCase(rng.pick(world.moods)),
    aMood: () => article(rng.pick(world.moods)),
    feature: world.scene.features,
    FeatureTitle: () => featureTitle(rng.pick(world.scene.features)),
    sound: world.scene.sounds,
    smell: world.scene.smells,
    sight: world.scene.sights,
    threat: article(world.threat),
    threatA: article(world.threat),
    theThreat,
    goal: () => fill(world.goal, { motif: withThe(world.motif) }, rng),
    time: world.night ? [...TIMES_NIGHT, 'dusk'] : TIMES_DAY,
    weather: WEATHERS,
    feeling: FEELINGS,
    feelingPair: () => {
      const [a, b] = rng.shuffle(FEELINGS);
      return `${a} and ${b}`;
    },
    ...extra,
  };
}

// ---------------------------------------------------------------------------
// Outline

function makeCharacter(rng: Rng, name: string, eraId: string | undefined, personality: string): OutlineCharacter {
  const wardrobe = (eraId && ERA_WARDROBE[eraId]) || WARDROBE;
  const look = `${capitalizeFirst(rng.pick(HAIR))}, ${rng.pick(EYES)}, ${rng.pick(wardrobe)} and ${rng.pick(DETAILS)}`;
  return { name, look, personality };
}

function traitLine(rng: Rng, n: number): string[] {
  return rng.shuffle(TRAITS).slice(0, n);
}

function countWords(text: string): number {
  return text.split(/\s+/).filter(Boolean).length;
}

function checkAborted(signal?: AbortSignal): void {
  signal?.throwIfAborted();
}

export function buildOutline(brief: BookBrief): Outline {
  const count = Math.floor(Number(brief.chapterCount));
  if (!Number.isFinite(count) || count < 1 || count > MAX_CHAPTERS) {
    throw new RangeError(`chapterCount must be between 1 and ${MAX_CHAPTERS}, got ${brief.chapterCount}`);
  }
  const world = buildWorld(brief);
  const rng = sub(world.seed, 'outline');
  const [heroName, friendName, thirdName] = world.names;
  const names = { hero: heroName, friend: friendName, third: thirdName };
  const slots = storySlots(world, rng, names);

  // Characters: the hero's personality comes from the archetype when there is one.
  const cr = sub(world.seed, 'characters');
  let heroPersonality: string;
  let epithet: string;
  if (world.archetype) {
    const a = world.archetype;
    heroPersonality = `${capitalizeFirst(a.name)}. ${a.description} ${capitalizeFirst(a.traits[0])}, ${a.traits[1]}, ${a.traits[2]} and ${a.traits[3]}.`;
    epithet = a.name;
  } else {
    const t = traitLine(cr, 3);
    const noun = cr.pick(EPITHET_NOUNS);
    const core = world.freeArchetype ? `${capitalizeFirst(world.freeArchetype)} at heart` : `${capitalizeFirst(article(noun))} at heart`;
    heroPersonality = `${core}: ${t[0]}, ${t[1]} and quietly ${t[2]}.`;
    epithet = article(`${t[0]} ${noun}`);
  }
  const characters: OutlineCharacter[] = [makeCharacter(cr, heroName, world.era?.id, heroPersonality)];
  const ft = traitLine(cr, 3);
  characters.push(
    makeCharacter(cr, friendName, world.era?.id, `${capitalizeFirst(heroName)}’s closest friend: ${ft[0]}, ${ft[1]} and ${ft[2]}, with a joke for every bad moment.`),
  );
  if (count >= 3 || cr.chance(0.5)) {
    const rival = cr.chance(0.5);
    const tt = traitLine(cr, 2);
    characters.push(
      makeCharacter(
        cr,
        thirdName,
        undefined,
        rival
          ? `A rival who knows more about ${withThe(world.motif)} than they admit: ${tt[0]} and ${tt[1]}.`
          : `An unlikely mentor with a past in ${world.place}: ${tt[0]}, ${tt[1]} and full of half-told stories.`,
      ),
    );
  }

  const title = sentence(rng.pick(BOOK_TITLES), slots, rng);
  const logline = sentence(rng.pick(LOGLINES), { ...slots, heroDesc: `${heroName}, ${epithet},` }, rng);
  const placeKind = world.scene.kinds[cr.int(0, world.scene.kinds.length - 1)];
  const settingHead = world.placeGiven ? world.place : `${world.place}, ${article(`${rng.pick(world.moods)} ${placeKind}`)}`;
  const setting = `${settingHead}: ${rng.pick(world.scene.features)}, ${rng.pick(world.scene.sights)}, and the sound of ${rng.pick(world.scene.sounds)}.`;

  const stages = arcStages(count);
  const usedTitles = new Set<string>([title.toLocaleLowerCase()]);
  const titleDecks = new Map<Stage, Deck<string>>();
  const summaryDecks = new Map<Stage, Deck<string>>();
  const tr = sub(world.seed, 'chapters');
  const chapters: OutlineChapter[] = stages.map((stage, i) => {
    if (!titleDecks.has(stage)) titleDecks.set(stage, new Deck(STAGES[stage].titles, tr));
    if (!summaryDecks.has(stage)) summaryDecks.set(stage, new Deck(STAGES[stage].summaries, tr));
    let chapterTitle = '';
    for (let attempt = 0; attempt < 40; attempt++) {
      chapterTitle = sentence((titleDecks.get(stage) as Deck<string>).draw(), slots, tr);
      if (!usedTitles.has(chapterTitle.toLocaleLowerCase())) break;
    }
    // Out of fresh patterns (only for very long books): number the repeat.
    for (let n = 2; usedTitles.has(chapterTitle.toLocaleLowerCase()); n++) {
      chapterTitle = `${chapterTitle.replace(/ \(\d+\)$/, '')} (${n})`;
    }
    usedTitles.add(chapterTitle.toLocaleLowerCase());
    const summary = sentence((summaryDecks.get(stage) as Deck<string>).draw(), slots, tr);
    return { index: i + 1, title: chapterTitle, summary, targetWords: tr.int(25, 40) * 10 };
  });

  return { title, logline, characters, setting, style: world.style, palette: world.palette, chapters };
}

// ---------------------------------------------------------------------------
// Chapters

type ParagraphKind = 'opening' | 'action' | 'dialogue' | 'reflection' | 'closing';

export function buildChapter(req: ChapterRequest): string[] {
  const { brief, outline, chapter } = req;
  const world = buildWorld(brief);
  // A rewrite draws different prose for the same chapter; the first draft keeps its original seed.
  const rewrite = req.revision ? `:rev${req.revision.number}:${req.revision.feedback ?? ''}` : '';
  const rng = new Rng((world.seed ^ hash32(`chapter:${chapter.index}:${chapter.title}${rewrite}`)) >>> 0);
  const people = outline.characters.map((c) => c.name).filter((n) => typeof n === 'string' && n.trim());
  const hero = people[0] ?? world.names[0];
  const friend = people[1] ?? world.names[1];
  const third = people[2] ?? world.names[2];
  const total = Math.max(outline.chapters.length, chapter.index);
  const stage = arcStages(total)[chapter.index - 1] ?? 'rising';
  const st = STAGES[stage];
  const prevStage = chapter.index > 1 ? arcStages(total)[chapter.index - 2] : undefined;

  // One time of day and one weather per chapter, so the scene holds together.
  const time = rng.pick(world.night ? [...TIMES_NIGHT, 'dusk'] : TIMES_DAY);
  const weather = rng.pick(WEATHERS);
  const nouns = world.keywords.filter((k) => k.nounish);
  const kws = nouns.length > 0 ? nouns : [world.motif];
  const kwPick = () => rng.pick(kws);
  const slots = storySlots(world, rng, { hero, friend, third }, {
    time,
    weather,
    kw: () => withThe(kwPick()),
    kwthe: () => withThe(kwPick()),
    kwq: () => `“${kwPick().text}”`,
    aftermath: prevStage ? STAGES[prevStage].aftermath || 'everything that had happened' : 'everything that had happened',
  });

  const decks = {
    scene: new Deck(SCENE_SENTENCES, rng),
    interior: new Deck(INTERIOR_SENTENCES, rng),
    motif: new Deck(MOTIF_SENTENCES, rng),
    companion: new Deck(COMPANION_SENTENCES, rng),
    transition: new Deck(TRANSITIONS, rng),
    beat: new Deck(st.beats, rng),
    line: new Deck([...st.lines, ...DIALOGUE_LINES], rng),
    closer: new Deck(st.closers, rng),
  };
  const say = (speaker: string): string => {
    const line = capitalizeFirst(fill(decks.line.draw(), slots, rng));
    if (/[?!]$/.test(line)) return `“${line}” ${speaker} ${/\?$/.test(line) ? 'asked' : 'called'}.`;
    if (rng.chance(0.3)) return `${speaker} ${rng.pick(GESTURES)}. “${line}.”`;
    return `“${line},” ${speaker} ${rng.pick(SAID)}.`;
  };

  const target = Math.max(60, Math.min(Number(chapter.targetWords) || 300, 5000));
  const paragraphCount = Math.max(4, Math.min(8, Math.round(target / 60)));
  const middle: ParagraphKind[] = [];
  const pool: ParagraphKind[] = rng.shuffle(['action', 'dialogue', 'reflection', 'action', 'dialogue']);
  for (let i = 0; i < paragraphCount - 2; i++) middle.push(pool[i % pool.length]);
  // Every chapter gets at least one exchange of dialogue.
  if (!middle.includes('dialogue')) middle[rng.int(0, middle.length - 1)] = 'dialogue';
  const plan: ParagraphKind[] = ['opening', ...middle, 'closing'];

  const build = (kind: ParagraphKind, budget: number, isFirst: boolean): string => {
    const out: string[] = [];
    const add = (s: string) => out.push(s);
    let speaker = rng.chance(0.5);
    // A fixed head per kind gives each paragraph a role; the tail fills to length.
    switch (kind) {
      case 'opening':
        add(sentence(decks.scene.draw(), slots, rng));
        if (isFirst && prevStage && rng.chance(0.8)) add(sentence(rng.pick(RECALL), slots, rng));
        add(sentence(decks.beat.draw(), slots, rng));
        break;
      case 'action':
        add(sentence(decks.beat.draw(), slots, rng));
        add(sentence(decks.companion.draw(), slots, rng));
        break;
      case 'dialogue':
        add(sentence(rng.chance(0.5) ? decks.companion.draw() : decks.scene.draw(), slots, rng));
        add(say(hero));
        add(say(friend));
        break;
      case 'reflection':
        add(sentence(decks.interior.draw(), slots, rng));
        add(sentence(decks.motif.draw(), slots, rng));
        break;
      case 'closing':
        add(sentence(decks.beat.draw(), slots, rng));
        break;
    }
    const tail: Array<() => string> =
      kind === 'dialogue'
        ? [() => say((speaker = !speaker) ? hero : rng.chance(0.7) ? friend : third), () => sentence(decks.interior.draw(), slots, rng)]
        : kind === 'reflection'
          ? [() => sentence(decks.scene.draw(), slots, rng), () => sentence(decks.interior.draw(), slots, rng), () => sentence(decks.motif.draw(), slots, rng)]
          : [
              () => sentence(decks.scene.draw(), slots, rng),
              () => sentence(decks.interior.draw(), slots, rng),
              () => sentence(decks.beat.draw(), slots, rng),
              () => sentence(decks.transition.draw(), slots, rng),
              () => sentence(decks.motif.draw(), slots, rng),
            ];
    const closer = kind === 'closing' ? sentence(decks.closer.draw(), slots, rng) : '';
    const reserve = countWords(closer);
    let words = countWords(out.join(' '));
    let lastWasTransition = false;
    for (let guard = 0; words + reserve < budget * 0.85 && guard < 20; guard++) {
      const gen = rng.pick(tail);
      const s = gen();
      const isTransition = TRANSITIONS.includes(s);
      // Skip an exact repeat in this paragraph, and two short transitions in a row.
      if (out.includes(s) || (isTransition && lastWasTransition)) continue;
      lastWasTransition = isTransition;
      out.push(s);
      words += countWords(s);
    }
    if (closer) out.push(closer);
    return out.join(' ');
  };

  const paragraphs: string[] = [];
  let written = 0;
  plan.forEach((kind, i) => {
    const left = plan.length - i;
    const budget = Math.max(25, (target - written) / left);
    const p = build(kind, budget, i === 0);
    paragraphs.push(p);
    written += countWords(p);
  });
  return paragraphs;
}

function estimateTokens(text: string): number {
  // Roughly four characters a token, the usual rule of thumb for English.
  return Math.max(1, Math.ceil(text.length / 4));
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

export function createOfflineTextProvider(): TextProvider {
  return {
    name: 'offline',
    offline: true,

    async writeOutline(brief: BookBrief, signal?: AbortSignal): Promise<OutlineResult> {
      checkAborted(signal);
      const outline = buildOutline(brief);
      const written = [
        outline.title,
        outline.logline,
        outline.setting,
        outline.style,
        ...outline.characters.flatMap((c) => [c.name, c.look, c.personality]),
        ...outline.chapters.flatMap((c) => [c.title, c.summary]),
      ].join(' ');
      return {
        outline,
        usage: { inputTokens: estimateTokens(brief.prompt ?? ''), outputTokens: countWords(written) },
        model: MODEL,
      };
    },

    async writeChapter(req: ChapterRequest, onText?: (delta: string) => void, signal?: AbortSignal): Promise<ChapterResult> {
      checkAborted(signal);
      const paragraphs = buildChapter(req);
      // Stream paragraph by paragraph, giving the event loop a turn in between
      // so a cancellation can land mid-chapter like it would with a real API.
      for (const p of paragraphs) {
        checkAborted(signal);
        onText?.(`${p}\n\n`);
        await yieldToEventLoop();
      }
      checkAborted(signal);
      const promptText = [req.brief.prompt ?? '', req.chapter.title, req.chapter.summary, ...(req.previousSummaries ?? [])].join(' ');
      return {
        paragraphs,
        usage: { inputTokens: estimateTokens(promptText), outputTokens: countWords(paragraphs.join(' ')) },
        model: MODEL,
      };
    },
  };
}
