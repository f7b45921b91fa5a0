// The engine's own era list: one source of truth, bundled at build time.
import eras from '../../core/eras.json';

export interface EraOption {
  id: string;
  name: string;
  mood: string;
  colors: string[];
  archetypes: Array<{ id: string; name: string; description: string }>;
}

export const ERAS: EraOption[] = eras as EraOption[];
