/**
 * What the offline painter paints: a scene read from a picture's own words (the
 * chapter's title and summary), then drawn as SVG.
 *
 * `planScene` looks for setting words (sea, city, forest, mountains, desert, space,
 * rooms, snow, garden, river...), the time of day, the weather, landmarks
 * (lighthouse, tower, castle, house, bridge, boat, windmill), people and animals.
 * What the words leave open is chosen by the chapter's number, so the chapters of
 * one book differ even where their summaries read alike: the time of day cycles,
 * the picture is mirrored, the horizon moves, the palette's balance shifts.
 * `drawScene` turns the plan into shapes: a sky by time of day and weather, the
 * ground of the setting, the landmarks, figures and animals, in colours that are
 * the setting's own tinted by the book's palette (the era's).
 */
import { hash32, Rng } from './offline-text';

// ---------------------------------------------------------------------------
// Colour

export type Rgb = [number, number, number];

export function hex([r, g, b]: Rgb): string {
  const c = (v: number) => Math.round(Math.max(0, Math.min(255, v))).toString(16).padStart(2, '0');
  return `#${c(r)}${c(g)}${c(b)}`;
}

export function mix(a: Rgb, b: Rgb, t: number): Rgb {
  return [a[0] + (b[0] - a[0]) * t, a[1] + (b[1] - a[1]) * t, a[2] + (b[2] - a[2]) * t];
}

export const WHITE: Rgb = [255, 255, 255];
export const INK: Rgb = [14, 16, 28];
export const NIGHT: Rgb = [10, 14, 38];

// ---------------------------------------------------------------------------
// The plan

export type Setting = 'sea' | 'river' | 'city' | 'forest' | 'mountains' | 'desert' | 'space' | 'room' | 'snow' | 'garden' | 'hills';
export type TimeOfDay = 'dawn' | 'day' | 'dusk' | 'night';
export type Weather = 'clear' | 'rain' | 'storm' | 'fog' | 'snow';
export type Landmark = 'lighthouse' | 'tower' | 'castle' | 'house' | 'bridge' | 'boat' | 'windmill' | 'rocket';
export type Animal = 'bird' | 'beast' | 'whale';

export interface ScenePlan {
  setting: Setting;
  time: TimeOfDay;
  weather: Weather;
  landmarks: Landmark[];
  /** People standing in the scene (0-3). */
  figures: number;
  animals: Animal[];
  /** Landmarks on the right and figures on the left, or the other way round. */
  mirror: boolean;
  /** The view (0-2): for the sea a shore, a cliff top or a pier; elsewhere near, middle or far. */
  view: number;
  /** Where land (or the floor) meets the sky, as a fraction of the height. */
  horizon: number;
  /** -1..1: how far the ground leans to the palette's first colour or its second. */
  shift: number;
  /** The words that decided it, for tests and previews. */
  cues: string[];
}

const w = (words: string) => new RegExp(`\\b(?:${words})\\b`, 'gi');

/** Setting words, in the order ties are broken. */
const SETTING_CUES: Array<[Setting, RegExp]> = [
  ['space', w('space|planets?|rockets?|spaceships?|galax(?:y|ies)|asteroids?|orbit|astronauts?|comets?|nebula')],
  ['room', w('rooms?|kitchen|library|libraries|attic|bedroom|study|hall|parlou?r|workshop|inn|tavern|bakery|shop|classroom|museum|indoors|inside|fireplace|hearth|cellar')],
  ['sea', w('seas?|ocean|harbou?rs?|islands?|ships?|lighthouses?|beach|shore|coast|tides?|waves?|sailors?|pirates?|mermaids?|whales?|gulls?|cliffs?|voyage|port|bay')],
  ['river', w('rivers?|lakes?|ponds?|streams?|creek|canal|bridges?|ferry|waterfall|marsh')],
  ['desert', w('deserts?|dunes?|sands?|oasis|camels?|pyramids?|caravan')],
  ['snow', w('snow\\w*|ice|icy|winter|frozen|frost|blizzard|glaciers?|arctic|sled')],
  ['mountains', w('mountains?|peaks?|valley|summit|ridge|pass|climb\\w*|caves?|cliffside|highlands?')],
  ['city', w('city|cities|streets?|towns?|neon|subway|apartments?|rooftops?|market|square|alley|station|caf[eé]|taxi|skyscrapers?|metropolis|tokyo|london|paris|new york|lisbon|village')],
  ['forest', w('forests?|woods?|trees?|grove|jungle|pines?|thicket|glade|owls?|fox(?:es)?|wolf|wolves|deer|mushrooms?|moss')],
  ['garden', w('gardens?|flowers?|meadows?|fields?|roses?|orchards?|farm|blossoms?|bloom\\w*|tulips?')],
];
const TIME_CUES: Array<[TimeOfDay, RegExp]> = [
  ['night', w('night|midnight|moon\\w*|stars?|starlit|starry|dark(?:ness)?|nocturnal|lantern')],
  ['dusk', w('dusk|sunset|evening|twilight|nightfall|sundown')],
  ['dawn', w('dawn|sunrise|morning|daybreak|first light')],
  ['day', w('noon|midday|sunny|sunlit|afternoon|daylight|bright')],
];
const WEATHER_CUES: Array<[Weather, RegExp]> = [
  ['storm', w('storms?|stormy|thunder\\w*|lightning|gale|tempest|hurricane')],
  ['snow', w('snow\\w*|blizzard|snowfall')],
  ['rain', w('rain\\w*|drizzle|downpour|showers?|wet')],
  ['fog', w('fog\\w*|mist\\w*|haze|hazy')],
];
const LANDMARK_CUES: Array<[Landmark, RegExp]> = [
  ['lighthouse', w('lighthouses?|beacon')],
  ['rocket', w('rockets?|spaceships?|spacecraft')],
  ['castle', w('castles?|palace|fortress|kingdom|king|queen|princes?s?')],
  ['tower', w('towers?|clock ?tower|spire|steeple|observatory')],
  ['windmill', w('windmills?|mill')],
  ['bridge', w('bridges?')],
  ['boat', w('boats?|ships?|sail\\w*|ferry|rafts?|canoe')],
  ['house', w('houses?|home|cottages?|cabins?|hut|village|farmhouse|homecoming')],
];
const ANIMAL_CUES: Array<[Animal, RegExp]> = [
  ['bird', w('birds?|gulls?|seagulls?|crows?|ravens?|owls?|swallows?|sparrows?|dove|doves|eagle|hawk|geese|goose|robin|wings?')],
  ['beast', w('cats?|kittens?|dogs?|pupp(?:y|ies)|fox(?:es)?|wolf|wolves|deer|horses?|ponies|pony|bears?|rabbits?|hares?|goats?|sheep|mice|mouse|dragons?|lions?|tigers?')],
  ['whale', w('whales?|dolphins?|fish|sharks?|octopus')],
];
const PEOPLE = w(
  "keepers?|girls?|boys?|wom[ae]n|m[ae]n|child(?:ren)?|friends?|kings?|queens?|princes?s?|detectives?|wizards?|witch(?:es)?|bakers?|sailors?|travell?ers?|strangers?|mother|father|sisters?|brothers?|grand\\w+|apprentices?|knights?|farmers?|teachers?|doctors?|hero|heroine|he|she|they|together|both",
);
const CROWD = w('crowds?|people|villagers|townsfolk|family|families|children|everyone|festival|party|all of them');

function scores(text: string, cues: Array<[string, RegExp]>): Map<string, { count: number; first: number; word: string }> {
  const out = new Map<string, { count: number; first: number; word: string }>();
  for (const [name, re] of cues) {
    re.lastIndex = 0;
    for (const m of text.matchAll(re)) {
      const s = out.get(name);
      if (s) s.count++;
      else out.set(name, { count: 1, first: m.index!, word: m[0].toLowerCase() });
    }
  }
  return out;
}

/** The most named of `cues` in `text` (the earliest on a tie), or undefined. */
function strongest<T extends string>(text: string, cues: Array<[T, RegExp]>): { name: T; word: string } | undefined {
  let best: { name: T; word: string; count: number; first: number } | undefined;
  for (const [name, s] of scores(text, cues)) {
    if (!best || s.count > best.count || (s.count === best.count && s.first < best.first)) best = { name: name as T, ...s };
  }
  return best && { name: best.name, word: best.word };
}

const TIMES: TimeOfDay[] = ['day', 'dusk', 'night', 'dawn'];
const NEUTRAL: Setting[] = ['hills', 'forest', 'river', 'garden', 'mountains'];
/** Irrational fractions: multiples of each spread evenly over 0..1, however many there are. */
const PHI = 0.6180339887;
const SQRT2 = 0.4142135624;

export interface SceneWords {
  /** The picture's own words (a chapter's title and summary), which decide first. */
  text: string;
  /** The book's words (its setting), for what the picture's own words leave open. */
  context?: string;
  /** The chapter's number: varies what the words leave open, so chapters differ. */
  index?: number;
  /** The book's seed: the same book draws the same scenes. */
  seed: number;
}

export function planScene({ text, context = '', index, seed }: SceneWords): ScenePlan {
  const cues: string[] = [];
  // A picture with no number (a cover, a picture of its own) varies with its words instead.
  const n = index ?? (hash32(text) % 24) + 1;
  const book = hash32(`book\u241f${seed}`);
  const rng = new Rng((book ^ Math.imul(n, 0x9e3779b1)) >>> 0);

  const own = strongest(text, SETTING_CUES);
  const wider = own ? undefined : strongest(context, SETTING_CUES);
  let setting: Setting;
  if (own ?? wider) {
    setting = (own ?? wider)!.name;
    cues.push((own ?? wider)!.word);
  } else {
    setting = NEUTRAL[(n + (book % NEUTRAL.length)) % NEUTRAL.length];
  }

  const weatherCue = strongest(text, WEATHER_CUES);
  let weather: Weather = weatherCue?.name ?? 'clear';
  if (weatherCue) cues.push(weatherCue.word);
  if (setting === 'snow' && weather === 'clear' && n % 2 === 0) weather = 'snow';
  if (setting === 'space' || setting === 'room') weather = 'clear';

  const timeCue = strongest(text, TIME_CUES);
  let time: TimeOfDay;
  if (timeCue) {
    time = timeCue.name;
    cues.push(timeCue.word);
  } else {
    time = TIMES[(n + (book >>> 3)) % 4];
  }
  if (setting === 'space') time = 'night';
  if (weather === 'storm' && time === 'day') time = 'dusk';

  const landmarks: Landmark[] = [];
  for (const [name, s] of [...scores(text, LANDMARK_CUES)].sort((a, b) => a[1].first - b[1].first)) {
    if (landmarks.length < 2) {
      landmarks.push(name as Landmark);
      cues.push(s.word);
    }
  }
  // A setting with no landmark named gets one of its own now and then.
  if (landmarks.length === 0 && rng.chance(0.5)) {
    const own: Partial<Record<Setting, Landmark[]>> = {
      sea: ['lighthouse', 'boat'],
      river: ['bridge', 'boat', 'house'],
      hills: ['house', 'windmill', 'tower'],
      garden: ['house', 'windmill'],
      mountains: ['castle', 'tower'],
      snow: ['house'],
      forest: ['house'],
      city: ['tower'],
      desert: ['tower'],
    };
    const options = own[setting];
    if (options) landmarks.push(rng.pick(options));
  }

  const animals: Animal[] = [];
  for (const [name, s] of scores(text, ANIMAL_CUES)) {
    animals.push(name as Animal);
    cues.push(s.word);
  }
  if (setting !== 'sea' && setting !== 'river') {
    const i = animals.indexOf('whale');
    if (i >= 0) animals.splice(i, 1);
  }

  const people = [...text.matchAll(PEOPLE)].length + [...text.matchAll(/\b\p{Lu}\p{Ll}+\b/gu)].slice(1).length;
  CROWD.lastIndex = 0;
  const figures = CROWD.test(text) ? 3 : people >= 3 ? 2 : people >= 1 ? 1 : n % 3 === 0 ? 0 : 1;

  return {
    setting,
    time,
    weather,
    landmarks,
    figures,
    animals,
    // What the words leave open, by the chapter's number, so that neighbours always differ: the
    // time of day cycles every 4, the mirror every 8, the view every 3 (together every 24), and
    // the horizon and the palette's balance step by irrational fractions (never twice the same).
    mirror: ((n >> 2) + (book & 1)) % 2 === 1,
    view: (n + (book >>> 7)) % 3,
    horizon: 0.44 + 0.28 * ((n * PHI + (book % 997) / 997) % 1),
    shift: ((n * SQRT2 + (book % 991) / 991) % 1) * 2 - 1,
    cues,
  };
}

// ---------------------------------------------------------------------------
// Drawing

/** What stays the same across a book's pictures (its hero's build), from the book's seed. */
export interface BookLook {
  hat: boolean;
  cape: boolean;
}

export interface SceneFrame {
  w: number;
  h: number;
  /** The book's two colours. */
  c1: Rgb;
  c2: Rgb;
  /** Fraction of the height above which the sky's things stay away (a cover's lettering). */
  clearTop: number;
}

const SKY: Record<TimeOfDay, [Rgb, Rgb, Rgb]> = {
  dawn: [[58, 72, 122], [226, 150, 160], [255, 212, 160]],
  day: [[88, 150, 214], [150, 196, 234], [226, 240, 246]],
  dusk: [[44, 40, 92], [176, 80, 122], [242, 154, 90]],
  night: [[6, 10, 32], [18, 30, 72], [40, 52, 98]],
};
/** The setting's own ground colours, front and back. */
const GROUND: Record<Setting, [Rgb, Rgb]> = {
  sea: [[40, 104, 140], [214, 190, 140]],
  river: [[94, 142, 72], [62, 126, 166]],
  city: [[78, 84, 104], [58, 60, 72]],
  forest: [[44, 92, 52], [26, 60, 36]],
  mountains: [[104, 110, 128], [76, 96, 70]],
  desert: [[222, 170, 94], [196, 136, 70]],
  space: [[84, 70, 104], [50, 40, 70]],
  room: [[150, 112, 80], [110, 76, 52]],
  snow: [[232, 238, 246], [196, 208, 224]],
  garden: [[104, 160, 76], [76, 130, 60]],
  hills: [[112, 152, 80], [86, 124, 66]],
};

const f = (v: number) => v.toFixed(1);

/** Smooth closed ridge through random points (Catmull-Rom turned into cubic Béziers). */
function ridge(rng: Rng, w: number, h: number, baseY: number, amp: number, points: number): { d: string; yAt: (x: number) => number } {
  const pts: Array<[number, number]> = [];
  for (let i = 0; i <= points; i++) pts.push([(i / points) * w, baseY + rng.range(-amp, amp)]);
  const ext = [pts[0], ...pts, pts[pts.length - 1]];
  let d = `M-2 ${h + 2} L-2 ${f(pts[0][1])}`;
  for (let i = 1; i < ext.length - 2; i++) {
    const [p0, p1, p2, p3] = [ext[i - 1], ext[i], ext[i + 1], ext[i + 2]];
    d += ` C${f(p1[0] + (p2[0] - p0[0]) / 6)} ${f(p1[1] + (p2[1] - p0[1]) / 6)} ${f(p2[0] - (p3[0] - p1[0]) / 6)} ${f(p2[1] - (p3[1] - p1[1]) / 6)} ${f(p2[0])} ${f(p2[1])}`;
  }
  d += ` L${w + 2} ${h + 2} Z`;
  const yAt = (x: number) => {
    const i = Math.max(0, Math.min(points - 1, Math.floor((x / w) * points)));
    const t = Math.max(0, Math.min(1, (x - pts[i][0]) / (pts[i + 1][0] - pts[i][0])));
    const s = t * t * (3 - 2 * t);
    return pts[i][1] + (pts[i + 1][1] - pts[i][1]) * s;
  };
  return { d, yAt };
}

/** The scene's SVG body (defs and shapes), drawn for `plan` in `frame`. */
export function drawScene(plan: ScenePlan, frame: SceneFrame, look: BookLook, rng: Rng): string {
  const { w, h, c1, c2, clearTop } = frame;
  const s = Math.min(w, h) / 1024;
  const parts: string[] = [];
  const defs: string[] = [];
  const night = plan.time === 'night';
  const dark = night || plan.weather === 'storm';
  const horizonY = Math.max(clearTop + 0.12, plan.horizon) * h;
  // The landmarks' side and the figures' side.
  const side = (t: number) => (plan.mirror ? 1 - t : t) * w;
  const palette = mix(c1, c2, (plan.shift + 1) / 2);

  // --- Sky: the time of day's colours, a third of the way to the palette's.
  let [top, mid, low] = SKY[plan.time];
  top = mix(top, c1, 0.3);
  mid = mix(mid, palette, 0.3);
  low = mix(low, c2, 0.3);
  if (plan.weather === 'storm') [top, mid, low] = [mix(top, [52, 56, 66], 0.6), mix(mid, [70, 74, 86], 0.6), mix(low, [96, 100, 110], 0.5)];
  if (plan.weather === 'rain' || plan.weather === 'snow') [top, mid] = [mix(top, [120, 126, 138], 0.45), mix(mid, [150, 156, 166], 0.4)];
  if (plan.weather === 'fog') [mid, low] = [mix(mid, [206, 210, 214], 0.5), mix(low, [224, 226, 228], 0.6)];
  defs.push(
    `<linearGradient id="sky" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(top)}"/><stop offset="0.6" stop-color="${hex(mid)}"/><stop offset="1" stop-color="${hex(low)}"/></linearGradient>`,
  );

  if (plan.setting === 'room') return drawRoom(plan, frame, look, rng, { top, mid, low }, defs);

  parts.push(`<rect width="${w}" height="${h}" fill="url(#sky)"/>`);

  // --- Sun or moon: low at dawn and dusk, high by day, hidden by a storm or rain.
  const sunX = side(rng.range(0.55, 0.85));
  const skyTop = clearTop * h;
  const sunY =
    plan.time === 'day' ? skyTop + (horizonY - skyTop) * rng.range(0.2, 0.35) : plan.time === 'night' ? skyTop + (horizonY - skyTop) * rng.range(0.18, 0.4) : horizonY - (horizonY - skyTop) * rng.range(0.12, 0.25);
  const r = (night ? 40 : plan.time === 'day' ? 56 : 80) * s * rng.range(0.9, 1.15) * (plan.setting === 'desert' ? 1.4 : 1);
  const orb: Rgb = night ? mix(WHITE, c2, 0.12) : plan.time === 'day' ? [255, 244, 200] : mix([255, 170, 90], c2, 0.2);
  const veiled = plan.weather !== 'clear' && plan.weather !== 'fog';
  if (!veiled) {
    defs.push(`<radialGradient id="glow"><stop offset="0" stop-color="${hex(orb)}" stop-opacity="0.6"/><stop offset="1" stop-color="${hex(orb)}" stop-opacity="0"/></radialGradient>`);
    parts.push(`<circle cx="${f(sunX)}" cy="${f(sunY)}" r="${f(r * 3.6)}" fill="url(#glow)"/>`);
  }
  if (night || plan.setting === 'space') {
    const stars: string[] = [];
    const count = Math.round(((plan.setting === 'space' ? 260 : 110) * (w * h)) / (1024 * 1024)) + 20;
    for (let i = 0; i < count; i++) {
      const y = skyTop + Math.pow(rng.float(), 1.5) * (horizonY - skyTop);
      stars.push(`<circle cx="${f(rng.range(0, w))}" cy="${f(y)}" r="${(rng.range(0.6, 2.2) * s).toFixed(2)}" fill-opacity="${rng.range(0.35, 1).toFixed(2)}"/>`);
    }
    parts.push(`<g fill="#fffbe8">${stars.join('')}</g>`);
  }
  if (!veiled) {
    if (night) {
      defs.push(`<mask id="crescent"><rect width="${w}" height="${h}" fill="#fff"/><circle cx="${f(sunX + r * 0.45)}" cy="${f(sunY - r * 0.25)}" r="${f(r * 0.88)}" fill="#000"/></mask>`);
      parts.push(`<circle cx="${f(sunX)}" cy="${f(sunY)}" r="${f(r)}" fill="${hex(orb)}" mask="url(#crescent)"/>`);
    } else {
      parts.push(`<circle cx="${f(sunX)}" cy="${f(sunY)}" r="${f(r)}" fill="${hex(orb)}"/>`);
    }
  }
  if (plan.setting === 'space') {
    // A ringed planet across the sky.
    const px = side(rng.range(0.2, 0.4));
    const py = skyTop + (horizonY - skyTop) * rng.range(0.3, 0.5);
    const pr = rng.range(90, 140) * s;
    const pc = mix(palette, [200, 120, 90], 0.4);
    defs.push(`<linearGradient id="planet" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${hex(mix(pc, WHITE, 0.35))}"/><stop offset="1" stop-color="${hex(mix(pc, INK, 0.5))}"/></linearGradient>`);
    parts.push(
      `<circle cx="${f(px)}" cy="${f(py)}" r="${f(pr)}" fill="url(#planet)"/>`,
      `<ellipse cx="${f(px)}" cy="${f(py)}" rx="${f(pr * 1.8)}" ry="${f(pr * 0.35)}" fill="none" stroke="${hex(mix(c2, WHITE, 0.4))}" stroke-width="${f(8 * s)}" stroke-opacity="0.8" transform="rotate(-14 ${f(px)} ${f(py)})"/>`,
    );
  }

  // Clouds by day and at dawn or dusk; heavy ones in bad weather.
  if (!night || plan.weather !== 'clear') {
    const clouds = plan.weather === 'clear' ? rng.int(1, 3) : rng.int(4, 6);
    const cc = plan.weather === 'storm' ? hex([70, 74, 86]) : plan.weather === 'clear' ? '#ffffff' : hex([180, 184, 192]);
    const puffs: string[] = [];
    for (let i = 0; i < clouds && plan.setting !== 'space'; i++) {
      const cw = rng.range(110, 200) * s * (plan.weather === 'clear' ? 1 : 1.5);
      const cy = skyTop + (horizonY - skyTop) * rng.range(0.08, 0.55);
      const cx = rng.range(0.05, 0.95) * w;
      for (let k = 0; k < 4; k++) {
        puffs.push(`<ellipse cx="${f(cx + (k - 1.5) * cw * 0.35)}" cy="${f(cy - (k === 1 || k === 2 ? cw * 0.12 : 0))}" rx="${f(cw * 0.32)}" ry="${f(cw * 0.2)}"/>`);
      }
    }
    parts.push(`<g fill="${cc}" fill-opacity="${plan.weather === 'clear' ? 0.5 : 0.85}">${puffs.join('')}</g>`);
  }
  if (plan.weather === 'storm') {
    const lx = side(rng.range(0.3, 0.6));
    let d = `M${f(lx)} ${f(skyTop + 0.05 * h)}`;
    let y = skyTop + 0.05 * h;
    let x = lx;
    while (y < horizonY - 0.05 * h) {
      x += rng.range(-30, 30) * s;
      y += rng.range(30, 60) * s;
      d += ` L${f(x)} ${f(y)}`;
    }
    parts.push(`<path d="${d}" fill="none" stroke="#fff7c2" stroke-width="${f(4 * s)}" stroke-linejoin="bevel"/>`);
  }

  // --- Ground: the setting's colours tinted by the palette; night and storms darken them.
  const tint = (c: Rgb, depth: number): Rgb => {
    let out = mix(c, palette, 0.3);
    if (dark) out = mix(out, NIGHT, 0.45);
    else if (plan.time === 'dusk') out = mix(out, [90, 40, 80], 0.2);
    else if (plan.time === 'dawn') out = mix(out, [240, 170, 150], 0.12);
    if (plan.weather === 'fog') out = mix(out, [210, 212, 216], 0.35 * (1 - depth));
    // Aerial perspective: far layers fade toward the sky's low colour.
    return mix(out, low, (1 - depth) * 0.45);
  };
  const [g1, g2] = GROUND[plan.setting];
  let front: { d: string; yAt: (x: number) => number } | undefined;
  const layer = (depth: number, base: number, amp: number, colour: Rgb, points = rng.int(4, 7)) => {
    const rd = ridge(rng, w, h, base, amp * s, points);
    parts.push(`<path d="${rd.d}" fill="${hex(tint(colour, depth))}"/>`);
    return rd;
  };
  const landmarkCap = horizonY - skyTop - 0.03 * h;
  let bridgeAt: { x: number; y: number } | undefined;

  switch (plan.setting) {
    case 'sea': {
      defs.push(
        `<linearGradient id="water" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(tint(g1, 0.3))}"/><stop offset="1" stop-color="${hex(tint(mix(g1, INK, 0.35), 1))}"/></linearGradient>`,
      );
      parts.push(`<rect y="${f(horizonY)}" width="${w}" height="${f(h - horizonY)}" fill="url(#water)"/>`);
      const waves: string[] = [];
      for (let k = 0; k < 36; k++) {
        const y = horizonY + Math.pow(rng.float(), 1.3) * (h - horizonY);
        const x = rng.range(0, w);
        const l = rng.range(12, 44) * s * (1 + (y - horizonY) / h);
        waves.push(`<path d="M${f(x - l / 2)} ${f(y)}q${f(l / 4)} ${f(-5 * s)} ${f(l / 2)} 0t${f(l / 2)} 0"/>`);
      }
      parts.push(`<g fill="none" stroke="${hex(mix(orb, WHITE, 0.3))}" stroke-opacity="0.5" stroke-width="${f(2.2 * s)}" stroke-linecap="round">${waves.join('')}</g>`);
      const flip = plan.mirror ? ` transform="translate(${w} 0) scale(-1 1)"` : '';
      const onSide = (x: number, t: number) => (plan.mirror ? x > w * (1 - t) : x < w * t);
      if (plan.view === 1) {
        // A grassy cliff top on the figures' side, falling to the water.
        const top = horizonY + (h - horizonY) * 0.3;
        const d = `M-2 ${h + 2} L-2 ${f(top)} Q${f(0.3 * w)} ${f(top - 20 * s)} ${f(0.46 * w)} ${f(top + 10 * s)} L${f(0.52 * w)} ${f(h + 2)} Z`;
        parts.push(`<path d="${d}" fill="${hex(tint(GROUND.hills[1], 1))}"${flip}/>`);
        parts.push(`<path d="M${f(0.46 * w)} ${f(top + 10 * s)} L${f(0.52 * w)} ${f(h + 2)} L${f(0.42 * w)} ${f(h + 2)} Z" fill="${hex(tint(GROUND.mountains[0], 1))}"${flip}/>`);
        front = { d, yAt: (x) => (onSide(x, 0.45) ? top - 8 * s : h * 0.97) };
      } else if (plan.view === 2) {
        // A wooden pier out into the water, the figures on it.
        const py = horizonY + (h - horizonY) * 0.55;
        const posts: string[] = [];
        for (let k = 0; k < 6; k++) posts.push(`M${f(-2 + k * 0.09 * w)} ${f(py)}v${f(h * 0.12)}`);
        parts.push(`<g${flip}><rect x="-2" y="${f(py - 10 * s)}" width="${f(0.52 * w)}" height="${f(18 * s)}" fill="${hex(tint([120, 86, 56], 1))}"/><path d="${posts.join('')}" stroke="${hex(tint([80, 56, 40], 1))}" stroke-width="${f(12 * s)}"/></g>`);
        front = { d: '', yAt: (x) => (onSide(x, 0.5) ? py - 8 * s : h * 0.97) };
      } else {
        // A sandy shore in front, on the figures' side.
        const d = `M-2 ${h + 2} L-2 ${f(h * rng.range(0.8, 0.86))} Q${f(0.3 * w)} ${f(h * 0.8)} ${f(0.62 * w)} ${f(h + 2)} Z`;
        parts.push(`<path d="${d}" fill="${hex(tint(g2, 1))}"${flip}/>`);
        front = { d, yAt: (x) => (onSide(x, 0.45) ? h * 0.9 : h * 0.97) };
      }
      break;
    }
    case 'river': {
      layer(0.3, horizonY, 30, g1);
      const far = layer(0.6, horizonY + (h - horizonY) * 0.25, 26, mix(g1, INK, 0.1));
      // The river winds from the horizon to the front.
      const rx = side(rng.range(0.45, 0.6));
      const y0 = far.yAt(rx);
      const bend = (plan.mirror ? -1 : 1) * 120 * s;
      parts.push(
        `<path d="M${f(rx - 20 * s)} ${f(y0)} C${f(rx - bend - 90 * s)} ${f(y0 + (h - y0) * 0.4)} ${f(rx + bend - 60 * s)} ${f(y0 + (h - y0) * 0.6)} ${f(rx - 260 * s)} ${f(h + 2)} L${f(rx + 260 * s)} ${f(h + 2)} C${f(rx + bend + 60 * s)} ${f(y0 + (h - y0) * 0.6)} ${f(rx - bend + 90 * s)} ${f(y0 + (h - y0) * 0.4)} ${f(rx + 20 * s)} ${f(y0)} Z" fill="${hex(tint(g2, 0.8))}"/>`,
      );
      bridgeAt = { x: rx, y: y0 + (h - y0) * 0.45 };
      front = { d: '', yAt: (x) => h * 0.88 + Math.sin(x / w * 6) * 8 * s };
      break;
    }
    case 'desert': {
      layer(0.25, horizonY, 20, g1, 3);
      layer(0.6, horizonY + (h - horizonY) * 0.3, 40, mix(g1, g2, 0.5), 3);
      front = layer(1, horizonY + (h - horizonY) * 0.62, 36, g2, 3);
      // A few cacti on the dunes.
      const cacti: string[] = [];
      for (let k = rng.int(1, 3); k > 0; k--) {
        const x = rng.range(0.05, 0.95) * w;
        const y = front.yAt(x) + 4 * s;
        const ch = rng.range(50, 90) * s;
        cacti.push(
          `<path d="M${f(x)} ${f(y)}V${f(y - ch)}M${f(x)} ${f(y - ch * 0.5)}h${f(-ch * 0.25)}v${f(-ch * 0.25)}M${f(x)} ${f(y - ch * 0.62)}h${f(ch * 0.22)}v${f(-ch * 0.22)}"/>`,
        );
      }
      parts.push(`<g fill="none" stroke="${hex(tint([60, 110, 60], 1))}" stroke-width="${f(10 * s)}" stroke-linecap="round">${cacti.join('')}</g>`);
      break;
    }
    case 'space': {
      front = layer(1, horizonY + (h - horizonY) * 0.4, 30, g1, 6);
      const craters: string[] = [];
      for (let k = 0; k < 6; k++) {
        const x = rng.range(0, w);
        const y = Math.max(front.yAt(x) + 20 * s, rng.range(front.yAt(x), h));
        craters.push(`<ellipse cx="${f(x)}" cy="${f(y)}" rx="${f(rng.range(18, 40) * s)}" ry="${f(rng.range(5, 10) * s)}"/>`);
      }
      parts.push(`<g fill="${hex(tint(g2, 1))}">${craters.join('')}</g>`);
      break;
    }
    case 'mountains':
    case 'snow': {
      const peaks = rng.int(3, 5);
      for (let i = 0; i < peaks; i++) {
        const px = ((i + rng.range(0.1, 0.9)) / peaks) * w;
        const ph = Math.min(landmarkCap, rng.range(0.22, 0.4) * h);
        const pw = rng.range(0.3, 0.45) * w;
        const peakTop = horizonY - ph;
        parts.push(`<path d="M${f(px - pw / 2)} ${f(horizonY + 40 * s)} L${f(px)} ${f(peakTop)} L${f(px + pw / 2)} ${f(horizonY + 40 * s)} Z" fill="${hex(tint(plan.setting === 'snow' ? [170, 184, 204] : g1, 0.3))}"/>`);
        const capH = ph * (plan.setting === 'snow' ? 0.45 : 0.22);
        parts.push(
          `<path d="M${f(px - (pw / 2) * (capH / ph))} ${f(peakTop + capH)} L${f(px)} ${f(peakTop)} L${f(px + (pw / 2) * (capH / ph))} ${f(peakTop + capH)} L${f(px + pw * 0.03)} ${f(peakTop + capH * 0.8)} L${f(px - pw * 0.04)} ${f(peakTop + capH * 1.05)} Z" fill="${hex(mix(WHITE, c2, 0.1))}" fill-opacity="${dark ? 0.6 : 0.92}"/>`,
        );
      }
      layer(0.6, horizonY + (h - horizonY) * 0.25, 30, plan.setting === 'snow' ? g2 : mix(g2, g1, 0.3));
      front = layer(1, horizonY + (h - horizonY) * 0.6, 26, plan.setting === 'snow' ? g1 : g2);
      break;
    }
    case 'city': {
      const col = tint(g1, 0.4);
      const lit = dark || plan.time === 'dusk' ? '#ffe6a3' : hex(mix(WHITE, c2, 0.3));
      let x = -10 * s;
      const windows: string[] = [];
      const blocks: string[] = [];
      while (x < w) {
        const bw = rng.range(50, 120) * s;
        const bh = Math.min(landmarkCap, rng.range(0.12, 0.36) * h);
        blocks.push(`<rect x="${f(x)}" y="${f(horizonY - bh)}" width="${f(bw)}" height="${f(bh + 60 * s)}"/>`);
        for (let wy = horizonY - bh + 14 * s; wy < horizonY - 10 * s; wy += 24 * s) {
          for (let wx = x + 10 * s; wx < x + bw - 14 * s; wx += 20 * s) {
            if (rng.chance(dark ? 0.4 : 0.15)) windows.push(`<rect x="${f(wx)}" y="${f(wy)}" width="${f(8 * s)}" height="${f(11 * s)}"/>`);
          }
        }
        x += bw + rng.range(2, 14) * s;
      }
      parts.push(`<g fill="${hex(col)}">${blocks.join('')}</g>`, `<g fill="${lit}" fill-opacity="${dark ? 0.9 : 0.45}">${windows.join('')}</g>`);
      // The street in front, with its lamps.
      const streetY = horizonY + (h - horizonY) * 0.35;
      parts.push(`<rect y="${f(streetY)}" width="${w}" height="${f(h - streetY)}" fill="${hex(tint(g2, 1))}"/>`);
      parts.push(`<path d="M0 ${f(streetY + (h - streetY) * 0.45)}H${w}" stroke="${hex(mix(tint(g2, 1), WHITE, 0.35))}" stroke-width="${f(5 * s)}" stroke-dasharray="${f(40 * s)} ${f(30 * s)}"/>`);
      for (let k = 0; k < 3; k++) {
        const lx = ((k + 0.5) / 3) * w;
        parts.push(`<path d="M${f(lx)} ${f(streetY + 6 * s)}V${f(streetY - 110 * s)}h${f(18 * s)}" fill="none" stroke="${hex(mix(INK, c1, 0.2))}" stroke-width="${f(5 * s)}"/>`);
        if (dark || plan.time === 'dusk') parts.push(`<circle cx="${f(lx + 18 * s)}" cy="${f(streetY - 104 * s)}" r="${f(16 * s)}" fill="#ffe6a3" fill-opacity="0.55"/>`);
      }
      front = { d: '', yAt: () => streetY + (h - streetY) * 0.3 };
      break;
    }
    default: {
      // Hills, forest, garden: rolling layers of land, back to front.
      layer(0.3, horizonY, 40, mix(g1, g2, 0.2));
      const mid = layer(0.6, horizonY + (h - horizonY) * 0.28, 36, g1);
      front = layer(1, horizonY + (h - horizonY) * 0.6, 28, g2);
      const trees: string[] = [];
      const count = plan.setting === 'forest' ? rng.int(16, 26) : rng.int(2, 6);
      for (let k = 0; k < count; k++) {
        const onFront = plan.setting === 'forest' && k % 3 === 0;
        const tx = rng.range(0, w);
        const ty = (onFront ? front : mid).yAt(tx) + 6 * s;
        const th = Math.min(landmarkCap, rng.range(60, 140) * s * (onFront ? 1.5 : 1));
        trees.push(
          rng.chance(plan.setting === 'forest' ? 0.7 : 0.3)
            ? `<path d="M${f(tx - th * 0.28)} ${f(ty)} L${f(tx)} ${f(ty - th)} L${f(tx + th * 0.28)} ${f(ty)} Z"/>`
            : `<rect x="${f(tx - th * 0.03)}" y="${f(ty - th * 0.45)}" width="${f(th * 0.06)}" height="${f(th * 0.45)}"/><circle cx="${f(tx)}" cy="${f(ty - th * 0.6)}" r="${f(th * 0.26)}"/>`,
        );
      }
      parts.push(`<g fill="${hex(tint(mix(g2, INK, 0.35), 0.9))}">${trees.join('')}</g>`);
      if (plan.setting === 'garden') {
        const flowers: string[] = [];
        const colours = [mix([230, 80, 110], c2, 0.3), mix([250, 210, 80], c2, 0.3), mix([240, 240, 255], c1, 0.2)];
        for (let k = 0; k < 70; k++) {
          const x = rng.range(0, w);
          const y = front.yAt(x) + rng.range(4, h - front.yAt(x));
          flowers.push(`<circle cx="${f(x)}" cy="${f(y)}" r="${f(rng.range(4, 9) * s)}" fill="${hex(colours[k % 3])}"/>`);
        }
        parts.push(`<g fill-opacity="${dark ? 0.5 : 0.95}">${flowers.join('')}</g>`);
      }
    }
  }

  // --- Landmarks: the first on its side, larger; a second smaller on the horizon.
  plan.landmarks.forEach((kind, i) => {
    let x = side(i === 0 ? rng.range(0.68, 0.82) : rng.range(0.4, 0.55));
    let baseY = i === 0 && front && plan.setting !== 'sea' ? Math.min(front.yAt(x) + 8 * s, h) : horizonY + 6 * s;
    if (kind === 'bridge' && bridgeAt) ({ x, y: baseY } = bridgeAt);
    const size = Math.min(landmarkCap + (baseY - horizonY), (i === 0 ? 0.36 : 0.16) * h);
    parts.push(drawLandmark(kind, x, baseY, size, s, { body: tint(mix(WHITE, c1, 0.45), 0.8), dark: tint(mix(INK, c1, 0.2), 1), accent: mix([200, 60, 50], c2, 0.3), lit: dark || plan.time === 'dusk', plan }));
  });

  // --- Figures on the other side, animals beside them.
  const figures: string[] = [];
  const figureY = (x: number) => (front ? front.yAt(x) + 4 * s : h * 0.92);
  // Near, middle or far: the view sets the people's size (the sea's views are places instead).
  const fh = h * 0.16 * (Math.min(w, h) / h) * (plan.setting === 'sea' ? 1 : [1.5, 1, 0.7][plan.view]);
  const body = hex(dark ? mix(INK, c1, 0.12) : mix(INK, c1, 0.25));
  for (let k = 0; k < plan.figures; k++) {
    const x = side(0.22 + k * 0.1 + rng.range(-0.02, 0.02));
    figures.push(drawFigure(x, figureY(x), fh * (k === 0 ? 1 : 0.82), body, k === 0 ? look : { hat: false, cape: false }, night && k === 0));
  }
  for (const animal of plan.animals) {
    if (animal === 'bird') {
      const birds = rng.int(3, 6);
      const bx = side(rng.range(0.3, 0.55));
      const by = skyTop + (horizonY - skyTop) * rng.range(0.3, 0.6);
      const d: string[] = [];
      for (let i = 0; i < birds; i++) {
        const x = bx + rng.range(-120, 120) * s;
        const y = by + rng.range(-60, 60) * s;
        const bw = rng.range(14, 24) * s;
        d.push(`M${f(x - bw)} ${f(y - bw * 0.4)}Q${f(x - bw * 0.4)} ${f(y - bw * 0.7)} ${f(x)} ${f(y)}Q${f(x + bw * 0.4)} ${f(y - bw * 0.7)} ${f(x + bw)} ${f(y - bw * 0.4)}`);
      }
      parts.push(`<path d="${d.join('')}" fill="none" stroke="${hex(dark ? mix(WHITE, c2, 0.3) : mix(INK, c1, 0.3))}" stroke-width="${f(3.2 * s)}" stroke-linecap="round"/>`);
    } else if (animal === 'beast') {
      const x = side(0.22 + plan.figures * 0.1 + 0.02);
      figures.push(drawBeast(x, figureY(x), fh * 0.42, body, plan.mirror));
    } else if (animal === 'whale' && (plan.setting === 'sea' || plan.setting === 'river')) {
      const x = side(0.5);
      const y = horizonY + (h - horizonY) * 0.3;
      const t = 70 * s;
      parts.push(`<path d="M${f(x)} ${f(y)} C${f(x - t * 0.2)} ${f(y - t)} ${f(x - t * 1.4)} ${f(y - t * 1.2)} ${f(x - t * 1.6)} ${f(y - t * 1.4)} C${f(x - t * 0.8)} ${f(y - t * 0.9)} ${f(x)} ${f(y - t * 0.9)} ${f(x)} ${f(y - t * 0.6)} C${f(x)} ${f(y - t * 0.9)} ${f(x + t * 0.8)} ${f(y - t * 0.9)} ${f(x + t * 1.6)} ${f(y - t * 1.4)} C${f(x + t * 1.4)} ${f(y - t * 1.2)} ${f(x + t * 0.2)} ${f(y - t)} ${f(x)} ${f(y)} Z" fill="${body}"/>`);
    }
  }
  parts.push(figures.join(''));

  defs.push(`<radialGradient id="lamp"><stop offset="0" stop-color="#fff1b0" stop-opacity="0.85"/><stop offset="1" stop-color="#ffcf6b" stop-opacity="0"/></radialGradient>`);

  // --- Weather in front of everything.
  parts.push(weatherLayer(plan.weather, w, h, s, rng, skyTop));
  defs.push(
    `<radialGradient id="vignette" cx="0.5" cy="0.45" r="0.75"><stop offset="0.6" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="${dark ? 0.45 : 0.25}"/></radialGradient>`,
  );
  parts.push(`<rect width="${w}" height="${h}" fill="url(#vignette)"/>`);
  return `<defs>${defs.join('')}</defs>${parts.join('')}`;
}

function weatherLayer(weather: Weather, w: number, h: number, s: number, rng: Rng, top: number): string {
  if (weather === 'rain' || weather === 'storm') {
    const d: string[] = [];
    for (let i = 0; i < 160; i++) {
      const x = rng.range(-40, w);
      const y = rng.range(top, h);
      const l = rng.range(18, 34) * s;
      d.push(`M${f(x)} ${f(y)}l${f(l * 0.3)} ${f(l)}`);
    }
    return `<path d="${d.join('')}" stroke="#dfe8f2" stroke-opacity="0.55" stroke-width="${f(1.8 * s)}" stroke-linecap="round"/>`;
  }
  if (weather === 'snow') {
    const flakes: string[] = [];
    for (let i = 0; i < 140; i++) flakes.push(`<circle cx="${f(rng.range(0, w))}" cy="${f(rng.range(top, h))}" r="${f(rng.range(1.5, 4.5) * s)}"/>`);
    return `<g fill="#ffffff" fill-opacity="0.85">${flakes.join('')}</g>`;
  }
  if (weather === 'fog') {
    const bands: string[] = [];
    for (let i = 0; i < 3; i++) {
      const y = rng.range(0.45, 0.85) * h;
      bands.push(`<rect x="-10" y="${f(y)}" width="${w + 20}" height="${f(rng.range(40, 90) * s)}" rx="${f(40 * s)}"/>`);
    }
    return `<g fill="#eef0f2" fill-opacity="0.35">${bands.join('')}</g>`;
  }
  return '';
}

function drawFigure(fx: number, fy: number, fh: number, body: string, look: BookLook, lantern: boolean): string {
  const head = fh * 0.12;
  const neckY = fy - fh * 0.74;
  const spread = look.cape ? 0.28 : 0.2;
  const out: string[] = [
    `<path d="M${f(fx - fh * 0.08)} ${f(neckY)} Q${f(fx - fh * 0.16)} ${f(neckY + fh * 0.2)} ${f(fx - fh * spread)} ${f(fy - fh * 0.22)} L${f(fx + fh * spread)} ${f(fy - fh * 0.22)} Q${f(fx + fh * 0.16)} ${f(neckY + fh * 0.2)} ${f(fx + fh * 0.08)} ${f(neckY)} Z"/>`,
    `<path d="M${f(fx - fh * 0.07)} ${f(fy - fh * 0.23)} L${f(fx - fh * 0.08)} ${f(fy)} M${f(fx + fh * 0.07)} ${f(fy - fh * 0.23)} L${f(fx + fh * 0.09)} ${f(fy)}" stroke="${body}" stroke-width="${f(fh * 0.05)}" stroke-linecap="round" fill="none"/>`,
    `<circle cx="${f(fx)}" cy="${f(neckY - head * 0.9)}" r="${f(head)}"/>`,
  ];
  if (look.hat) {
    out.push(
      `<path d="M${f(fx - head * 1.7)} ${f(neckY - head * 1.3)} L${f(fx + head * 1.7)} ${f(neckY - head * 1.3)} L${f(fx + head * 0.8)} ${f(neckY - head * 1.55)} L${f(fx + head * 0.6)} ${f(neckY - head * 2.6)} L${f(fx - head * 0.6)} ${f(neckY - head * 2.6)} L${f(fx - head * 0.8)} ${f(neckY - head * 1.55)} Z"/>`,
    );
  } else {
    out.push(
      `<path d="M${f(fx - head)} ${f(neckY - head)} Q${f(fx - head * 2.4)} ${f(neckY - head * 0.2)} ${f(fx - head * 2.2)} ${f(neckY + head * 1.3)} Q${f(fx - head * 1.2)} ${f(neckY + head * 0.4)} ${f(fx - head * 0.3)} ${f(neckY + head * 0.1)} Z"/>`,
    );
  }
  let glow = '';
  if (lantern) {
    const lx = fx + fh * 0.3;
    const ly = fy - fh * 0.42;
    glow =
      `<circle cx="${f(lx)}" cy="${f(ly)}" r="${f(fh * 0.4)}" fill="url(#lamp)"/>` +
      `<path d="M${f(fx + fh * 0.12)} ${f(fy - fh * 0.6)} L${f(lx)} ${f(ly - fh * 0.05)}" stroke="${body}" stroke-width="${f(fh * 0.035)}"/>` +
      `<circle cx="${f(lx)}" cy="${f(ly)}" r="${f(fh * 0.05)}" fill="#fff6cf"/>`;
  }
  return `<ellipse cx="${f(fx + fh * 0.3)}" cy="${f(fy)}" rx="${f(fh * 0.4)}" ry="${f(fh * 0.04)}" fill="#000" fill-opacity="0.18"/><g fill="${body}">${out.join('')}</g>${glow}`;
}

/** A four-legged animal (a cat, a fox, a dog: the shape says animal, not which). */
function drawBeast(x: number, y: number, size: number, body: string, facingLeft: boolean): string {
  const dir = facingLeft ? -1 : 1;
  const legs = [-0.35, -0.2, 0.2, 0.35].map((k) => `M${f(x + k * size)} ${f(y - size * 0.35)}V${f(y)}`).join('');
  return (
    `<g fill="${body}"><ellipse cx="${f(x)}" cy="${f(y - size * 0.5)}" rx="${f(size * 0.5)}" ry="${f(size * 0.22)}"/>` +
    `<circle cx="${f(x + dir * size * 0.55)}" cy="${f(y - size * 0.75)}" r="${f(size * 0.17)}"/>` +
    `<path d="M${f(x + dir * size * 0.5)} ${f(y - size * 0.88)}l${f(dir * size * 0.04)} ${f(-size * 0.2)}l${f(dir * size * 0.1)} ${f(size * 0.16)}Z"/></g>` +
    `<path d="${legs}M${f(x - dir * size * 0.48)} ${f(y - size * 0.55)}q${f(-dir * size * 0.3)} ${f(-size * 0.1)} ${f(-dir * size * 0.35)} ${f(-size * 0.45)}" stroke="${body}" stroke-width="${f(size * 0.09)}" stroke-linecap="round" fill="none"/>`
  );
}

function drawLandmark(
  kind: Landmark,
  x: number,
  y: number,
  size: number,
  s: number,
  c: { body: Rgb; dark: Rgb; accent: Rgb; lit: boolean; plan: ScenePlan },
): string {
  const body = hex(c.body);
  const dark = hex(c.dark);
  const light = '#fff1b0';
  switch (kind) {
    case 'lighthouse': {
      const bw = size * 0.16;
      const top = y - size;
      const stripes = [0.25, 0.55].map((k) => `<path d="M${f(x - bw * (0.5 - k * 0.15))} ${f(y - size * k)}h${f(bw * (1 - k * 0.3))}v${f(size * 0.1)}h${f(-bw * (1 - k * 0.3))}Z"/>`).join('');
      const beam = c.lit
        ? `<path d="M${f(x)} ${f(top + size * 0.06)} L${f(x - size * 1.6)} ${f(top - size * 0.15)} L${f(x - size * 1.6)} ${f(top + size * 0.27)} Z" fill="${light}" fill-opacity="0.22"/><path d="M${f(x)} ${f(top + size * 0.06)} L${f(x + size * 1.6)} ${f(top - size * 0.1)} L${f(x + size * 1.6)} ${f(top + size * 0.2)} Z" fill="${light}" fill-opacity="0.16"/>`
        : '';
      return (
        `<path d="M${f(x - size * 0.34)} ${f(y + 10 * s)} Q${f(x)} ${f(y - size * 0.12)} ${f(x + size * 0.34)} ${f(y + 10 * s)} Z" fill="${dark}"/>` +
        beam +
        `<path d="M${f(x - bw / 2)} ${f(y)} L${f(x - bw * 0.32)} ${f(top + size * 0.12)} L${f(x + bw * 0.32)} ${f(top + size * 0.12)} L${f(x + bw / 2)} ${f(y)} Z" fill="${body}"/>` +
        `<g fill="${hex(c.accent)}">${stripes}</g>` +
        `<rect x="${f(x - bw * 0.3)}" y="${f(top + size * 0.03)}" width="${f(bw * 0.6)}" height="${f(size * 0.09)}" fill="${c.lit ? light : hex(mix(c.body, WHITE, 0.5))}"/>` +
        `<path d="M${f(x - bw * 0.42)} ${f(top + size * 0.03)} L${f(x)} ${f(top - size * 0.05)} L${f(x + bw * 0.42)} ${f(top + size * 0.03)} Z" fill="${dark}"/>`
      );
    }
    case 'tower': {
      const bw = size * 0.2;
      const windows = [0.3, 0.55, 0.78].map((k) => `<rect x="${f(x - bw * 0.12)}" y="${f(y - size * k)}" width="${f(bw * 0.24)}" height="${f(size * 0.07)}"/>`).join('');
      return (
        `<rect x="${f(x - bw / 2)}" y="${f(y - size * 0.85)}" width="${f(bw)}" height="${f(size * 0.85 + 8 * s)}" fill="${body}"/>` +
        `<path d="M${f(x - bw * 0.65)} ${f(y - size * 0.85)} L${f(x)} ${f(y - size)} L${f(x + bw * 0.65)} ${f(y - size * 0.85)} Z" fill="${dark}"/>` +
        `<g fill="${c.lit ? light : dark}">${windows}</g>`
      );
    }
    case 'castle': {
      const cw = size * 0.7;
      const wallTop = y - size * 0.45;
      const merlons: string[] = [];
      for (let k = 0; k < 7; k++) merlons.push(`<rect x="${f(x - cw / 2 + (k * cw) / 7)}" y="${f(wallTop - size * 0.06)}" width="${f(cw / 14)}" height="${f(size * 0.06)}"/>`);
      const tower = (tx: number) =>
        `<rect x="${f(tx - size * 0.08)}" y="${f(y - size * 0.78)}" width="${f(size * 0.16)}" height="${f(size * 0.78)}"/><path d="M${f(tx - size * 0.11)} ${f(y - size * 0.78)} L${f(tx)} ${f(y - size)} L${f(tx + size * 0.11)} ${f(y - size * 0.78)} Z" fill="${dark}"/>`;
      return (
        `<g fill="${body}"><rect x="${f(x - cw / 2)}" y="${f(wallTop)}" width="${f(cw)}" height="${f(size * 0.45 + 8 * s)}"/>${merlons.join('')}${tower(x - cw / 2)}${tower(x + cw / 2)}</g>` +
        `<path d="M${f(x - size * 0.07)} ${f(y + 8 * s)}V${f(y - size * 0.16)}Q${f(x)} ${f(y - size * 0.24)} ${f(x + size * 0.07)} ${f(y - size * 0.16)}V${f(y + 8 * s)}Z" fill="${dark}"/>`
      );
    }
    case 'windmill': {
      const bw = size * 0.22;
      const hub: [number, number] = [x, y - size * 0.72];
      const blades = [0, 90, 180, 270].map((a) => `<rect x="${f(hub[0] - size * 0.03)}" y="${f(hub[1] - size * 0.42)}" width="${f(size * 0.06)}" height="${f(size * 0.42)}" transform="rotate(${a + 20} ${f(hub[0])} ${f(hub[1])})"/>`).join('');
      return (
        `<path d="M${f(x - bw / 2)} ${f(y + 6 * s)} L${f(x - bw * 0.3)} ${f(y - size * 0.7)} L${f(x + bw * 0.3)} ${f(y - size * 0.7)} L${f(x + bw / 2)} ${f(y + 6 * s)} Z" fill="${body}"/>` +
        `<g fill="${dark}">${blades}</g><circle cx="${f(hub[0])}" cy="${f(hub[1])}" r="${f(size * 0.04)}" fill="${dark}"/>`
      );
    }
    case 'rocket': {
      const rw = size * 0.16;
      return (
        `<path d="M${f(x - rw / 2)} ${f(y - size * 0.1)} L${f(x - rw / 2)} ${f(y - size * 0.7)} Q${f(x)} ${f(y - size * 1.05)} ${f(x + rw / 2)} ${f(y - size * 0.7)} L${f(x + rw / 2)} ${f(y - size * 0.1)} Z" fill="${body}"/>` +
        `<path d="M${f(x - rw / 2)} ${f(y - size * 0.3)} l${f(-rw * 0.5)} ${f(size * 0.28)} h${f(rw * 0.5)} Z M${f(x + rw / 2)} ${f(y - size * 0.3)} l${f(rw * 0.5)} ${f(size * 0.28)} h${f(-rw * 0.5)} Z" fill="${hex(c.accent)}"/>` +
        `<circle cx="${f(x)}" cy="${f(y - size * 0.62)}" r="${f(rw * 0.22)}" fill="${c.lit ? light : dark}"/>`
      );
    }
    case 'bridge': {
      const span = size * 1.6;
      return `<path d="M${f(x - span / 2)} ${f(y)} Q${f(x)} ${f(y - size * 0.5)} ${f(x + span / 2)} ${f(y)} L${f(x + span / 2)} ${f(y - size * 0.12)} Q${f(x)} ${f(y - size * 0.6)} ${f(x - span / 2)} ${f(y - size * 0.12)} Z" fill="${dark}"/>`;
    }
    case 'boat': {
      const bl = size * 0.5;
      const by = c.plan.setting === 'sea' || c.plan.setting === 'river' ? y + size * 0.15 : y;
      return (
        `<path d="M${f(x - bl / 2)} ${f(by - bl * 0.12)} L${f(x + bl / 2)} ${f(by - bl * 0.12)} L${f(x + bl * 0.36)} ${f(by + bl * 0.05)} L${f(x - bl * 0.36)} ${f(by + bl * 0.05)} Z" fill="${dark}"/>` +
        `<path d="M${f(x)} ${f(by - bl * 0.14)} V${f(by - bl * 0.9)} L${f(x + bl * 0.38)} ${f(by - bl * 0.2)} Z" fill="${body}"/>`
      );
    }
    case 'house':
    default: {
      const hw = size * 0.42;
      const wallTop = y - size * 0.38;
      return (
        `<rect x="${f(x - hw / 2)}" y="${f(wallTop)}" width="${f(hw)}" height="${f(size * 0.38 + 6 * s)}" fill="${body}"/>` +
        `<path d="M${f(x - hw * 0.62)} ${f(wallTop)} L${f(x)} ${f(y - size * 0.68)} L${f(x + hw * 0.62)} ${f(wallTop)} Z" fill="${hex(c.accent)}"/>` +
        `<rect x="${f(x + hw * 0.18)}" y="${f(y - size * 0.72)}" width="${f(hw * 0.12)}" height="${f(size * 0.16)}" fill="${dark}"/>` +
        `<rect x="${f(x - hw * 0.3)}" y="${f(wallTop + size * 0.08)}" width="${f(hw * 0.2)}" height="${f(size * 0.1)}" fill="${c.lit ? light : dark}"/>` +
        `<rect x="${f(x + hw * 0.06)}" y="${f(y - size * 0.2)}" width="${f(hw * 0.2)}" height="${f(size * 0.2 + 6 * s)}" fill="${dark}"/>`
      );
    }
  }
}

/** Inside: a wall, a floor, a window onto the time of day, furniture, the figures. */
function drawRoom(plan: ScenePlan, frame: SceneFrame, look: BookLook, rng: Rng, sky: { top: Rgb; mid: Rgb; low: Rgb }, defs: string[]): string {
  const { w, h, c1, c2 } = frame;
  const s = Math.min(w, h) / 1024;
  const night = plan.time === 'night';
  const parts: string[] = [];
  const floorY = Math.max(frame.clearTop + 0.2, plan.horizon + 0.1) * h;
  const palette = mix(c1, c2, (plan.shift + 1) / 2);
  const wall = mix(mix([196, 170, 140], palette, 0.45), night ? NIGHT : WHITE, night ? 0.35 : 0.1);
  const [floorA] = GROUND.room;
  const floor = mix(mix(floorA, palette, 0.25), INK, night ? 0.45 : 0.1);
  defs.push(`<linearGradient id="wall" x1="0" y1="0" x2="0" y2="1"><stop offset="0" stop-color="${hex(mix(wall, INK, 0.2))}"/><stop offset="1" stop-color="${hex(wall)}"/></linearGradient>`);
  parts.push(`<rect width="${w}" height="${f(floorY)}" fill="url(#wall)"/>`, `<rect y="${f(floorY)}" width="${w}" height="${f(h - floorY)}" fill="${hex(floor)}"/>`);
  const boards: string[] = [];
  for (let k = 1; k < 6; k++) boards.push(`M0 ${f(floorY + ((h - floorY) * k * k) / 36)}H${w}`);
  parts.push(`<path d="${boards.join('')}" stroke="${hex(mix(floor, INK, 0.3))}" stroke-width="${f(2 * s)}"/>`);

  // The window onto the sky of the hour.
  const side = (t: number) => (plan.mirror ? 1 - t : t) * w;
  const wx = side(0.7);
  const ww = 0.26 * w;
  const wtop = Math.max(frame.clearTop * h + 0.04 * h, floorY - 0.55 * h);
  const wh = Math.min(0.32 * h, floorY - wtop - 0.1 * h);
  parts.push(
    `<rect x="${f(wx - ww / 2)}" y="${f(wtop)}" width="${f(ww)}" height="${f(wh)}" fill="url(#sky)" stroke="${hex(mix(floor, INK, 0.2))}" stroke-width="${f(10 * s)}"/>`,
    `<path d="M${f(wx)} ${f(wtop)}V${f(wtop + wh)}M${f(wx - ww / 2)} ${f(wtop + wh / 2)}H${f(wx + ww / 2)}" stroke="${hex(mix(floor, INK, 0.2))}" stroke-width="${f(6 * s)}"/>`,
  );
  const orbR = 22 * s;
  parts.push(night ? `<circle cx="${f(wx + ww * 0.22)}" cy="${f(wtop + wh * 0.25)}" r="${f(orbR)}" fill="#fff8dc"/>` : `<circle cx="${f(wx - ww * 0.22)}" cy="${f(wtop + wh * 0.3)}" r="${f(orbR * 1.3)}" fill="#fff1c0"/>`);

  // A bookshelf in a library or study, else a table with a lamp or a bowl.
  const bx = side(0.18);
  if (/librar|study|book/i.test(plan.cues.join(' ')) || rng.chance(0.35)) {
    const bw = 0.24 * w;
    const bh = Math.min(0.5 * h, floorY - frame.clearTop * h - 0.04 * h);
    const shelves: string[] = [];
    const books: string[] = [];
    for (let k = 0; k < 4; k++) {
      const sy = floorY - bh + ((k + 1) * bh) / 4;
      shelves.push(`M${f(bx - bw / 2)} ${f(sy)}H${f(bx + bw / 2)}`);
      let x = bx - bw / 2 + 6 * s;
      while (x < bx + bw / 2 - 20 * s) {
        const bwid = rng.range(10, 22) * s;
        const bht = rng.range(0.6, 0.9) * (bh / 4);
        books.push(`<rect x="${f(x)}" y="${f(sy - bht)}" width="${f(bwid)}" height="${f(bht)}" fill="${hex(mix(rng.pick([c1, c2, [160, 60, 50] as Rgb, [60, 90, 140] as Rgb]), night ? NIGHT : WHITE, 0.2))}"/>`);
        x += bwid + 2 * s;
      }
    }
    parts.push(`<rect x="${f(bx - bw / 2)}" y="${f(floorY - bh)}" width="${f(bw)}" height="${f(bh)}" fill="${hex(mix(floor, INK, 0.35))}"/>`, books.join(''), `<path d="${shelves.join('')}" stroke="${hex(mix(floor, INK, 0.5))}" stroke-width="${f(6 * s)}"/>`);
  } else {
    const tw = 0.24 * w;
    const ty = floorY + 0.02 * h - 0.14 * h;
    parts.push(
      `<rect x="${f(bx - tw / 2)}" y="${f(ty)}" width="${f(tw)}" height="${f(12 * s)}" fill="${hex(mix(floor, INK, 0.3))}"/>`,
      `<path d="M${f(bx - tw * 0.4)} ${f(ty)}V${f(floorY + 0.02 * h)}M${f(bx + tw * 0.4)} ${f(ty)}V${f(floorY + 0.02 * h)}" stroke="${hex(mix(floor, INK, 0.3))}" stroke-width="${f(10 * s)}"/>`,
      `<path d="M${f(bx)} ${f(ty)}v${f(-50 * s)}M${f(bx - 22 * s)} ${f(ty - 50 * s)}h${f(44 * s)}l${f(-10 * s)} ${f(-26 * s)}h${f(-24 * s)}Z" stroke="${hex(INK)}" stroke-width="${f(3 * s)}" fill="${hex(mix(c2, WHITE, 0.3))}"/>`,
    );
    if (night) parts.push(`<circle cx="${f(bx)}" cy="${f(ty - 64 * s)}" r="${f(120 * s)}" fill="#ffd97a" fill-opacity="0.18"/>`);
  }

  const body = hex(night ? mix(INK, c1, 0.12) : mix(INK, c1, 0.25));
  const fh = 0.34 * h * (Math.min(w, h) / h);
  for (let k = 0; k < Math.max(1, plan.figures); k++) {
    const x = side(0.45 + k * 0.12);
    parts.push(drawFigure(x, floorY + 0.08 * h, fh * (k === 0 ? 1 : 0.85), body, k === 0 ? look : { hat: false, cape: false }, false));
  }
  if (plan.animals.includes('beast')) parts.push(drawBeast(side(0.45 + Math.max(1, plan.figures) * 0.12), floorY + 0.08 * h, fh * 0.35, body, plan.mirror));
  defs.push(`<radialGradient id="vignette" cx="0.5" cy="0.45" r="0.75"><stop offset="0.6" stop-color="#000" stop-opacity="0"/><stop offset="1" stop-color="#000" stop-opacity="${night ? 0.5 : 0.3}"/></radialGradient>`);
  parts.push(`<rect width="${w}" height="${h}" fill="url(#vignette)"/>`);
  return `<defs>${defs.join('')}</defs>${parts.join('')}`;
}
